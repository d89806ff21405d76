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
	"github.com/gaitord/gaitord/internal/data"
	"github.com/gaitord/gaitord/internal/engine"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/train"
)

// loaded is a model ready to serve: the batch.Runner of the scheduler.
type loaded struct {
	m    *model.GLCNN
	q    *model.Int8 // m's int8 form with --precision int8, else nil
	net  infer.Net   // q, or m
	size gei.Size
	info api.ModelInfo
	fuse error // why the model cannot fuse a set (infer.CanFuse, infer.ErrFuseInt8); nil when it can
}

func (l *loaded) InputLen() int { return l.size.H * l.size.W }

func (l *loaded) Forward(x []float32, n int) (infer.Output, error) { return infer.Batch(l.net, x, n) }

// ForwardSet fuses s GEIs into one prediction: infer.Set, as `gaitord
// predict --fuse` runs it (fp32 only: the handler refuses a set when fuse
// says why not, before queueing it).
func (l *loaded) ForwardSet(x []float32, s int) (infer.Output, error) {
	if l.fuse != nil {
		return infer.Output{}, l.fuse
	}
	return infer.Set(l.m, x, s)
}

// Release frees the int8 form's packed weights and drops the references to
// the model; gotorch's finalizers free its tensors. The scheduler calls it
// on the libtorch thread.
func (l *loaded) Release() {
	if l.q != nil {
		l.q.Close()
	}
	l.m, l.q, l.net = nil, nil, nil
}

// load reads the checkpoint at path, builds the model on device (with
// precision int8, its int8 form too: train.Int8Stored, calibrated on the
// training split of the data the checkpoint's stored configuration names,
// as `gaitord predict --precision int8`; a checkpoint with no stored
// configuration, an export, is refused) and runs one warm-up forward pass;
// it must run on the scheduler's thread. The file is hashed and parsed from
// one open descriptor, so a checkpoint renamed over path meanwhile (training
// writes best.ckpt that way) cannot mix two files. A warm-up output that is
// not finite (NaN weights) refuses the file.
func load(path string, o Options) (*loaded, error) {
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
	m, err := model.FromWeights(st.Model, st.Weights, o.Device)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	l := &loaded{m: m, net: m, size: gei.Size{H: st.Model.InputH, W: st.Model.InputW}, fuse: infer.CanFuse(st.Model)}
	var cal *api.Calibration
	if o.Precision == infer.PrecisionInt8 {
		q, source, err := train.Int8Stored(m, st, path, data.Options{})
		if err != nil {
			return nil, fmt.Errorf("load %s: --precision int8: %w", path, err)
		}
		l.q, l.net, l.fuse = q, q, infer.ErrFuseInt8
		cal = &api.Calibration{Data: source, GEIs: q.Calibration().GEIs, Engine: infer.Int8Engine}
	}
	if err := l.warmUp(); err != nil {
		l.Release()
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	rt := engine.Describe()
	l.info = api.ModelInfo{
		InputHeight: l.size.H, InputWidth: l.size.W, K: st.Model.K, MinAge: st.Model.MinAge,
		Checkpoint: path, SHA256: hex.EncodeToString(h.Sum(nil)), Kind: st.Kind, Epoch: st.Epoch, Config: st.Config,
		Gaitord: rt.Gaitord, Libtorch: rt.Libtorch, Device: o.Device, Threads: rt.Threads, MaxBatch: o.MaxBatch,
		Precision: precisionName(o.Precision), Calibration: cal,
		LoadedAt: time.Now().UTC(), LoadSeconds: time.Since(t0).Seconds(),
	}
	return l, nil
}

// warmUp runs one forward pass of a black GEI; an output that is not finite
// (NaN weights) refuses the model.
func (l *loaded) warmUp() error {
	out, err := infer.Batch(l.net, make([]float32, l.InputLen()), 1)
	if err != nil {
		return fmt.Errorf("warm-up forward pass: %w", err)
	}
	for _, v := range append([]float64{out.PMale[0], out.Ordinal[0].Age}, out.P[0]...) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("warm-up forward pass gives %v: the weights are not finite", v)
		}
	}
	return nil
}

// precisionName is the precision /v1/model reports: "" is fp32.
func precisionName(p string) string {
	if p == "" {
		return infer.PrecisionFP32
	}
	return p
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
