package train

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/model"
)

// fakeGEI is a decoder that draws a different GEI-like image per path: a
// bright column of random width and level, so every GEI has its own output.
func fakeGEI(h, w int) func(string) ([]float32, error) {
	return func(path string) ([]float32, error) {
		f := fnv.New64a()
		f.Write([]byte(path))
		r := rand.New(rand.NewPCG(f.Sum64(), 2))
		img := make([]float32, h*w)
		x0, x1, top := r.IntN(w/2), w/2+r.IntN(w/2), r.IntN(h/3)
		level := 0.3 + 0.7*r.Float32()
		for y := top; y < h; y++ {
			for x := x0; x < x1; x++ {
				img[y*w+x] = level * r.Float32()
			}
		}
		return img, nil
	}
}

func TestGroupSubjects(t *testing.T) {
	s := func(subject string, age int, g api.Gender) dataset.Sample {
		return dataset.Sample{Path: subject, Subject: subject, Age: age, Gender: g}
	}
	samples := []dataset.Sample{s("b", 30, api.Male), s("a", 20, api.Female), s("b", 30, api.Male), s("b", 31, api.Male), s("a", 20, api.Female)}
	groups, err := GroupSubjects(samples)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		got = append(got, fmt.Sprintf("%s/%s/%d %v", g.Subject, g.Gender, g.Age, g.Indices))
	}
	want := []string{"a/female/20 [1 4]", "b/male/30 [0 2]", "b/male/31 [3]"}
	if !slices.Equal(got, want) {
		t.Fatalf("groups %q, want %q", got, want)
	}
	samples = append(samples, dataset.Sample{Path: "x.png", Age: 3})
	if _, err := GroupSubjects(samples); err == nil || !strings.Contains(err.Error(), "1 of 6 samples name no subject") {
		t.Fatalf("sample without subject: %v", err)
	}
}

// Each subject's record is the fusion of its GEIs: the float64 mean of
// their per-GEI P(age > k) from infer.Batch, decoded; with the subject's
// labels, the set size and no view. Groups are filled across batch borders
// (batch size 3, sets of 1, 2 and 4).
func TestPredictSubjectsFusesEachSubject(t *testing.T) {
	// libtorch from one OS thread, as gaitord's main goroutine; the thread,
	// which infer.GC marks as collecting, ends with the test (never
	// unlocked), so later tests start on unmarked threads.
	runtime.LockOSThread()
	cfg := model.Config{InputH: 64, InputW: 44, K: 20, MinAge: 10, Dropout: 0.5}
	m, err := model.New(cfg, 5, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	var samples []dataset.Sample
	add := func(subject string, n, age int, g api.Gender) {
		for i := range n {
			samples = append(samples, dataset.Sample{Path: subject + "/" + string(rune('a'+i)), Subject: subject, Age: age, Gender: g, View: "090"})
		}
	}
	add("s2", 4, 40, api.Male)
	add("s1", 1, 22, api.Female)
	add("s3", 2, 61, api.Female)
	decode := fakeGEI(cfg.InputH, cfg.InputW)
	preds, err := PredictSubjects(m, samples, dataset.LoaderOptions{BatchSize: 3, Workers: 2, H: cfg.InputH, W: cfg.InputW, Decode: decode})
	infer.GC()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		subject string
		n, age  int
		gender  api.Gender
	}{{"s1", 1, 22, api.Female}, {"s2", 4, 40, api.Male}, {"s3", 2, 61, api.Female}}
	if len(preds) != len(want) {
		t.Fatalf("%d records, want %d", len(preds), len(want))
	}
	for i, w := range want {
		p := preds[i]
		if p.Path != w.subject || p.Source != api.SourceFused || p.NInputs != w.n || p.TrueAge == nil || *p.TrueAge != w.age || p.TrueGender != w.gender || p.View != "" || p.PAgeGT != nil {
			t.Fatalf("record %d: %+v, want subject %s of %d GEIs, age %d, %s", i, p, w.subject, w.n, w.age, w.gender)
		}
		var imgs []float32
		for _, s := range samples {
			if s.Subject == w.subject {
				img, _ := decode(s.Path)
				imgs = append(imgs, img...)
			}
		}
		per, err := infer.Batch(m, imgs, w.n)
		infer.GC()
		if err != nil {
			t.Fatal(err)
		}
		mean := make([]float64, cfg.K)
		male := 0.0
		for j := range w.n {
			for k := range mean {
				mean[k] += per.P[j][k] / float64(w.n)
			}
			male += per.PMale[j] / float64(w.n)
		}
		d := metrics.Decode(mean, cfg.MinAge)
		if math.Abs(p.Age-d.Age) > 1e-4 || math.Abs(p.Interval[0]-d.Lo80) > 1e-3 || math.Abs(p.Interval[1]-d.Hi80) > 1e-3 || math.Abs(p.PMale-male) > 1e-6 || p.RankPairs != cfg.K-1 {
			t.Fatalf("subject %s: age %.5f [%.3f, %.3f] p_male %.6f, want the mean of its GEIs: %.5f [%.3f, %.3f] %.6f",
				w.subject, p.Age, p.Interval[0], p.Interval[1], p.PMale, d.Age, d.Lo80, d.Hi80, male)
		}
	}
	// the fusion is not the identity: s2's record differs from its first GEI's
	one, _ := decode(samples[0].Path)
	first, _ := infer.Batch(m, one, 1)
	infer.GC()
	if math.Abs(first.Ordinal[0].Age-preds[1].Age) < 1e-3 {
		t.Fatalf("s2's fused age %.4f equals its first GEI's %.4f: the GEIs are too alike for this test", preds[1].Age, first.Ordinal[0].Age)
	}
}
