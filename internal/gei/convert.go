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

// Stats counts what ConvertTree did.
type Stats struct {
	// GEIs is the number of GEI files written.
	GEIs int
	// FramesUsed is the number of silhouette frames averaged into GEIs.
	FramesUsed int
	// FramesSkipped is the number of empty (all-black) frames skipped in the
	// folders that gave a GEI.
	FramesSkipped int
	// Failed lists the subject folders that gave no GEI, sorted by Dir.
	Failed []FolderError
}

// FolderError is a silhouette folder that could not be converted.
type FolderError struct {
	// Dir is the silhouette folder.
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

// convertJob is one subject folder to turn into one GEI file.
type convertJob struct{ in, out string }

// convertResult is the outcome of one convertJob.
type convertResult struct {
	job           convertJob
	used, skipped int
	err           error
}

// ConvertTree converts an OU-MVLP silhouette tree
// silRoot/Silhouette_<view>-<seq>/<subject>/<frame>.png into the GEI layout
// geiRoot/GEI/<view>-<seq>/<subject>.png, one GEI per subject folder (built
// by LoadSilhouetteDir, written by WritePNG). Other entries of silRoot are
// ignored. Folders are converted by workers goroutines (runtime.NumCPU()
// if workers <= 0); progress, if not nil, is called after each folder with
// the number done and the total, from one goroutine at a time.
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
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	results := runJobs(jobs, size, workers)
	var st Stats
	done := 0
	for r := range results {
		done++
		if r.err != nil {
			st.Failed = append(st.Failed, FolderError{Dir: r.job.in, Err: r.err})
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
func listJobs(silRoot, geiRoot string) ([]convertJob, error) {
	entries, err := os.ReadDir(silRoot)
	if err != nil {
		return nil, fmt.Errorf("read silhouette tree %s: %w", silRoot, err)
	}
	var jobs []convertJob
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
				jobs = append(jobs, convertJob{
					in:  filepath.Join(viewDir, s.Name()),
					out: filepath.Join(geiRoot, "GEI", m[1], s.Name()+".png"),
				})
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("read silhouette tree %s: no Silhouette_<view>-<seq> folder", silRoot)
	}
	return jobs, nil
}

// runJobs converts jobs with workers goroutines; the channel closes when all are done.
func runJobs(jobs []convertJob, size Size, workers int) <-chan convertResult {
	in := make(chan convertJob)
	out := make(chan convertResult, workers)
	var wg sync.WaitGroup
	for range min(workers, max(len(jobs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range in {
				out <- convertOne(j, size)
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

// convertOne builds and writes one GEI.
func convertOne(j convertJob, size Size) convertResult {
	g, used, skipped, err := LoadSilhouetteDir(j.in, size)
	r := convertResult{job: j, used: used, skipped: skipped}
	if err != nil {
		r.err = err
		return r
	}
	if err := os.MkdirAll(filepath.Dir(j.out), 0o755); err != nil {
		r.err = fmt.Errorf("write GEI %s: %w", j.out, err)
		return r
	}
	r.err = WritePNG(j.out, g, size)
	return r
}
