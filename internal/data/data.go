// Package data opens the dataset an experiment configuration names and gives
// the one GEI decoder that training, evaluation and prediction share. It is
// the seam between config (what the user asked for) and dataset, synth and
// gei (how each format is read or made), so that the command line only
// presents results.
//
// The built-in synthetic dataset (data.format synthetic, data.root empty) is
// generated on first use into synth.CacheDir(synth.CacheBase(), options),
// keyed by every option that shapes it, and read as an OU-MVLP tree.
package data

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/synth"
)

// Options are where Open reports generating the synthetic dataset.
type Options struct {
	// Log receives one line when the synthetic dataset is generated; nil
	// for none.
	Log io.Writer
	// Progress, if not nil, is called as synthetic GEIs are written.
	Progress func(done, total int)
}

// Size is the GEI size of a configuration, model.input_height × input_width.
func Size(c config.Config) gei.Size {
	return gei.Size{H: c.Model.InputHeight, W: c.Model.InputWidth}
}

// SynthOptions are the synth.Options of the configuration's synthetic
// dataset (data.synth, at the model's input size); Root is left empty.
func SynthOptions(c config.Config) synth.Options {
	s := c.Data.Synth
	return synth.Options{Subjects: s.Subjects, Views: s.Views, Seed: s.Seed, MinAge: s.MinAge, MaxAge: s.MaxAge, Size: Size(c)}
}

// Open opens the dataset c.Data names: the synthetic one (generated into
// data.root, or into its cache folder when data.root is empty, unless it is
// already there), an OU-MVLP or OULP-Age root, or a manifest CSV. A missing
// data.root for the other formats, or an unknown format, is an error that
// says what to give.
func Open(c config.Config, o Options) (*dataset.Dataset, error) {
	d := c.Data
	switch d.Format {
	case "synthetic":
		root := d.Root
		so := SynthOptions(c)
		if root == "" {
			root = synth.CacheDir(synth.CacheBase(), so)
		}
		if err := synth.Ensure(root, so, o.Log, o.Progress); err != nil {
			return nil, err
		}
		return dataset.OpenOUMVLP(root, dataset.OUMVLPOptions{Labels: filepath.Join(root, "labels.csv"), Views: d.Views})
	case "oumvlp":
		if d.Root == "" {
			return nil, fmt.Errorf("data.root is empty: give --data DIR (the OU-MVLP root holding GEI/)")
		}
		return dataset.OpenOUMVLP(d.Root, dataset.OUMVLPOptions{Labels: d.Labels, Views: d.Views})
	case "oulp-age":
		if d.Root == "" {
			return nil, fmt.Errorf("data.root is empty: give --data DIR (the OULP-Age root holding GEI/)")
		}
		return dataset.OpenOULPAge(d.Root, dataset.OULPOptions{Labels: d.Labels})
	case "manifest":
		if d.Root == "" {
			return nil, fmt.Errorf("data.root is empty: give --data FILE.csv (a manifest with path,age,gender)")
		}
		return dataset.OpenManifest(d.Root, dataset.ManifestOptions{AllowOutside: d.AllowOutside})
	}
	return nil, fmt.Errorf("data.format %q: want synthetic, oumvlp, oulp-age or manifest", d.Format)
}

// Decoder is the GEI preprocessing of configuration c: gei.Load at the
// model's input size. Training, evaluation and prediction all use it.
func Decoder(c config.Config) func(string) ([]float32, error) {
	size := Size(c)
	return func(path string) ([]float32, error) { return gei.Load(path, size) }
}

// LoaderOptions are how evaluation, prediction over a dataset and int8
// calibration read c's GEIs: train.eval_batch_size (at least 1) per batch,
// data.workers and data.prefetch, at the model's input size, through
// Decoder(c).
func LoaderOptions(c config.Config) dataset.LoaderOptions {
	return dataset.LoaderOptions{
		BatchSize: max(c.Train.EvalBatchSize, 1), Workers: c.Data.Workers, Prefetch: c.Data.Prefetch,
		H: c.Model.InputHeight, W: c.Model.InputWidth, Decode: Decoder(c),
	}
}
