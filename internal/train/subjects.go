package train

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
)

// SubjectGroup is the set of samples one per-subject prediction fuses: the
// GEIs of one subject with one label (a subject labelled with two ages,
// as a longitudinal dataset may have, forms one group per age).
type SubjectGroup struct {
	Subject string
	Age     int
	Gender  api.Gender
	// Indices are the group's positions in the samples, in order.
	Indices []int
}

// GroupSubjects groups samples by (subject, age, gender), sorted by
// subject, then age, then gender. Every sample must name its subject (a
// manifest's subject column); otherwise the error counts those that do not.
func GroupSubjects(samples []dataset.Sample) ([]SubjectGroup, error) {
	type key struct {
		subject string
		age     int
		gender  api.Gender
	}
	at := map[key]int{}
	var groups []SubjectGroup
	missing := 0
	for i, s := range samples {
		if s.Subject == "" {
			missing++
			continue
		}
		k := key{s.Subject, s.Age, s.Gender}
		g, ok := at[k]
		if !ok {
			g = len(groups)
			at[k] = g
			groups = append(groups, SubjectGroup{Subject: s.Subject, Age: s.Age, Gender: s.Gender})
		}
		groups[g].Indices = append(groups[g].Indices, i)
	}
	if missing > 0 {
		return nil, fmt.Errorf("%d of %d samples name no subject (a manifest's subject column), so they cannot be grouped by person", missing, len(samples))
	}
	slices.SortFunc(groups, func(a, b SubjectGroup) int {
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		if a.Age != b.Age {
			return a.Age - b.Age
		}
		return strings.Compare(string(a.Gender), string(b.Gender))
	})
	return groups, nil
}

// PredictSubjects makes one fused prediction per subject group of samples
// (GroupSubjects): the group's GEIs, decoded by a Loader with o's batch
// size, workers, size and decoder (never shuffled or flipped), go through
// infer.Set together. Each record has Path and the subject's ID, Source
// api.SourceFused, NInputs the group's size, the group's true age and
// gender, and no view or p_age_gt (as Predict's records).
func PredictSubjects(m *model.GLCNN, samples []dataset.Sample, o dataset.LoaderOptions) ([]api.Prediction, error) {
	groups, err := GroupSubjects(samples)
	if err != nil {
		return nil, err
	}
	ordered := make([]dataset.Sample, 0, len(samples))
	for _, g := range groups {
		for _, i := range g.Indices {
			ordered = append(ordered, samples[i])
		}
	}
	o.Shuffle, o.Flip, o.DropLast, o.Shard, o.NumShards = false, false, false, 0, 0
	loader := dataset.NewLoader(ordered, o)
	if err := loader.Err(); err != nil {
		return nil, err
	}
	defer loader.Close()

	preds := make([]api.Prediction, 0, len(groups))
	hw := o.H * o.W
	every, calls := infer.GCEvery(m.Device()), 0
	var buf []float32
	g := 0 // the group being filled
	for b := range loader.Epoch(0) {
		if b.Err != nil {
			return nil, b.Err
		}
		for j := range b.Indices {
			buf = append(buf, b.Images[j*hw:(j+1)*hw]...)
			grp := groups[g]
			n := len(grp.Indices)
			if len(buf) < n*hw {
				continue
			}
			out, err := infer.Set(m, buf, n)
			if calls++; calls%every == 0 {
				infer.GC()
			}
			if err != nil {
				return nil, err
			}
			p := out.Record(0)
			p.Path, p.Source, p.NInputs, p.TrueAge, p.TrueGender = grp.Subject, api.SourceFused, n, api.Int(grp.Age), grp.Gender
			preds = append(preds, p)
			buf, g = buf[:0], g+1
		}
	}
	if g != len(groups) {
		return nil, fmt.Errorf("per-subject prediction: %d of %d subject groups predicted", g, len(groups))
	}
	return preds, nil
}
