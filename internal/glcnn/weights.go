package glcnn

import (
	"fmt"
	"slices"
	"strings"
)

// Weight is one parameter's values on the host, row-major float32.
type Weight struct {
	Shape []int64
	Data  []float32
}

// CheckWeights is PyTorch's load_state_dict(strict=True) and a little more:
// every parameter of c must be present with its shape and as many values as
// the shape holds, all finite, and no other name may appear. The error lists
// every problem on one line ("weights do not fit the model: missing
// conv.conv.bias (shape [128]); linear_age.weight has shape [90 1024], model
// (64×44, K=100) needs [100 1024]; unexpected extra.weight"). An invalid c
// gives Validate's error.
func (c Config) CheckWeights(w map[string]Weight) error { return c.check(w, true) }

// CheckShapes is CheckWeights on names and shapes alone: the values (Data)
// are not looked at, for a reader that checks the layout of tensors it does
// not read (checkpoint.LoadModel and a checkpoint's optimiser moments).
func (c Config) CheckShapes(w map[string]Weight) error { return c.check(w, false) }

func (c Config) check(w map[string]Weight, values bool) error {
	l, err := c.Layers()
	if err != nil {
		return err
	}
	var problems []string
	want := map[string]bool{}
	for _, s := range l.Specs() {
		want[s.Name] = true
		got, ok := w[s.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing %s (shape %v)", s.Name, s.Shape))
		case !slices.Equal(got.Shape, s.Shape):
			problems = append(problems, fmt.Sprintf("%s has shape %v, model (%s) needs %v", s.Name, got.Shape, c.brief(), s.Shape))
		case !values:
		case int64(len(got.Data)) != Numel(s.Shape):
			problems = append(problems, fmt.Sprintf("%s holds %d values for shape %v", s.Name, len(got.Data), s.Shape))
		default:
			if p := nonFinite(s.Name, got.Data); p != "" {
				problems = append(problems, p)
			}
		}
	}
	var extra []string
	for name := range w {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, n := range extra {
		problems = append(problems, "unexpected "+n)
	}
	if len(problems) > 0 {
		return fmt.Errorf("weights do not fit the model: %s", strings.Join(problems, "; "))
	}
	return nil
}

// brief names the configuration in an error: "64×44, K=100", and the loss
// type after it when not odl ("64×44, K=100, coral").
func (c Config) brief() string {
	s := fmt.Sprintf("%d×%d, K=%d", c.InputH, c.InputW, c.K)
	if t := c.LossType(); t != LossODL {
		s += ", " + string(t)
	}
	return s
}

// nonFinite describes the NaN and infinite values of one tensor, or returns "".
func nonFinite(name string, data []float32) string {
	n, first := 0, -1
	for i, v := range data {
		if v-v != 0 { // NaN − NaN and ±Inf − ±Inf are NaN; finite − itself is 0
			if n == 0 {
				first = i
			}
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%s holds %d non-finite values (first %v at index %d)", name, n, data[first], first)
}
