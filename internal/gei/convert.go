package gei

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"sync"
)

// Stats counts what ConvertTree or RunJobs did.
type Stats struct {
	// GEIs is the number of GEI files written.
	GEIs int
	// FramesUsed is the number of silhouette frames averaged into GEIs.
	FramesUsed int
	// FramesSkipped is the number of empty (all-black) frames skipped in the
	// folders that gave a GEI.
	FramesSkipped int
	// Failed lists the inputs (subject folders, pickles) that gave no GEI,
	// sorted by Dir.
	Failed []FolderError
}

// FolderError is a silhouette folder (or another job input) that could not
// be converted.
type FolderError struct {
	// Dir is the silhouette folder or input file.
	Dir string
	// Err says why.
	Err error
}

// Error returns the folder error's message.
func (e FolderError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e FolderError) Unwrap() error { return e.Err }

// silFolder matches an OU-MVLP silhouette folder name, e.g. Silhouette_030-01.
var silFolder = regexp.MustCompile(`^Silhouette_([0-9]{3}-[0-9]{2})$`)

// Job is one GEI to build from In (a silhouette folder, a pickle, …) and to
// write as the PNG Out.
type Job struct{ In, Out string }

// BuildFunc builds the GEI of one job's input: size.H*size.W values, the
// frames averaged and the frames skipped as empty.
type BuildFunc func(in string, size Size) (gei []float32, used, skipped int, err error)

// jobResult is the outcome of one Job.
type jobResult struct {
	job           Job
	used, skipped int
	err           error
}

// ConvertTree converts an OU-MVLP silhouette tree
// silRoot/Silhouette_<view>-<seq>/<subject>/<frame>.png into the GEI layout
// geiRoot/GEI/<view>-<seq>/<subject>.png, one GEI per subject folder (built
// by LoadSilhouetteDir, written by WritePNG). Other entries of silRoot are
// ignored. Folders are converted by RunJobs: workers goroutines
// (runtime.NumCPU() if workers <= 0); progress, if not nil, is called after
// each folder with the number done and the total, from one goroutine at a
// time.
//
// A folder that fails (unreadable frame, no usable frame, write error) is
// listed in Stats.Failed and the conversion goes on. The error is non-nil
// only if the size is unsupported, silRoot cannot be read or holds no
// Silhouette_<view>-<seq> folder.
func ConvertTree(silRoot, geiRoot string, size Size, workers int, progress func(done, total int)) (Stats, error) {
	size, err := size.resolve()
	if err != nil {
		return Stats{}, fmt.Errorf("convert %s: %w", silRoot, err)
	}
	jobs, err := listJobs(silRoot, geiRoot)
	if err != nil {
		return Stats{}, err
	}
	return RunJobs(jobs, size, workers, LoadSilhouetteDir, progress)
}

// RunJobs builds every job's GEI with build and writes it with WritePNG,
// creating the folders of Out, with workers goroutines (runtime.NumCPU() if
// workers <= 0). progress, if not nil, is called after each job with the
// number done and the total, from one goroutine at a time. A job that fails
// (build error, write error) is listed in Stats.Failed, sorted by Dir (the
// job's In), and the others go on. The error is non-nil only if the size is
// unsupported.
func RunJobs(jobs []Job, size Size, workers int, build BuildFunc, progress func(done, total int)) (Stats, error) {
	size, err := size.resolve()
	if err != nil {
		return Stats{}, err
	}
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	results := runJobs(jobs, size, workers, build)
	var st Stats
	done := 0
	for r := range results {
		done++
		if r.err != nil {
			st.Failed = append(st.Failed, FolderError{Dir: r.job.In, Err: r.err})
		} else {
			st.GEIs++
			st.FramesUsed += r.used
			st.FramesSkipped += r.skipped
		}
		if progress != nil {
			progress(done, len(jobs))
		}
	}
	sort.Slice(st.Failed, func(i, j int) bool { return st.Failed[i].Dir < st.Failed[j].Dir })
	return st, nil
}

// listJobs finds the subject folders of an OU-MVLP silhouette tree, sorted.
func listJobs(silRoot, geiRoot string) ([]Job, error) {
	entries, err := os.ReadDir(silRoot)
	if err != nil {
		return nil, fmt.Errorf("read silhouette tree %s: %w", silRoot, err)
	}
	var jobs []Job
	found := false
	for _, e := range entries {
		m := silFolder.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		found = true
		viewDir := filepath.Join(silRoot, e.Name())
		subjects, err := os.ReadDir(viewDir)
		if err != nil {
			return nil, fmt.Errorf("read silhouette folder %s: %w", viewDir, err)
		}
		for _, s := range subjects {
			if s.IsDir() {
				jobs = append(jobs, Job{
					In:  filepath.Join(viewDir, s.Name()),
					Out: filepath.Join(geiRoot, "GEI", m[1], s.Name()+".png"),
				})
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("read silhouette tree %s: no Silhouette_<view>-<seq> folder", silRoot)
	}
	return jobs, nil
}

// runJobs builds jobs with workers goroutines; the channel closes when all are done.
func runJobs(jobs []Job, size Size, workers int, build BuildFunc) <-chan jobResult {
	in := make(chan Job)
	out := make(chan jobResult, workers)
	var wg sync.WaitGroup
	for range min(workers, max(len(jobs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range in {
				out <- runJob(j, size, build)
			}
		}()
	}
	go func() {
		for _, j := range jobs {
			in <- j
		}
		close(in)
		wg.Wait()
		close(out)
	}()
	return out
}

// runJob builds and writes one GEI.
func runJob(j Job, size Size, build BuildFunc) jobResult {
	g, used, skipped, err := build(j.In, size)
	r := jobResult{job: j, used: used, skipped: skipped}
	if err != nil {
		r.err = err
		return r
	}
	if err := os.MkdirAll(filepath.Dir(j.Out), 0o755); err != nil {
		r.err = fmt.Errorf("write GEI %s: %w", j.Out, err)
		return r
	}
	r.err = WritePNG(j.Out, g, size)
	return r
}
