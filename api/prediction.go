package api

import (
	"encoding/json"
	"fmt"
)

// Schema is the version of the Prediction layout that this package writes
// and reads (see the package documentation for the versioning rule).
const Schema = "gaitord.prediction/v2"

// SchemaV1 is the previous layout, which this package still reads: a v1
// record is a v2 record whose age_interval80 is never null (v2 made it null
// for a model without a predictive distribution, loss type l1).
const SchemaV1 = "gaitord.prediction/v1"

// Values of Prediction.Source.
const (
	SourceGEI         = "gei"         // a GEI PNG
	SourceSilhouettes = "silhouettes" // a folder of silhouette frames of one walk
	SourceOpenGait    = "opengait"    // an OpenGait pickle of one walk
	SourceFused       = "fused"       // several GEIs of one person fused (NInputs)
	SourceVideo       = "video"       // a video
)

// Prediction is one age and gender prediction. The JSON layout is documented
// field by field in the package documentation; the Go fields carry the same
// names in Go spelling.
type Prediction struct {
	// Schema is the record's layout version. MarshalJSON writes Schema when
	// it is empty; UnmarshalJSON accepts "" (records that predate the field),
	// SchemaV1 or Schema and leaves it as read.
	Schema string `json:"schema"`
	// Path names the input the prediction is about.
	Path string `json:"path"`
	// Source says how Path was read: "gei", "silhouettes", "opengait" (an
	// OpenGait pickle of one walk), "fused" (several GEIs of one person
	// fused into one prediction, see NInputs) or "video".
	Source string `json:"source,omitempty"`

	// Age is the predicted age in years: the expected age MinAge + Σ_k
	// PAgeGT[k] of the model's distribution, or, for a model without one
	// (loss type l1), the regressed age. It lies in [MinAge, MinAge + K].
	Age float64 `json:"age"`
	// Median is the age at which the monotone predicted CDF crosses 0.5 (the
	// regressed age for l1, whose L1 loss fits a conditional median).
	Median float64 `json:"age_median"`
	// Interval is the 80% interval [lo, hi]: where the CDF crosses 0.1 and
	// 0.9, within [MinAge, MinAge + K]. Nil (JSON null) when the model
	// predicts no distribution (loss type l1).
	Interval *[2]float64 `json:"age_interval80"`
	// Gender is the predicted gender, GenderOf(PMale).
	Gender Gender `json:"gender"`
	// PMale is P(gender = male).
	PMale float64 `json:"p_male"`
	// PAgeGT are the K ordinal probabilities PAgeGT[k] = P(age > MinAge + k)
	// of the model's distribution (nil for l1).
	PAgeGT []float64 `json:"p_age_gt,omitempty"`

	// View is the camera view of a dataset sample, "" when unknown.
	View string `json:"view,omitempty"`
	// TrueAge is the labelled age of an evaluation record, nil when unknown.
	TrueAge *int `json:"true_age,omitempty"`
	// TrueGender is the labelled gender of an evaluation record.
	TrueGender Gender `json:"true_gender,omitempty"`
	// RankViolations counts adjacent ordinal outputs that increase
	// (PAgeGT[k+1] > PAgeGT[k]); RankPairs counts the pairs checked (K − 1).
	RankViolations int `json:"rank_violations,omitempty"`
	RankPairs      int `json:"rank_pairs,omitempty"`

	// Track numbers a person's track in a video, from 1; 0 outside video.
	Track int `json:"track,omitempty"`
	// Frames is the [first, last] frame range a video GEI was built from.
	Frames *[2]int `json:"frames,omitempty"`
	// Period is the gait period, in frames.
	Period float64 `json:"period,omitempty"`
	// Cycles counts the gait cycles averaged into a video GEI.
	Cycles int `json:"cycles,omitempty"`
	// ViewHint is the walking direction estimated from a video track.
	ViewHint string `json:"view_hint,omitempty"`

	// NInputs is the number of GEIs fused into a prediction of Source
	// "fused" (predict --fuse, eval --per-subject); 0 for a single GEI.
	NInputs int `json:"n_inputs,omitempty"`
}

// PGender is the probability of the predicted gender: PMale for Male,
// 1 − PMale otherwise.
func (p Prediction) PGender() float64 {
	if p.Gender == Male {
		return p.PMale
	}
	return 1 - p.PMale
}

// AgeError is Age − TrueAge; ok is false when the record has no TrueAge.
func (p Prediction) AgeError() (e float64, ok bool) {
	if p.TrueAge == nil {
		return 0, false
	}
	return p.Age - float64(*p.TrueAge), true
}

// Int returns a pointer to n, for TrueAge.
func Int(n int) *int { return &n }

// Interval80 returns a pointer to [lo, hi], for Interval.
func Interval80(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }

// plain is Prediction without its methods, for the JSON codecs below.
type plain Prediction

// MarshalJSON encodes p, with "schema" set to Schema when p.Schema is empty.
func (p Prediction) MarshalJSON() ([]byte, error) {
	if p.Schema == "" {
		p.Schema = Schema
	}
	return json.Marshal(plain(p))
}

// UnmarshalJSON decodes a record; a "schema" other than Schema, SchemaV1 (or
// absent) is an error, as is a gender other than "male", "female" or "".
func (p *Prediction) UnmarshalJSON(b []byte) error {
	var q plain
	if err := json.Unmarshal(b, &q); err != nil {
		return err
	}
	if q.Schema != "" && q.Schema != Schema && q.Schema != SchemaV1 {
		return fmt.Errorf("prediction record of schema %q: this reader knows %q and %q", q.Schema, Schema, SchemaV1)
	}
	*p = Prediction(q)
	return nil
}
