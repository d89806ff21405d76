package train

import (
	"fmt"

	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
)

// CalibrationGEIs is how many training GEIs int8 calibration observes.
const CalibrationGEIs = 256

// CalibrationSamples picks the calibration GEIs from a training split:
// CalibrationGEIs of them (all when fewer) at even strides through the
// split's order, so every part of it (subjects, views) is represented and
// the same split always gives the same picks.
func CalibrationSamples(train []dataset.Sample) []dataset.Sample {
	n := len(train)
	if n <= CalibrationGEIs {
		return train
	}
	out := make([]dataset.Sample, CalibrationGEIs)
	for i := range out {
		out[i] = train[i*n/CalibrationGEIs]
	}
	return out
}

// Int8 builds m's int8 form (infer.NewInt8), calibrated on
// CalibrationSamples(train) read with o (its batch size is the calibration
// batch). It reads the images first, then calibrates on the calling
// goroutine (the one that owns libtorch).
func Int8(m *model.GLCNN, train []dataset.Sample, o dataset.LoaderOptions) (*model.Int8, error) {
	picks := CalibrationSamples(train)
	if len(picks) == 0 {
		return nil, fmt.Errorf("int8 calibration: the training split has no GEIs")
	}
	c := m.Config()
	hw := c.InputH * c.InputW
	images := make([]float32, len(picks)*hw)
	loader := dataset.NewLoader(picks, o)
	defer loader.Close()
	for b := range loader.Epoch(0) {
		if b.Err != nil {
			return nil, fmt.Errorf("int8 calibration: %w", b.Err)
		}
		for j, idx := range b.Indices {
			copy(images[idx*hw:(idx+1)*hw], b.Images[j*hw:(j+1)*hw])
		}
	}
	return infer.NewInt8(m, images, len(picks), o.BatchSize)
}
