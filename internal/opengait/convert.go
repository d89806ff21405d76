package opengait

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/gei"
)

// ManifestName is the manifest ConvertTree writes in the manifest layout.
const ManifestName = "manifest.csv"

// ConvertOptions configures ConvertTree.
type ConvertOptions struct {
	// Size is the GEI size (the zero Size is gei.DefaultSize).
	Size gei.Size
	// Workers is the number of parallel conversions (<= 0: the number of CPUs).
	Workers int
	// Match is a filepath.Match pattern on file names choosing the
	// silhouette pickle of each sequence folder, for folders that also hold
	// other modalities (CASIA-B*: "*-aligned-sils.pkl"). Empty: every .pkl.
	// Exactly one file of a folder must match.
	Match string
	// Labels is a label file with OU-MVLP's schema (ID,gender,age). Given
	// together with Partition, it selects the manifest layout.
	Labels string
	// Partition is an OpenGait partition file: JSON with TRAIN_SET and
	// TEST_SET lists of subject folder names (other keys are ignored).
	Partition string
	// Progress, if not nil, is called after each sequence with the number
	// done and the total, from one goroutine at a time.
	Progress func(done, total int)
}

// Stats reports what ConvertTree did.
type Stats struct {
	gei.Stats
	// Format is the dataset format the output is read with: "oumvlp" or
	// "manifest".
	Format string
	// Data is what a training run reads (data.root, --data): the output
	// root (oumvlp) or its manifest (manifest).
	Data string
	// Rows is the number of manifest rows written (manifest layout).
	Rows int
	// Left lists, by reason (dataset.SkipNoLabel, dataset.SkipUnknownAge),
	// the converted sequences left out of the manifest (manifest layout).
	Left map[string]int
	// NoSplit is the number of manifest rows whose subject is in neither
	// list of the partition file (written with an empty split, which
	// training and evaluation do not use).
	NoSplit int
	// Ignored lists the tree's entries that do not fit the layout (see Tree).
	Ignored []string
}

// ConvertTree converts the OpenGait tree at root into GEIs under out, one
// GEI per sequence folder <subject>/<type>/<view> (LoadGEI of its
// silhouette pickle, see Match), written by gei.RunJobs. The layout depends
// on the options:
//
//   - Without Labels and Partition, the OU-MVLP layout that dataset.OpenOUMVLP
//     reads: out/GEI/<view>-<type>/<subject>.png. Every sequence must be in
//     OU-MVLP form (a 5-digit subject, type 00 or 01, an OU-MVLP view), as
//     OpenGait's OU-MVLP tree is; ages then come from a labels file given at
//     training time (out/labels.csv or data.labels) and the split is
//     OU-MVLP's age-estimation split.
//   - With Labels and Partition, any tree, in the manifest layout that
//     dataset.OpenManifest reads: out/GEI/<subject>/<type>/<view>.png and
//     out/manifest.csv (path,age,gender,subject,view,seq,split with seq the
//     OpenGait type). Subject folder names must be integers, the IDs of the
//     labels file ("001" is ID 1); the split comes from the partition file.
//     Sequences whose subject has no label row or an unknown age get a GEI
//     but no manifest row (counted in Stats.Left).
//
// A sequence that fails (no or several matching pickles, a refused or
// unreadable pickle, no usable frame, a write error) is listed in
// Stats.Failed with its folder and the conversion goes on. The error is
// non-nil, before anything is written, if the size or Match is invalid,
// the tree cannot be walked, Labels and Partition are not given together
// or cannot be read, or a sequence does not fit the chosen layout; and
// after the GEIs if the manifest cannot be written.
func ConvertTree(root, out string, o ConvertOptions) (Stats, error) {
	if err := o.Size.Validate(); err != nil {
		return Stats{}, fmt.Errorf("convert %s: %w", root, err)
	}
	if o.Match != "" {
		if _, err := filepath.Match(o.Match, ""); err != nil {
			return Stats{}, fmt.Errorf("convert %s: pickle name pattern %q: %w", root, o.Match, err)
		}
	}
	if (o.Labels == "") != (o.Partition == "") {
		return Stats{}, fmt.Errorf("convert %s: a labels file and a partition file go together (both select the manifest layout; neither, the OU-MVLP layout)", root)
	}
	tree, err := Walk(root)
	if err != nil {
		return Stats{}, err
	}
	seqs := sequences(tree.Pickles, o.Match)
	st := Stats{Ignored: tree.Ignored}
	var (
		labels map[int]dataset.SubjectLabel
		split  map[string]dataset.Split
	)
	if o.Labels == "" {
		st.Format, st.Data = "oumvlp", out
		for _, s := range seqs {
			if !dataset.IsOUMVLPSubject(s.Subject) || !slices.Contains(dataset.OUMVLPSeqs, s.Type) || !slices.Contains(dataset.OUMVLPViews, s.View) {
				return Stats{}, fmt.Errorf("convert %s: %s is not in OU-MVLP form <5-digit subject>/<%s>/<view %s>; give a labels file and an OpenGait partition file to write a manifest instead",
					root, s.dir, strings.Join(dataset.OUMVLPSeqs, "|"), strings.Join(dataset.OUMVLPViews, ","))
			}
		}
	} else {
		st.Format, st.Data = "manifest", filepath.Join(out, ManifestName)
		if labels, err = dataset.ReadSubjectLabels(o.Labels); err != nil {
			return Stats{}, fmt.Errorf("convert %s: %w", root, err)
		}
		if split, err = ReadPartition(o.Partition); err != nil {
			return Stats{}, fmt.Errorf("convert %s: %w", root, err)
		}
		for _, s := range seqs {
			if _, err := subjectID(s.Subject); err != nil {
				return Stats{}, fmt.Errorf("convert %s: %s: %w", root, s.dir, err)
			}
		}
	}

	jobs := make([]gei.Job, len(seqs))
	byDir := make(map[string]sequence, len(seqs))
	for i, s := range seqs {
		jobs[i] = gei.Job{In: s.dir, Out: s.outPath(out, st.Format)}
		byDir[s.dir] = s
	}
	build := func(dir string, size gei.Size) ([]float32, int, int, error) {
		s := byDir[dir]
		if s.err != nil {
			return nil, 0, 0, s.err
		}
		return LoadGEI(s.pickle, size)
	}
	st.Stats, err = gei.RunJobs(jobs, o.Size, o.Workers, build, o.Progress)
	if err != nil {
		return Stats{}, fmt.Errorf("convert %s: %w", root, err)
	}
	if st.Format == "oumvlp" {
		return st, nil
	}

	failed := make(map[string]bool, len(st.Failed))
	for _, f := range st.Failed {
		failed[f.Dir] = true
	}
	var rows []dataset.Sample
	for i, s := range seqs {
		if failed[s.dir] {
			continue
		}
		id, _ := subjectID(s.Subject)
		l, ok := labels[id]
		switch {
		case !ok:
			st.left(dataset.SkipNoLabel)
			continue
		case !l.AgeKnown:
			st.left(dataset.SkipUnknownAge)
			continue
		}
		sp := split[s.Subject]
		if sp == dataset.SplitNone {
			st.NoSplit++
		}
		rows = append(rows, dataset.Sample{
			Path: jobs[i].Out, Age: l.Age, Gender: l.Gender,
			Subject: s.Subject, View: s.View, Seq: s.Type, Split: sp,
		})
	}
	if err := dataset.WriteManifest(st.Data, rows); err != nil {
		return st, fmt.Errorf("convert %s: %w", root, err)
	}
	st.Rows = len(rows)
	return st, nil
}

// left counts a sequence left out of the manifest.
func (st *Stats) left(reason string) {
	if st.Left == nil {
		st.Left = make(map[string]int)
	}
	st.Left[reason]++
}

// sequence is one sequence folder of a tree and its silhouette pickle.
type sequence struct {
	Subject, Type, View string
	dir                 string
	pickle              string // the matching pickle, when err is nil
	err                 error  // no or several matching pickles
}

// outPath is the GEI file of s under out in the given layout.
func (s sequence) outPath(out, format string) string {
	if format == "oumvlp" {
		return filepath.Join(out, "GEI", s.View+"-"+s.Type, s.Subject+".png")
	}
	return filepath.Join(out, "GEI", s.Subject, s.Type, s.View+".png")
}

// sequences groups pickles (sorted as Walk sorts them) by folder and picks
// each folder's pickle matching pattern (every .pkl if empty). The result
// is sorted by dir.
func sequences(pickles []Pickle, pattern string) []sequence {
	var out []sequence
	var matches []string
	flush := func() {
		s := &out[len(out)-1]
		switch len(matches) {
		case 1:
			s.pickle = matches[0]
		case 0:
			s.err = fmt.Errorf("no pickle name matches %q", pattern)
		default:
			names := make([]string, len(matches))
			for i, m := range matches {
				names[i] = filepath.Base(m)
			}
			s.err = fmt.Errorf("%d pickles (%s): choose the silhouette one with a name pattern", len(matches), strings.Join(names, ", "))
		}
		matches = matches[:0]
	}
	for _, p := range pickles {
		if len(out) == 0 || out[len(out)-1].dir != p.Dir() {
			if len(out) > 0 {
				flush()
			}
			out = append(out, sequence{Subject: p.Subject, Type: p.Type, View: p.View, dir: p.Dir()})
		}
		if ok, _ := filepath.Match(pattern, filepath.Base(p.Path)); pattern == "" || ok {
			matches = append(matches, p.Path)
		}
	}
	if len(out) > 0 {
		flush()
	}
	slices.SortFunc(out, func(a, b sequence) int { return strings.Compare(a.dir, b.dir) })
	return out
}

// subjectID parses a subject folder name as a label-file ID: ASCII digits only.
func subjectID(s string) (int, error) {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("subject %q is not an integer, so no row of the labels file (integer IDs) can name it", s)
		}
	}
	id, err := strconv.Atoi(s)
	if err != nil || s == "" {
		return 0, fmt.Errorf("subject %q is not an integer ID", s)
	}
	return id, nil
}

// ReadPartition reads an OpenGait partition file (JSON with TRAIN_SET and
// TEST_SET lists of subject folder names; other keys such as PROBE_SET are
// ignored) and returns each listed subject's split. A subject in both lists
// is an error, as is a file without either list.
func ReadPartition(path string) (map[string]dataset.Split, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("partition: %w", err)
	}
	var p struct {
		Train *[]string `json:"TRAIN_SET"`
		Test  *[]string `json:"TEST_SET"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("partition %s: %s must be a list of subject names (strings)", path, te.Field)
		}
		return nil, fmt.Errorf("partition %s: %w", path, err)
	}
	if p.Train == nil || p.Test == nil {
		return nil, fmt.Errorf("partition %s: want both TRAIN_SET and TEST_SET lists", path)
	}
	out := make(map[string]dataset.Split, len(*p.Train)+len(*p.Test))
	for _, s := range *p.Train {
		out[s] = dataset.SplitTrain
	}
	for _, s := range *p.Test {
		if out[s] == dataset.SplitTrain {
			return nil, fmt.Errorf("partition %s: subject %q is in both TRAIN_SET and TEST_SET", path, s)
		}
		out[s] = dataset.SplitTest
	}
	return out, nil
}
