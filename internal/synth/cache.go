package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// CacheBase is the folder that holds generated datasets: $GAITORD_CACHE,
// else gaitord under the user's cache folder (~/.cache/gaitord), else
// gaitord-cache under the temporary folder.
func CacheBase() string {
	if base := os.Getenv("GAITORD_CACHE"); base != "" {
		return base
	}
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "gaitord")
	}
	return filepath.Join(os.TempDir(), "gaitord-cache")
}

// CacheDir is where the dataset of o lives under base: a folder named by a
// hash of every option that shapes the files (subjects, views, seed, ages,
// size; o.Root and o.Workers do not count), so different options never share
// a folder and the same options always find theirs.
func CacheDir(base string, o Options) string {
	key := fmt.Sprintf("v1 %d %v %d %d %d %dx%d", o.Subjects, o.Views, o.Seed, o.MinAge, o.MaxAge, o.Size.H, o.Size.W)
	h := sha256.Sum256([]byte(key))
	return filepath.Join(base, "synth-"+hex.EncodeToString(h[:6]))
}

// Ensure makes dir hold the dataset of o (o.Root is ignored) unless it is
// already complete there (dir/labels.csv exists: Generate writes it last).
// Generation goes to a temporary folder beside dir, renamed into place, so
// an interrupted run leaves no half dataset, and two processes racing to
// make the same dir both succeed. A line saying what is generated goes to
// log (if not nil); progress is passed to Generate.
func Ensure(dir string, o Options, log io.Writer, progress func(done, total int)) error {
	labels := filepath.Join(dir, "labels.csv")
	if _, err := os.Stat(labels); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("synthetic data cache %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".synth-tmp")
	if err != nil {
		return fmt.Errorf("synthetic data cache %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	if log != nil {
		fmt.Fprintf(log, "generating the synthetic dataset (%d subjects) into %s\n", o.Subjects, dir)
	}
	o.Root = tmp
	if _, err := Generate(o, progress); err != nil {
		return fmt.Errorf("generate synthetic data: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(labels); serr == nil {
			return nil // another process made it meanwhile
		}
		return fmt.Errorf("synthetic data cache %s: %w", dir, err)
	}
	return nil
}
