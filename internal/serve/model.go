package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/engine"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
)

// loaded is a model ready to serve: the batch.Runner of the scheduler.
type loaded struct {
	m    *model.GLCNN
	size gei.Size
	info api.ModelInfo
	fuse error // infer.CanFuse: nil when the model can fuse a set
}

func (l *loaded) InputLen() int { return l.size.H * l.size.W }

func (l *loaded) Forward(x []float32, n int) (infer.Output, error) { return infer.Batch(l.m, x, n) }

// ForwardSet fuses s GEIs into one prediction: infer.Set, as `gaitord
// predict --fuse` runs it.
func (l *loaded) ForwardSet(x []float32, s int) (infer.Output, error) { return infer.Set(l.m, x, s) }

// Release drops the reference to the model; gotorch's finalizers free its
// tensors.
func (l *loaded) Release() { l.m = nil }

// load reads the checkpoint at path, builds the model on device and runs one
// warm-up forward pass; it must run on the scheduler's thread. The file is
// hashed and parsed from one open descriptor, so a checkpoint renamed over
// path meanwhile (training writes best.ckpt that way) cannot mix two files.
// A warm-up output that is not finite (NaN weights) refuses the file.
func load(path, device string, maxBatch int) (*loaded, error) {
	t0 := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("load %s: not a regular file", path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	st, err := checkpoint.ReadModel(path, f, fi.Size()) // the Adam moments go unread
	if err != nil {
		return nil, err
	}
	m, err := model.FromWeights(st.Model, st.Weights, device)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	size := gei.Size{H: st.Model.InputH, W: st.Model.InputW}
	out, err := infer.Batch(m, make([]float32, size.H*size.W), 1)
	if err != nil {
		return nil, fmt.Errorf("load %s: warm-up forward pass: %w", path, err)
	}
	for _, v := range append([]float64{out.PMale[0], out.Ordinal[0].Age}, out.P[0]...) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("load %s: warm-up forward pass gives %v: the weights are not finite", path, v)
		}
	}
	rt := engine.Describe()
	info := api.ModelInfo{
		InputHeight: size.H, InputWidth: size.W, K: st.Model.K, MinAge: st.Model.MinAge,
		Checkpoint: path, SHA256: hex.EncodeToString(h.Sum(nil)), Kind: st.Kind, Epoch: st.Epoch, Config: st.Config,
		Gaitord: rt.Gaitord, Libtorch: rt.Libtorch, Device: device, Threads: rt.Threads, MaxBatch: maxBatch,
		LoadedAt: time.Now().UTC(), LoadSeconds: time.Since(t0).Seconds(),
	}
	return &loaded{m: m, size: size, info: info, fuse: infer.CanFuse(st.Model)}, nil
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
