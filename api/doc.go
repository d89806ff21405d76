// Package api holds gaitord's public records: the types a Go program outside
// this module imports to read what gaitord writes (and, later, to talk to
// `gaitord serve`). It depends on the standard library only, never on
// libtorch, so importing it costs a client nothing.
//
// # The prediction record
//
// Prediction is the one shape of a prediction everywhere: one line of
// `gaitord predict --json` (JSON Lines), one record of an evaluation (the
// rows of `eval --report`'s predictions.csv and predictions.jsonl), and the
// unit the prediction service and the video path return. Its JSON object is:
//
//	field            type          when       meaning
//	schema           string        always     "gaitord.prediction/v2" (see Schema)
//	path             string        always     the input: a GEI file, a folder of silhouette frames, an OpenGait pickle, a video; for a fused prediction the folder fused or the subject
//	source           string        optional   how path was read: "gei", "silhouettes", "opengait", "fused", "video"
//	age              number        always     age in years, in [min_age, min_age + K]: min_age + Σ_k p_age_gt[k] (l1: the regressed age)
//	age_median       number        always     where the monotone CDF P(age ≤ a) crosses 0.5 (l1: the regressed age)
//	age_interval80   [lo, hi]|null always     80% interval: where that CDF crosses 0.1 and 0.9; null for l1 (no distribution)
//	gender           string        always     "male" if p_male > 0.5, else "female"
//	p_male           number        always     P(gender = male), in [0, 1]
//	p_age_gt         [number]      optional   K ordinal probabilities, p_age_gt[k] = P(age > min_age + k)
//	view             string        optional   camera view of a dataset sample ("090")
//	true_age         integer       optional   the label's age, in evaluation records
//	true_gender      string        optional   the label's gender ("male"/"female"), in evaluation records
//	rank_violations  integer       optional   adjacent pairs with p_age_gt[k+1] > p_age_gt[k]
//	rank_pairs       integer       optional   adjacent pairs checked (K − 1)
//	track            integer       optional   video: the person's track number, from 1
//	frames           [first, last] optional   video: the frame range the GEI was built from
//	period           number        optional   video: the gait period, in frames
//	cycles           integer       optional   video: gait cycles averaged into the GEI
//	view_hint        string        optional   video: the walking direction as estimated from the track
//	n_inputs         integer       optional   fused: the number of GEIs fused into this prediction
//
// Optional fields are left out of the JSON when unset (Go's omitempty: zero
// numbers, empty strings, nil slices and pointers). Lines written by
// `gaitord predict --json` before the schema field existed carry the same
// fields without "schema"; they decode as v1.
//
// The model's loss type (docs/losses.md) decides how age, age_median,
// age_interval80 and p_age_gt are read off its output; every type but l1
// predicts a distribution over the ages min_age…min_age+K and gives all
// four. l1 regresses the age alone: age_median is that age,
// age_interval80 is null and p_age_gt is absent.
//
// # Versioning
//
// Schema names the layout, "gaitord.prediction/v<N>". Adding an optional
// field keeps the version; renaming, removing or re-typing a field, or
// changing a field's meaning, makes a new one. Decoding refuses a record of
// another version with an error naming both, rather than misreading it.
//
// v2 (the loss family) lets age_interval80 be null, for a model without a
// predictive distribution, and reads age and age_median by the model's loss
// type. Every v1 record is a valid v2 record, so this package reads both
// (SchemaV1) and writes v2.
//
// # Gender
//
// Gender is the one gender type of gaitord: dataset labels, the training
// targets, evaluation and the JSON record all use it. Its JSON and text form
// is "male", "female", or "" (unknown, the zero value; left out as
// true_gender). Gender.Class is the index of a gender among the model's two
// gender logits (female 0, male 1).
package api
