package infer

import (
	"errors"
	"fmt"

	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/quant"
	"github.com/gaitord/gaitord/internal/torchx"
)

// Int8Engine is the quantized engine int8 inference runs on: oneDNN, whose
// int8 convolutions use AVX2, AVX-512 VNNI or AMX where the CPU has them
// (Debian's libtorch 1.13 lists onednn and qnnpack; qnnpack, built for ARM,
// ran at 0.4× float32 here, bench/README.md).
const Int8Engine = "onednn"

// The precisions inference runs at: the values of --precision on eval,
// predict and serve.
const (
	PrecisionFP32 = "fp32"
	PrecisionInt8 = "int8"
)

// CheckPrecision refuses an unknown precision ("" is fp32), and int8 on a
// device other than the CPU, naming the flags.
func CheckPrecision(p, device string) error {
	switch p {
	case "", PrecisionFP32:
		return nil
	case PrecisionInt8:
		if device != "" && device != "cpu" {
			return fmt.Errorf("--precision int8 runs on the CPU; --device %s", device)
		}
		return nil
	}
	return fmt.Errorf("--precision %q: want fp32 or int8", p)
}

// ErrFuseInt8 refuses the set form (Set: `gaitord predict --fuse`, a "set"
// upload to `gaitord serve`) at int8: model.Int8 has no set form.
var ErrFuseInt8 = errors.New("--fuse runs in fp32 only; leave out --precision int8")

// Calibrate observes m's float32 layer outputs on n GEIs (images, n·H·W
// values, row-major) in batches of batch, for model.NewInt8. Like Batch it
// runs in evaluation mode under inference mode; it calls GC after each batch,
// so call it from the goroutine that owns libtorch (the main one).
func Calibrate(m *model.GLCNN, images []float32, n, batch int) (quant.Calibration, error) {
	c := m.Config()
	hw := c.InputH * c.InputW
	if n <= 0 || len(images) != n*hw {
		return quant.Calibration{}, fmt.Errorf("calibrate: %d values for %d GEIs of %d×%d", len(images), n, c.InputH, c.InputW)
	}
	if batch <= 0 {
		batch = 256
	}
	was := m.Training()
	m.Train(false)
	defer m.Train(was)
	var cal quant.Calibration
	for i := 0; i < n; i += batch {
		k := min(batch, n-i)
		err := torchx.Catch(func() {
			torchx.InferenceMode(func() {
				x := torchx.FromFloat32On(images[i*hw:(i+k)*hw], m.Device(), int64(k), 1, int64(c.InputH), int64(c.InputW))
				m.Observe(x, &cal)
			})
		})
		if err != nil {
			return quant.Calibration{}, fmt.Errorf("calibrate: %w", err)
		}
		GC()
	}
	return cal, nil
}

// NewInt8 calibrates m on the GEIs and builds its int8 form on Int8Engine.
func NewInt8(m *model.GLCNN, images []float32, n, batch int) (*model.Int8, error) {
	if err := torchx.SetQuantEngine(Int8Engine); err != nil {
		return nil, err
	}
	cal, err := Calibrate(m, images, n, batch)
	if err != nil {
		return nil, err
	}
	return model.NewInt8(m, cal)
}
