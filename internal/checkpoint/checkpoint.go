// Package checkpoint saves and loads gaitord's training state and exported
// weights. Both are safetensors files: the model's parameters under the
// seed's PyTorch names (so `load_state_dict(strict=True)` takes them, for the
// odl and ranking loss types, whose age head is the seed's linear_age), and,
// for a training checkpoint, Adam's moment estimates under
// "optim.exp_avg.<name>" and "optim.exp_avg_sq.<name>". The header's
// __metadata__ records the model configuration — input size, K, min_age,
// dropout and the loss type ("loss_type"; a file written before the loss
// family has none and loads as odl) — and, for checkpoints, the epoch, step,
// RNG state and the experiment's resolved configuration.
//
// Names, shapes and the model configuration's ranges are checked against
// internal/glcnn, the network's specification; the package needs no libtorch.
// Files are written atomically (temp file, fsync, rename): a crash leaves the
// previous file intact.
package checkpoint

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/safetensors"
	"github.com/gaitord/gaitord/internal/version"
)

// Kinds of file, recorded in the metadata key "gaitord.kind".
const (
	KindCheckpoint = "checkpoint"
	KindWeights    = "weights"
)

const (
	prefixExpAvg   = "optim.exp_avg."
	prefixExpAvgSq = "optim.exp_avg_sq."
)

// State is everything a checkpoint holds.
type State struct {
	Model    glcnn.Config
	Weights  map[string]glcnn.Weight
	ExpAvg   map[string]glcnn.Weight // Adam first moments; nil in an export
	ExpAvgSq map[string]glcnn.Weight // Adam second moments; nil in an export

	Epoch        int     // completed epochs
	BatchesDone  int     // batches of epoch Epoch+1 already trained (an interrupted epoch)
	WorldSize    int     // data-parallel workers that trained BatchesDone (1 for one process)
	Step         int64   // optimiser steps taken
	BestMAE      float64 // best validation MAE so far
	Seed         int64
	RNG          []byte  // libtorch's CPU generator state after Epoch
	Config       string  // the experiment's resolved configuration (YAML)
	TrainMeanAge float64 // mean age of the training split, for the baseline
	Kind         string  // KindCheckpoint or KindWeights (set by Load)
}

// ModelMetadata is the metadata that describes the model, shared by
// checkpoints and exports.
func ModelMetadata(c glcnn.Config) map[string]string {
	return map[string]string{
		"input_height":    strconv.Itoa(c.InputH),
		"input_width":     strconv.Itoa(c.InputW),
		"k":               strconv.Itoa(c.K),
		"min_age":         strconv.Itoa(c.MinAge),
		"dropout":         strconv.FormatFloat(c.Dropout, 'g', -1, 64),
		"loss_type":       string(c.LossType()),
		"gaitord.version": version.Version,
	}
}

// Save writes a training checkpoint (with optimiser state) to path.
func Save(path string, s *State) error {
	md := ModelMetadata(s.Model)
	md["gaitord.kind"] = KindCheckpoint
	md["gaitord.epoch"] = strconv.Itoa(s.Epoch)
	md["gaitord.step"] = strconv.FormatInt(s.Step, 10)
	md["gaitord.batches_done"] = strconv.Itoa(s.BatchesDone)
	md["gaitord.world_size"] = strconv.Itoa(max(s.WorldSize, 1))
	md["gaitord.best_mae"] = strconv.FormatFloat(s.BestMAE, 'g', -1, 64)
	md["gaitord.seed"] = strconv.FormatInt(s.Seed, 10)
	md["gaitord.rng"] = base64.StdEncoding.EncodeToString(s.RNG)
	md["gaitord.config"] = s.Config
	md["gaitord.train_mean_age"] = strconv.FormatFloat(s.TrainMeanAge, 'g', -1, 64)
	tensors := tensorsOf("", s.Weights)
	tensors = append(tensors, tensorsOf(prefixExpAvg, s.ExpAvg)...)
	tensors = append(tensors, tensorsOf(prefixExpAvgSq, s.ExpAvgSq)...)
	if err := safetensors.Write(path, tensors, md); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	return nil
}

// SaveWeights writes only the model's parameters and its configuration: the
// portable export, loadable into the seed's PyTorch network.
func SaveWeights(path string, c glcnn.Config, w map[string]glcnn.Weight, trainMeanAge float64) error {
	if err := c.CheckWeights(w); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	if err := atomicfile.Write(path, func(out io.Writer) error { return EncodeWeights(out, c, w, trainMeanAge) }); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	return nil
}

// EncodeWeights writes what SaveWeights writes to out (for a caller that
// writes the file itself, such as one of a set of files written together).
func EncodeWeights(out io.Writer, c glcnn.Config, w map[string]glcnn.Weight, trainMeanAge float64) error {
	if err := c.CheckWeights(w); err != nil {
		return err
	}
	md := ModelMetadata(c)
	md["gaitord.kind"] = KindWeights
	md["gaitord.train_mean_age"] = strconv.FormatFloat(trainMeanAge, 'g', -1, 64)
	return safetensors.Encode(out, tensorsOf("", w), md)
}

func tensorsOf(prefix string, w map[string]glcnn.Weight) []safetensors.Tensor {
	out := make([]safetensors.Tensor, 0, len(w))
	for _, name := range slices.Sorted(maps.Keys(w)) {
		out = append(out, safetensors.FromFloat32(prefix+name, w[name].Shape, w[name].Data))
	}
	return out
}

// Load reads a checkpoint or an exported weights file, checking every name,
// shape and dtype against the model configuration in its metadata. A plain
// safetensors file of the seed network (for example one saved from PyTorch)
// loads too when its metadata gives input_height and input_width, or when its
// shapes match the default 64×44 model.
func Load(path string) (*State, error) { return load(path, true) }

// LoadModel is Load for a caller that only runs the model (predict, eval,
// serve): the Adam moments of a training checkpoint — two thirds of its
// bytes — are not read (ExpAvg and ExpAvgSq stay nil). The header is still
// validated whole (every tensor's offsets within the file, no gaps or
// overlaps), the moments' names and shapes are still checked against the
// model, so a file Load refuses for its layout LoadModel refuses too; only
// the moments' values go unread. The file format is the same: nothing about
// how a checkpoint is written changes.
func LoadModel(path string) (*State, error) { return load(path, false) }

func load(path string, optim bool) (*State, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer f.Close()
	return read(path, f, optim)
}

// Read is Load on a file of size bytes read through r, for a caller that
// holds the file open itself (`gaitord serve` hashes and loads the same open
// file, so a checkpoint renamed over the path meanwhile cannot mix the two).
// name stands for the file in errors.
func Read(name string, r io.ReaderAt, size int64) (*State, error) { return readAt(name, r, size, true) }

// ReadModel is Read without the Adam moments, as LoadModel is Load.
func ReadModel(name string, r io.ReaderAt, size int64) (*State, error) {
	return readAt(name, r, size, false)
}

func readAt(name string, r io.ReaderAt, size int64, optim bool) (*State, error) {
	f, err := safetensors.ReadNamed(r, size, name)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	return read(name, f, optim)
}

// read decodes and checks the State held by f, the optimiser's moments only
// when optim is set; path names it in errors.
func read(path string, f *safetensors.File, optim bool) (*State, error) {
	var err error
	md := f.Metadata()
	s := &State{Kind: md["gaitord.kind"]}
	if s.Kind == "" {
		s.Kind = KindWeights
	}
	if s.Model, err = modelConfigFrom(md, f); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	s.Weights, s.ExpAvg, s.ExpAvgSq = map[string]glcnn.Weight{}, map[string]glcnn.Weight{}, map[string]glcnn.Weight{}
	// Without optim, the moments' shapes (from the header) still go through
	// glcnn's CheckShapes; their values are never read.
	for _, name := range f.Names() {
		dtype, shape, _ := f.Info(name)
		if dtype != "F32" {
			return nil, fmt.Errorf("load %s: tensor %s has dtype %s, want F32", path, name, dtype)
		}
		dst, key := s.Weights, name
		switch {
		case strings.HasPrefix(name, prefixExpAvgSq):
			dst, key = s.ExpAvgSq, strings.TrimPrefix(name, prefixExpAvgSq)
		case strings.HasPrefix(name, prefixExpAvg):
			dst, key = s.ExpAvg, strings.TrimPrefix(name, prefixExpAvg)
		}
		if !optim && name != key {
			dst[key] = glcnn.Weight{Shape: shape}
			continue
		}
		v, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		dst[key] = glcnn.Weight{Shape: shape, Data: v}
	}
	if err := s.Model.CheckWeights(s.Weights); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if s.Kind == KindCheckpoint {
		if err := parseCheckpointMeta(md, s); err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		for what, m := range map[string]map[string]glcnn.Weight{"exp_avg": s.ExpAvg, "exp_avg_sq": s.ExpAvgSq} {
			check := s.Model.CheckWeights
			if !optim {
				check = s.Model.CheckShapes
			}
			if err := check(m); err != nil {
				return nil, fmt.Errorf("load %s: optimiser %s: %w", path, what, err)
			}
		}
		if !optim {
			s.ExpAvg, s.ExpAvgSq = nil, nil
		}
	} else {
		s.ExpAvg, s.ExpAvgSq = nil, nil
		if v := md["gaitord.train_mean_age"]; v != "" {
			s.TrainMeanAge, _ = strconv.ParseFloat(v, 64)
		}
	}
	return s, nil
}

func modelConfigFrom(md map[string]string, f *safetensors.File) (glcnn.Config, error) {
	c := glcnn.DefaultConfig()
	// A file without a loss type predates the loss family: odl, whose head is
	// the seed's linear_age.
	lt, err := glcnn.ParseLossType(md["loss_type"])
	if err != nil {
		return c, fmt.Errorf("metadata loss_type: %w", err)
	}
	c.Loss = lt
	ints := map[string]*int{"input_height": &c.InputH, "input_width": &c.InputW, "k": &c.K, "min_age": &c.MinAge}
	for key, dst := range ints {
		v, ok := md[key]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("metadata %s = %q is not an integer", key, v)
		}
		*dst = n
	}
	if v, ok := md["dropout"]; ok {
		d, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return c, fmt.Errorf("metadata dropout = %q is not a number", v)
		}
		c.Dropout = d
	}
	if _, ok := md["k"]; !ok {
		// K from the age head's bias, when the metadata does not say (the
		// parameter names do not depend on K).
		l, err := c.Layers()
		if err != nil {
			return c, err
		}
		if t, err := f.Tensor(l.Age.Bias()); err == nil && len(t.Shape) == 1 {
			if k, ok := glcnn.KFromAgeBias(c.Loss, t.Shape[0]); ok {
				c.K = k
			}
		}
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("model in metadata: %w", err)
	}
	return c, nil
}

func parseCheckpointMeta(md map[string]string, s *State) error {
	var err error
	get := func(key string) string {
		v, ok := md[key]
		if !ok && err == nil {
			err = fmt.Errorf("checkpoint metadata lacks %s", key)
		}
		return v
	}
	epoch, step, best, seed, rng := get("gaitord.epoch"), get("gaitord.step"), get("gaitord.best_mae"), get("gaitord.seed"), get("gaitord.rng")
	s.Config = get("gaitord.config")
	if err != nil {
		return err
	}
	if s.Epoch, err = strconv.Atoi(epoch); err != nil || s.Epoch < 0 {
		return fmt.Errorf("checkpoint epoch %q invalid", epoch)
	}
	if v, ok := md["gaitord.batches_done"]; ok {
		if s.BatchesDone, err = strconv.Atoi(v); err != nil || s.BatchesDone < 0 {
			return fmt.Errorf("checkpoint batches_done %q invalid", v)
		}
	}
	s.WorldSize = 1 // checkpoints before data-parallel training
	if v, ok := md["gaitord.world_size"]; ok {
		if s.WorldSize, err = strconv.Atoi(v); err != nil || s.WorldSize < 1 || s.WorldSize > 1<<20 {
			return fmt.Errorf("checkpoint world_size %q invalid", v)
		}
	}
	if s.Step, err = strconv.ParseInt(step, 10, 64); err != nil || s.Step < 0 {
		return fmt.Errorf("checkpoint step %q invalid", step)
	}
	if s.BestMAE, err = strconv.ParseFloat(best, 64); err != nil {
		return fmt.Errorf("checkpoint best_mae %q invalid", best)
	}
	if s.Seed, err = strconv.ParseInt(seed, 10, 64); err != nil {
		return fmt.Errorf("checkpoint seed %q invalid", seed)
	}
	if s.RNG, err = base64.StdEncoding.DecodeString(rng); err != nil {
		return fmt.Errorf("checkpoint rng state invalid: %v", err)
	}
	if v := md["gaitord.train_mean_age"]; v != "" {
		s.TrainMeanAge, _ = strconv.ParseFloat(v, 64)
	}
	return nil
}

// MarshalSummary is a short JSON description of a state, for --verbose output.
func (s *State) MarshalSummary() string {
	b, _ := json.Marshal(map[string]any{"kind": s.Kind, "epoch": s.Epoch, "step": s.Step, "best_mae": s.BestMAE, "model": s.Model})
	return string(b)
}
