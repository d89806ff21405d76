package train

import (
	"fmt"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/data"
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

// Int8Data builds m's int8 form calibrated on the training split of ds, the
// data configuration c names (opened with data.Open), read with
// data.LoaderOptions(c): what `gaitord eval --precision int8` does with the
// data it evaluates. It ends Calibrate's loop of GC calls (infer.FinishGC),
// so call it on the goroutine that owns libtorch. The int8 model's
// Calibration says how many GEIs it observed.
func Int8Data(m *model.GLCNN, c config.Config, ds *dataset.Dataset) (*model.Int8, error) {
	q, err := Int8(m, ds.Split(dataset.SplitTrain), data.LoaderOptions(c))
	infer.FinishGC()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ds.Source, err)
	}
	return q, nil
}

// Int8Stored builds the int8 form of m, the model of checkpoint st read from
// ckpt, calibrated on the training split of the data st's stored
// configuration names (Int8Data; o says where data.Open reports generating
// a synthetic set), and returns that data's Source too: what `gaitord
// predict --precision int8` does, and `gaitord serve --precision int8` at
// every load. A checkpoint that stores no configuration (an export) is
// refused: the defaults would name the built-in synthetic set, and
// calibrating a real model on it would be silently wrong.
func Int8Stored(m *model.GLCNN, st *checkpoint.State, ckpt string, o data.Options) (q *model.Int8, source string, err error) {
	if st.Config == "" {
		return nil, "", fmt.Errorf("%s stores no configuration, so no training data to calibrate on (an export?): use the run's checkpoint", ckpt)
	}
	c, err := config.LoadBytes("stored in "+ckpt, []byte(st.Config), nil)
	if err != nil {
		return nil, "", err
	}
	c.Model.InputHeight, c.Model.InputWidth = st.Model.InputH, st.Model.InputW
	ds, err := data.Open(c, o)
	if err != nil {
		return nil, "", fmt.Errorf("calibration data of %s: %w", ckpt, err)
	}
	q, err = Int8Data(m, c, ds)
	return q, ds.Source, err
}
