package dataset

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gaitord/gaitord/api"
)

// Check decodes every sample of ds with decode, using workers goroutines
// (GOMAXPROCS if workers <= 0), and returns ds.Report (copied) followed by one
// problem per sample whose image cannot be decoded, is empty, contains NaN or
// infinite values, or has a length different from the most common length in
// the dataset. A panicking decode is reported as a problem too. Check does not
// remove samples from ds. progress, if not nil, is called from a single
// goroutine after each sample with done increasing from 1 to total.
func Check(ds *Dataset, decode func(string) ([]float32, error), workers int, progress func(done, total int)) Report {
	rep := ds.Report.clone()
	n := len(ds.Samples)
	if decode == nil {
		rep.problem(ds.Root, 0, "check: no decode function")
		return rep
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type result struct {
		i   int
		n   int
		err error
	}
	lengths := make([]int, n)
	errs := make([]error, n)
	jobs := make(chan int)
	results := make(chan result, workers)
	var wg sync.WaitGroup
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				img, err := safeDecode(decode, ds.Samples[i].Path)
				if err == nil {
					err = finiteErr(img)
				}
				results <- result{i, len(img), err}
			}
		}()
	}
	go func() {
		for i := range n {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	done := 0
	for r := range results {
		lengths[r.i], errs[r.i] = r.n, r.err
		done++
		if progress != nil {
			progress(done, n)
		}
	}

	// The expected length is the most common among decoded images (ties: smaller).
	count := make(map[int]int)
	for i, l := range lengths {
		if errs[i] == nil && l > 0 {
			count[l]++
		}
	}
	want, best := 0, 0
	for l, c := range count {
		if c > best || (c == best && l < want) {
			want, best = l, c
		}
	}
	for i, s := range ds.Samples {
		switch {
		case errs[i] != nil:
			rep.problem(s.Path, 0, "cannot decode: %v", errs[i])
		case lengths[i] == 0:
			rep.problem(s.Path, 0, "decoded image is empty")
		case lengths[i] != want:
			rep.problem(s.Path, 0, "decoded image has %d values, most images have %d", lengths[i], want)
		}
	}
	return rep
}

func finiteErr(img []float32) error {
	for i, v := range img {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("value %d is %v", i, v)
		}
	}
	return nil
}

// safeDecode calls decode, turning a panic into an error.
func safeDecode(decode func(string) ([]float32, error), path string) (img []float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("decode %s panicked: %v", path, r)
		}
	}()
	return decode(path)
}

// Split returns the samples of split s, in dataset order (a new slice).
func (d *Dataset) Split(s Split) []Sample {
	var out []Sample
	for _, x := range d.Samples {
		if x.Split == s {
			out = append(out, x)
		}
	}
	return out
}

// HoldOut splits samples by subject: round(fraction × subjects) subjects,
// chosen by a permutation seeded with seed, go to val, the others to train,
// so no subject is in both. Samples without Subject count as their own
// subject (keyed by Path). Both results keep the input order. The choice
// depends only on the set of subjects, not on the order of samples.
// fraction is clamped to [0, 1]; NaN counts as 0.
func HoldOut(samples []Sample, fraction float64, seed int64) (train, val []Sample) {
	if !(fraction > 0) {
		fraction = 0
	}
	fraction = min(fraction, 1)
	key := func(s Sample) string {
		if s.Subject == "" {
			return "\x00path:" + s.Path
		}
		return s.Subject
	}
	set := make(map[string]bool)
	for _, s := range samples {
		set[key(s)] = true
	}
	subjects := make([]string, 0, len(set))
	for k := range set {
		subjects = append(subjects, k)
	}
	slices.Sort(subjects)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x686f6c646f7574)) // "holdout"
	rng.Shuffle(len(subjects), func(i, j int) { subjects[i], subjects[j] = subjects[j], subjects[i] })
	nVal := int(math.Round(fraction * float64(len(subjects))))
	inVal := make(map[string]bool, nVal)
	for _, k := range subjects[:nVal] {
		inVal[k] = true
	}
	for _, s := range samples {
		if inVal[key(s)] {
			val = append(val, s)
		} else {
			train = append(train, s)
		}
	}
	return train, val
}

// AgeBins is the number of age histogram bins in Stats: 0–9, 10–19, …, 70–79, 80+.
const AgeBins = 9

// Stats summarises a dataset.
type Stats struct {
	// Samples is the number of samples.
	Samples int
	// Subjects is the number of distinct non-empty subjects.
	Subjects int
	// BySplit counts samples per split.
	BySplit map[Split]int
	// ByView counts samples per view ("" when unknown).
	ByView map[string]int
	// ByGender counts samples per gender.
	ByGender map[api.Gender]int
	// AgeHist counts samples per 10-year bin; the last bin is 80 and over.
	AgeHist [AgeBins]int
	// MinAge, MeanAge and MaxAge are over all samples (0 when there are none).
	MinAge  int
	MeanAge float64
	MaxAge  int
}

// Stats computes the dataset's statistics.
func (d *Dataset) Stats() Stats { return StatsOf(d.Samples) }

// StatsOf computes the statistics of any set of samples (a split, the part
// of a split held out for validation).
func StatsOf(samples []Sample) Stats {
	st := Stats{
		Samples:  len(samples),
		BySplit:  make(map[Split]int),
		ByView:   make(map[string]int),
		ByGender: make(map[api.Gender]int),
	}
	subjects := make(map[string]bool)
	sum := 0
	for i, s := range samples {
		st.BySplit[s.Split]++
		st.ByView[s.View]++
		st.ByGender[s.Gender]++
		if s.Subject != "" {
			subjects[s.Subject] = true
		}
		st.AgeHist[min(max(s.Age, 0)/10, AgeBins-1)]++
		if i == 0 || s.Age < st.MinAge {
			st.MinAge = s.Age
		}
		if i == 0 || s.Age > st.MaxAge {
			st.MaxAge = s.Age
		}
		sum += s.Age
	}
	st.Subjects = len(subjects)
	if st.Samples > 0 {
		st.MeanAge = float64(sum) / float64(st.Samples)
	}
	return st
}

// String renders the statistics as a multi-line text table.
func (st Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "samples   %8d\nsubjects  %8d\n", st.Samples, st.Subjects)
	fmt.Fprintf(&b, "age       min %d  mean %.2f  max %d\n", st.MinAge, st.MeanAge, st.MaxAge)
	pct := func(n int) float64 {
		if st.Samples == 0 {
			return 0
		}
		return 100 * float64(n) / float64(st.Samples)
	}
	b.WriteString("split\n")
	for _, k := range sortedKeys(st.BySplit, func(a, b Split) int { return cmp.Compare(a, b) }) {
		name := string(k)
		if name == "" {
			name = "(none)"
		}
		fmt.Fprintf(&b, "  %-8s %8d %6.1f%%\n", name, st.BySplit[k], pct(st.BySplit[k]))
	}
	b.WriteString("gender\n")
	for _, k := range sortedKeys(st.ByGender, func(a, b api.Gender) int { return cmp.Compare(a, b) }) {
		fmt.Fprintf(&b, "  %-8s %8d %6.1f%%\n", k, st.ByGender[k], pct(st.ByGender[k]))
	}
	b.WriteString("view\n")
	for _, k := range sortedKeys(st.ByView, strings.Compare) {
		name := k
		if name == "" {
			name = "(none)"
		}
		fmt.Fprintf(&b, "  %-8s %8d %6.1f%%\n", name, st.ByView[k], pct(st.ByView[k]))
	}
	b.WriteString("age\n")
	for i, n := range st.AgeHist {
		label := fmt.Sprintf("%d-%d", 10*i, 10*i+9)
		if i == AgeBins-1 {
			label = fmt.Sprintf("%d+", 10*i)
		}
		fmt.Fprintf(&b, "  %-8s %8d %6.1f%%\n", label, n, pct(n))
	}
	return b.String()
}

// Brief renders the statistics on one line: samples, subjects, the age
// range and mean, and the gender balance, e.g.
// "2400 GEIs, 300 subjects, ages 2–80 (mean 41.2), 1210 male (50.4%), 1190 female (49.6%)".
// Unknown genders are counted only when there are some.
func (st Stats) Brief() string {
	if st.Samples == 0 {
		return "no GEIs"
	}
	count := func(n int, noun string) string {
		if n == 1 {
			return "1 " + noun
		}
		return fmt.Sprintf("%d %ss", n, noun)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s, ages %d–%d (mean %.1f)", count(st.Samples, "GEI"), count(st.Subjects, "subject"), st.MinAge, st.MaxAge, st.MeanAge)
	for _, g := range []api.Gender{api.Male, api.Female, api.GenderUnknown} {
		n := st.ByGender[g]
		if n == 0 && g == api.GenderUnknown {
			continue
		}
		fmt.Fprintf(&b, ", %d %s (%.1f%%)", n, g, 100*float64(n)/float64(st.Samples))
	}
	return b.String()
}

func sortedKeys[K comparable, V any](m map[K]V, c func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, c)
	return keys
}
