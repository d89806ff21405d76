// Package config loads gaitord's experiment configuration: one YAML file
// that fully describes an experiment (model, optimiser, schedule, losses,
// training, data), merged over defaults, then GAITORD_* environment
// variables, then --set key=value overrides, in that order of precedence.
// Unknown keys and wrongly typed values are errors that name the key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Config is one experiment.
type Config struct {
	Model    Model    `mapstructure:"model" yaml:"model"`
	Optim    Optim    `mapstructure:"optim" yaml:"optim"`
	Schedule Schedule `mapstructure:"schedule" yaml:"schedule"`
	Loss     Loss     `mapstructure:"loss" yaml:"loss"`
	Train    Train    `mapstructure:"train" yaml:"train"`
	Data     Data     `mapstructure:"data" yaml:"data"`
}

// Model is the network's shape.
type Model struct {
	InputHeight int     `mapstructure:"input_height" yaml:"input_height"` // GEI height: 64 or 128
	InputWidth  int     `mapstructure:"input_width" yaml:"input_width"`   // GEI width: 44 or 88
	K           int     `mapstructure:"k" yaml:"k"`                       // ordinal tasks "age > min_age + k"
	MinAge      int     `mapstructure:"min_age" yaml:"min_age"`           // age of the first threshold
	Dropout     float64 `mapstructure:"dropout" yaml:"dropout"`           // after the hidden linear layers, training only
}

// Optim is the Adam optimiser.
type Optim struct {
	Name        string     `mapstructure:"name" yaml:"name"` // "adam"
	LR          float64    `mapstructure:"lr" yaml:"lr"`
	Betas       [2]float64 `mapstructure:"betas" yaml:"betas,flow"`
	WeightDecay float64    `mapstructure:"weight_decay" yaml:"weight_decay"`
}

// Schedule is the per-epoch learning-rate schedule.
type Schedule struct {
	Type         string  `mapstructure:"type" yaml:"type"`               // none, step or cosine
	StepEpochs   int     `mapstructure:"step_epochs" yaml:"step_epochs"` // step: decay every step_epochs epochs
	Gamma        float64 `mapstructure:"gamma" yaml:"gamma"`             // step: decay factor
	WarmupEpochs int     `mapstructure:"warmup_epochs" yaml:"warmup_epochs"`
}

// Loss weights the objective ranking + λ·ODL + μ·gender.
type Loss struct {
	Lambda float64 `mapstructure:"lambda" yaml:"lambda"`
	Mu     float64 `mapstructure:"mu" yaml:"mu"`
}

// Train are the run's settings.
type Train struct {
	BatchSize     int     `mapstructure:"batch_size" yaml:"batch_size"`
	Epochs        int     `mapstructure:"epochs" yaml:"epochs"`
	Seed          int64   `mapstructure:"seed" yaml:"seed"`
	ValFraction   float64 `mapstructure:"val_fraction" yaml:"val_fraction"` // subjects held out of the train split
	EvalBatchSize int     `mapstructure:"eval_batch_size" yaml:"eval_batch_size"`
	Threads       int     `mapstructure:"threads" yaml:"threads"` // 0 = all cores
	Device        string  `mapstructure:"device" yaml:"device"`   // cpu, cuda, cuda:N
}

// Data says where the GEIs are and how to feed them.
type Data struct {
	Root         string    `mapstructure:"root" yaml:"root"`     // dataset root or manifest CSV; "" = built-in synthetic
	Format       string    `mapstructure:"format" yaml:"format"` // synthetic, oumvlp, oulp-age, manifest
	Labels       string    `mapstructure:"labels" yaml:"labels"` // label file (format default if empty)
	Views        []string  `mapstructure:"views" yaml:"views,flow"`
	Workers      int       `mapstructure:"workers" yaml:"workers"` // decoding goroutines; 0 = cores
	Prefetch     int       `mapstructure:"prefetch" yaml:"prefetch"`
	Flip         bool      `mapstructure:"flip" yaml:"flip"`
	AllowOutside bool      `mapstructure:"allow_outside_root" yaml:"allow_outside_root"`
	Synth        SynthData `mapstructure:"synth" yaml:"synth"`
}

// SynthData shapes the built-in synthetic dataset.
type SynthData struct {
	Subjects int   `mapstructure:"subjects" yaml:"subjects"`
	Views    []int `mapstructure:"views" yaml:"views,flow"`
	Seed     int64 `mapstructure:"seed" yaml:"seed"`
	MinAge   int   `mapstructure:"min_age" yaml:"min_age"`
	MaxAge   int   `mapstructure:"max_age" yaml:"max_age"`
}

// Default is the configuration every file is merged over.
func Default() Config {
	return Config{
		Model:    Model{InputHeight: 64, InputWidth: 44, K: 100, MinAge: 0, Dropout: 0.5},
		Optim:    Optim{Name: "adam", LR: 1e-4, Betas: [2]float64{0.9, 0.999}},
		Schedule: Schedule{Type: "step", StepEpochs: 30, Gamma: 0.1},
		Loss:     Loss{Lambda: 1, Mu: 1},
		Train:    Train{BatchSize: 64, Epochs: 40, Seed: 1, ValFraction: 0.1, EvalBatchSize: 256, Device: "cpu"},
		Data: Data{Format: "synthetic", Prefetch: 4,
			Synth: SynthData{Subjects: 400, Views: []int{0, 30, 60, 90}, Seed: 1, MinAge: 2, MaxAge: 80}},
	}
}

// toMap renders a Config as nested maps keyed like the YAML.
func toMap(c Config) map[string]any {
	b, _ := yaml.Marshal(c)
	var m map[string]any
	_ = yaml.Unmarshal(b, &m)
	return m
}

// Keys lists every dotted key ("train.batch_size", …), sorted.
func Keys() []string {
	var keys []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			keys = append(keys, prefix+k)
		}
	}
	walk("", toMap(Default()))
	sort.Strings(keys)
	return keys
}

var unusedKey = regexp.MustCompile(`has invalid keys: (.*)`)

// Load reads path (an empty path means defaults only), applies GAITORD_*
// environment variables (GAITORD_TRAIN_BATCH_SIZE → train.batch_size) and
// the key=value overrides in sets, decodes strictly and validates.
func Load(path string, sets []string) (Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.MergeConfigMap(toMap(Default())); err != nil {
		return Config{}, err
	}
	where := "defaults"
	if path != "" {
		where = path
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, unwrapPath(err))
		}
		var probe map[string]any
		if err := yaml.Unmarshal(data, &probe); err != nil {
			return Config{}, fmt.Errorf("config %s: not valid YAML: %s", path, oneLine(err.Error()))
		}
		if err := checkKeys(path, "", probe, toMap(Default())); err != nil {
			return Config{}, err
		}
		if err := v.MergeConfig(bytes.NewReader(data)); err != nil {
			return Config{}, fmt.Errorf("config %s: %s", path, oneLine(err.Error()))
		}
	}
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k] = true
		env := "GAITORD_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		if val, ok := os.LookupEnv(env); ok {
			if err := setKey(v, k, val); err != nil {
				return Config{}, fmt.Errorf("environment %s: %w", env, err)
			}
		}
	}
	for _, s := range sets {
		k, val, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return Config{}, fmt.Errorf("--set %q: want key=value", s)
		}
		if !known[k] {
			return Config{}, fmt.Errorf("--set %s: unknown key %q (known: %s)", s, k, strings.Join(Keys(), ", "))
		}
		if err := setKey(v, k, strings.TrimSpace(val)); err != nil {
			return Config{}, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	var c Config
	dc := &mapstructure.DecoderConfig{
		Result: &c, ErrorUnused: true, WeaklyTypedInput: false, TagName: "mapstructure",
		DecodeHook: mapstructure.ComposeDecodeHookFunc(numberHook, sliceHook),
	}
	dec, err := mapstructure.NewDecoder(dc)
	if err != nil {
		return Config{}, err
	}
	if err := dec.Decode(v.AllSettings()); err != nil {
		return Config{}, fmt.Errorf("config %s: %s", where, decodeMessage(err))
	}
	c.Data.Views = normalizeViews(c.Data.Views)
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", where, err)
	}
	return c, nil
}

// checkKeys reports the first key of the file that the schema lacks.
func checkKeys(path, prefix string, got, schema map[string]any) error {
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		want, ok := schema[k]
		if !ok {
			return fmt.Errorf("config %s: unknown key %q", path, prefix+k)
		}
		sub, isMap := got[k].(map[string]any)
		wantSub, wantMap := want.(map[string]any)
		switch {
		case isMap && wantMap:
			if err := checkKeys(path, prefix+k+".", sub, wantSub); err != nil {
				return err
			}
		case wantMap && got[k] != nil:
			return fmt.Errorf("config %s: key %q must be a section (a mapping), not %v", path, prefix+k, got[k])
		}
	}
	return nil
}

// setKey parses a --set or environment value with YAML (so 1e-4, true,
// [1, 2] work) and, for list keys, also accepts "a,b,c".
func setKey(v *viper.Viper, key, val string) error {
	var parsed any
	if err := yaml.Unmarshal([]byte(val), &parsed); err != nil {
		parsed = val
	}
	if isList(key) {
		if _, ok := parsed.([]any); !ok {
			var items []any
			for _, part := range strings.Split(val, ",") {
				part = strings.TrimSpace(part)
				if part == "" {
					continue
				}
				var x any = part
				if key != "data.views" {
					if err := yaml.Unmarshal([]byte(part), &x); err != nil {
						x = part
					}
				}
				items = append(items, x)
			}
			parsed = items
		}
	}
	v.Set(key, parsed)
	return nil
}

// normalizeViews writes numeric views with three digits, as OU-MVLP's folder
// names do, so that an unquoted YAML 090 (read as the number 90) still
// names the folder "090".
func normalizeViews(views []string) []string {
	for i, v := range views {
		n := 0
		digits := v != ""
		for _, r := range v {
			if r < '0' || r > '9' {
				digits = false
				break
			}
			n = n*10 + int(r-'0')
		}
		if digits && n < 1000 {
			views[i] = fmt.Sprintf("%03d", n)
		}
	}
	return views
}

func isList(key string) bool {
	return key == "data.views" || key == "data.synth.views" || key == "optim.betas"
}

// numberHook converts between YAML's number kinds where no precision is lost
// (an int where a float is wanted, 3.0 where an int is wanted) and refuses
// strings for numbers.
func numberHook(from, to reflect.Type, data any) (any, error) {
	switch to.Kind() {
	case reflect.Float64:
		switch x := data.(type) {
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case uint64:
			return float64(x), nil
		}
	case reflect.Int, reflect.Int64:
		if f, ok := data.(float64); ok {
			if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, fmt.Errorf("%v is not an integer", f)
			}
			return int64(f), nil
		}
	case reflect.String:
		switch data.(type) {
		case string:
		case int, int64, float64, bool:
			// views like 090 arrive as numbers when unquoted
			if to.Kind() == reflect.String {
				return fmt.Sprint(data), nil
			}
		}
	}
	return data, nil
}

// sliceHook lets a single view be given without brackets.
func sliceHook(from, to reflect.Type, data any) (any, error) {
	if to.Kind() == reflect.Slice && from.Kind() != reflect.Slice && data != nil {
		if s, ok := data.(string); ok && s == "" {
			return []any{}, nil
		}
		return []any{data}, nil
	}
	return data, nil
}

func decodeMessage(err error) string {
	msg := oneLine(err.Error())
	if m := unusedKey.FindStringSubmatch(msg); m != nil {
		return "unknown key(s) " + m[1]
	}
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		return fmt.Sprintf("key %q: %s", de.Name(), oneLine(de.Unwrap().Error()))
	}
	return strings.TrimPrefix(msg, "decoding failed due to the following error(s): ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var deviceRE = regexp.MustCompile(`^(cpu|cuda|cuda:[0-9]+)$`)

// Validate checks every value's range; each error names its key.
func (c Config) Validate() error {
	bad := func(key string, format string, a ...any) error {
		return fmt.Errorf("key %s: %s", key, fmt.Sprintf(format, a...))
	}
	m := c.Model
	if !(m.InputHeight == 64 && m.InputWidth == 44) && !(m.InputHeight == 128 && m.InputWidth == 88) {
		return bad("model.input_height/input_width", "%d×%d not supported; supported: 64×44, 128×88", m.InputHeight, m.InputWidth)
	}
	if m.K < 2 || m.K > 1000 {
		return bad("model.k", "%d: want 2…1000 ordinal tasks", m.K)
	}
	if m.MinAge < 0 || m.MinAge > 120 {
		return bad("model.min_age", "%d: want 0…120", m.MinAge)
	}
	if !(m.Dropout >= 0 && m.Dropout < 1) {
		return bad("model.dropout", "%v: want [0, 1)", m.Dropout)
	}
	o := c.Optim
	if o.Name != "adam" {
		return bad("optim.name", "%q: only adam is supported", o.Name)
	}
	if !(o.LR > 0) || math.IsInf(o.LR, 0) {
		return bad("optim.lr", "%v: must be positive and finite", o.LR)
	}
	for i, b := range o.Betas {
		if !(b >= 0 && b < 1) {
			return bad("optim.betas", "betas[%d] = %v: want [0, 1)", i, b)
		}
	}
	if !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0) {
		return bad("optim.weight_decay", "%v: must be ≥ 0", o.WeightDecay)
	}
	s := c.Schedule
	switch s.Type {
	case "none", "cosine":
	case "step":
		if s.StepEpochs < 1 {
			return bad("schedule.step_epochs", "%d: must be ≥ 1 for a step schedule", s.StepEpochs)
		}
		if !(s.Gamma > 0 && s.Gamma <= 1) {
			return bad("schedule.gamma", "%v: want (0, 1]", s.Gamma)
		}
	default:
		return bad("schedule.type", "%q: want none, step or cosine", s.Type)
	}
	if s.WarmupEpochs < 0 {
		return bad("schedule.warmup_epochs", "%d: must be ≥ 0", s.WarmupEpochs)
	}
	if !(c.Loss.Lambda >= 0) || math.IsInf(c.Loss.Lambda, 0) {
		return bad("loss.lambda", "%v: must be ≥ 0", c.Loss.Lambda)
	}
	if !(c.Loss.Mu >= 0) || math.IsInf(c.Loss.Mu, 0) {
		return bad("loss.mu", "%v: must be ≥ 0", c.Loss.Mu)
	}
	t := c.Train
	if t.BatchSize < 1 {
		return bad("train.batch_size", "%d: must be ≥ 1", t.BatchSize)
	}
	if t.Epochs < 1 {
		return bad("train.epochs", "%d: must be ≥ 1", t.Epochs)
	}
	if !(t.ValFraction >= 0 && t.ValFraction < 1) {
		return bad("train.val_fraction", "%v: want [0, 1)", t.ValFraction)
	}
	if t.EvalBatchSize < 1 {
		return bad("train.eval_batch_size", "%d: must be ≥ 1", t.EvalBatchSize)
	}
	if t.Threads < 0 {
		return bad("train.threads", "%d: must be ≥ 0 (0 = all cores)", t.Threads)
	}
	if !deviceRE.MatchString(t.Device) {
		return bad("train.device", "%q: want cpu, cuda or cuda:N", t.Device)
	}
	d := c.Data
	switch d.Format {
	case "synthetic", "oumvlp", "oulp-age", "manifest":
	default:
		return bad("data.format", "%q: want synthetic, oumvlp, oulp-age or manifest", d.Format)
	}
	if d.Workers < 0 {
		return bad("data.workers", "%d: must be ≥ 0 (0 = cores)", d.Workers)
	}
	if d.Prefetch < 0 {
		return bad("data.prefetch", "%d: must be ≥ 0", d.Prefetch)
	}
	if d.Format == "synthetic" {
		sd := d.Synth
		if sd.Subjects < 4 || sd.Subjects > 99999 {
			return bad("data.synth.subjects", "%d: want 4…99999", sd.Subjects)
		}
		if len(sd.Views) == 0 {
			return bad("data.synth.views", "empty")
		}
		for _, v := range sd.Views {
			if v < 0 || v >= 360 {
				return bad("data.synth.views", "%d: want degrees in 0…359", v)
			}
		}
		if sd.MinAge < 1 || sd.MaxAge > 100 || sd.MinAge > sd.MaxAge {
			return bad("data.synth.min_age/max_age", "%d…%d: want 1 ≤ min ≤ max ≤ 100", sd.MinAge, sd.MaxAge)
		}
	}
	return nil
}

// YAML renders the configuration as YAML that Load reads back to an equal Config.
func (c Config) YAML() (string, error) {
	b, err := yaml.Marshal(c)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// WriteYAML writes the configuration to path atomically.
func (c Config) WriteYAML(path string) error {
	s, err := c.YAML()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err = f.WriteString(s); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
