// Package config loads gaitord's experiment configuration: one YAML file
// that fully describes an experiment (model, optimiser, schedule, losses,
// training, data), OpenGait style.
//
// The defaults are written in one place, configs/default.yaml, which is
// compiled into the binary (package configs) and spells out every key;
// Default decodes it. Nothing in Go repeats a default value.
//
// Load (a file) and LoadBytes (a configuration held in memory, such as the
// one stored in a checkpoint) layer, lowest precedence first: Default(), the
// YAML, environment variables, then --set key=value overrides. Unknown keys
// and wrongly typed values are errors that name the file (or the name given
// to LoadBytes) and the key; Validate checks every range.
//
// # Environment variables
//
// One convention: a configuration key is read from GAITORD_<SECTION>_<KEY>
// and from no other variable (train.batch_size from GAITORD_TRAIN_BATCH_SIZE,
// data.synth.min_age from GAITORD_DATA_SYNTH_MIN_AGE; EnvVar spells it). An
// empty variable counts as unset. Command-line flags that stand for a key
// (gaitord train --epochs for train.epochs) are --set overrides and have no
// variable of their own; the few flags that are not keys are described in
// the command line's documentation (internal/cli).
package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gaitord/gaitord/configs"
	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/glcnn"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix prefixes the environment variables that override keys:
// train.batch_size is read from GAITORD_TRAIN_BATCH_SIZE.
const EnvPrefix = "GAITORD"

// Config is one experiment. Its YAML keys are the mapstructure tags;
// Keys lists them dotted.
type Config struct {
	Model    Model    `mapstructure:"model" yaml:"model"`       // network shape
	Optim    Optim    `mapstructure:"optim" yaml:"optim"`       // optimiser
	Schedule Schedule `mapstructure:"schedule" yaml:"schedule"` // learning-rate schedule
	Loss     Loss     `mapstructure:"loss" yaml:"loss"`         // loss type and weights
	Train    Train    `mapstructure:"train" yaml:"train"`       // run settings
	Data     Data     `mapstructure:"data" yaml:"data"`         // dataset and loader
	Dist     Dist     `mapstructure:"dist" yaml:"dist"`         // data-parallel training
}

// Dist tunes data-parallel training (section "dist"); the job's shape comes
// from --nproc or the torchrun environment variables, not from here.
type Dist struct {
	Backend  string  `mapstructure:"backend" yaml:"backend"`     // auto (gloo on CPU, nccl on CUDA), gloo or nccl
	TimeoutS float64 `mapstructure:"timeout_s" yaml:"timeout_s"` // rendezvous and per-collective timeout, seconds, > 0
	BucketMB float64 `mapstructure:"bucket_mb" yaml:"bucket_mb"` // gradient all-reduce bucket cap, MiB, > 0
}

// Timeout is TimeoutS as a duration.
func (d Dist) Timeout() time.Duration { return time.Duration(d.TimeoutS * float64(time.Second)) }

// Model is the network's shape (section "model"); its ranges are
// glcnn.Config's (Validate checks them there).
type Model struct {
	InputHeight int     `mapstructure:"input_height" yaml:"input_height"` // GEI height: 64 or 128
	InputWidth  int     `mapstructure:"input_width" yaml:"input_width"`   // GEI width: 44 or 88
	K           int     `mapstructure:"k" yaml:"k"`                       // ordinal tasks "age > min_age + k", k = 0…K-1
	MinAge      int     `mapstructure:"min_age" yaml:"min_age"`           // age of the first threshold
	Dropout     float64 `mapstructure:"dropout" yaml:"dropout"`           // after the hidden linear layers, training only; [0, 1)
}

// Spec is the network's specification: the model section, and the loss
// type of the loss section, which chooses the age head.
func (c Config) Spec() glcnn.Config {
	m := c.Model
	return glcnn.Config{InputH: m.InputHeight, InputW: m.InputWidth, K: m.K, MinAge: m.MinAge, Dropout: m.Dropout,
		Loss: glcnn.LossType(c.Loss.Type)}
}

// Optim is the optimiser (section "optim"); only Adam is supported.
type Optim struct {
	Name        string     `mapstructure:"name" yaml:"name"`                 // "adam"
	LR          float64    `mapstructure:"lr" yaml:"lr"`                     // learning rate, > 0
	Betas       [2]float64 `mapstructure:"betas" yaml:"betas,flow"`          // Adam's β1, β2, each in [0, 1)
	Eps         float64    `mapstructure:"eps" yaml:"eps"`                   // Adam's ε, added to √v, > 0
	WeightDecay float64    `mapstructure:"weight_decay" yaml:"weight_decay"` // L2 added to the gradient, ≥ 0
}

// Schedule is the per-epoch learning-rate schedule (section "schedule").
type Schedule struct {
	Type         string  `mapstructure:"type" yaml:"type"`                   // none, step or cosine
	StepEpochs   int     `mapstructure:"step_epochs" yaml:"step_epochs"`     // step: decay every step_epochs epochs
	Gamma        float64 `mapstructure:"gamma" yaml:"gamma"`                 // step: decay factor, (0, 1]
	WarmupEpochs int     `mapstructure:"warmup_epochs" yaml:"warmup_epochs"` // linear warm-up epochs, ≥ 0
}

// Loss is the objective (section "loss"): the loss type (docs/losses.md)
// and the weights and parameters the types read.
type Loss struct {
	Type           string  `mapstructure:"type" yaml:"type"`                       // odl, ranking, coral, corn, dldl, mean-variance or l1
	Lambda         float64 `mapstructure:"lambda" yaml:"lambda"`                   // odl: ordinal distribution loss weight, ≥ 0
	Mu             float64 `mapstructure:"mu" yaml:"mu"`                           // every type: gender cross-entropy weight, ≥ 0
	Sigma          float64 `mapstructure:"sigma" yaml:"sigma"`                     // dldl: the Gaussian label distribution's standard deviation, years, > 0
	MeanWeight     float64 `mapstructure:"mean_weight" yaml:"mean_weight"`         // mean-variance: λ₁, ≥ 0
	VarianceWeight float64 `mapstructure:"variance_weight" yaml:"variance_weight"` // mean-variance: λ₂, ≥ 0
}

// Train are the run's settings (section "train").
type Train struct {
	BatchSize     int     `mapstructure:"batch_size" yaml:"batch_size"`           // training batch, ≥ 1
	Epochs        int     `mapstructure:"epochs" yaml:"epochs"`                   // ≥ 1
	Seed          int64   `mapstructure:"seed" yaml:"seed"`                       // initialisation, dropout, shuffling, hold-out
	ValFraction   float64 `mapstructure:"val_fraction" yaml:"val_fraction"`       // training subjects held out for validation, [0, 1)
	EvalBatchSize int     `mapstructure:"eval_batch_size" yaml:"eval_batch_size"` // evaluation batch, ≥ 1
	Threads       int     `mapstructure:"threads" yaml:"threads"`                 // intra-op threads; 0 = all cores
	Device        string  `mapstructure:"device" yaml:"device"`                   // cpu, cuda or cuda:N
}

// Data says where the GEIs are and how to feed them (section "data").
type Data struct {
	Root         string    `mapstructure:"root" yaml:"root"`                             // dataset root or manifest; "" = built-in synthetic
	Format       string    `mapstructure:"format" yaml:"format"`                         // synthetic, oumvlp, oulp-age or manifest
	Labels       string    `mapstructure:"labels" yaml:"labels"`                         // label file; "" = the format's default
	Views        []string  `mapstructure:"views" yaml:"views,flow"`                      // keep only these views ("000", "090"); empty = all
	Workers      int       `mapstructure:"workers" yaml:"workers"`                       // decoding goroutines; 0 = cores
	Prefetch     int       `mapstructure:"prefetch" yaml:"prefetch"`                     // batches decoded ahead
	Flip         bool      `mapstructure:"flip" yaml:"flip"`                             // random horizontal flips (augmentation)
	AllowOutside bool      `mapstructure:"allow_outside_root" yaml:"allow_outside_root"` // relative manifest paths may climb out of its folder (../); absolute paths are always accepted
	Synth        SynthData `mapstructure:"synth" yaml:"synth"`                           // the synthetic dataset, when format is synthetic
}

// SynthData shapes the built-in synthetic dataset (section "data.synth").
type SynthData struct {
	Subjects int   `mapstructure:"subjects" yaml:"subjects"` // number of subjects, 4…99999
	Views    []int `mapstructure:"views" yaml:"views,flow"`  // view angles in degrees, 0…359
	Seed     int64 `mapstructure:"seed" yaml:"seed"`         // generator seed
	MinAge   int   `mapstructure:"min_age" yaml:"min_age"`   // youngest subject, ≥ 1
	MaxAge   int   `mapstructure:"max_age" yaml:"max_age"`   // oldest subject, ≤ 100
}

// DefaultName names the built-in defaults in error messages.
const DefaultName = "default.yaml (built in)"

// Default is the configuration every file is merged over: configs/default.yaml
// as compiled into the binary. Each call returns a fresh copy.
func Default() Config {
	c, err := builtin()
	if err != nil {
		// configs/default.yaml is part of the source; TestDefaultIsValid
		// keeps it loadable, so this is a build defect, not bad input.
		panic(fmt.Sprintf("config %s: %v", DefaultName, err))
	}
	c.Data.Views = slices.Clone(c.Data.Views)
	c.Data.Synth.Views = slices.Clone(c.Data.Synth.Views)
	return c
}

// builtin decodes configs/default.yaml once. Every key must be spelled out
// there, so the defaults never come from Go's zero values.
var builtin = sync.OnceValues(func() (Config, error) {
	probe, err := parseYAML(configs.Default)
	if err != nil {
		return Config{}, err
	}
	got := map[string]any{}
	leaves("", probe, got)
	for _, k := range Keys() {
		if _, ok := got[k]; !ok {
			return Config{}, fmt.Errorf("key %q is missing: the defaults must spell out every key", k)
		}
	}
	c, err := decode(probe, nil)
	if err != nil {
		return Config{}, err
	}
	return c, c.Validate()
})

// toMap renders a Config as nested maps keyed like the YAML.
func toMap(c Config) map[string]any {
	b, err := yaml.Marshal(c)
	if err != nil {
		panic(err) // a Config always marshals
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

// leaves maps every dotted leaf key of m to its value.
func leaves(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			leaves(prefix+k+".", sub, out)
			continue
		}
		out[prefix+k] = v
	}
}

// schema is the nested key layout of a Config (from its zero value, so that
// it does not depend on the defaults).
func schema() map[string]any { return toMap(Config{}) }

// Keys lists every known dotted key ("data.synth.views", "train.batch_size",
// …), sorted. Each is accepted by --set and by its environment variable.
func Keys() []string {
	m := map[string]any{}
	leaves("", schema(), m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// EnvVar is the environment variable that overrides key:
// "train.batch_size" → "GAITORD_TRAIN_BATCH_SIZE".
func EnvVar(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Load builds the configuration: Default(), then the YAML file at path (an
// empty path means no file), then GAITORD_* environment variables (an empty
// variable counts as unset), then sets, each "key=value" (lists as
// "a,b,c" or "[a, b, c]"). Unknown keys, wrong types and out-of-range values
// are errors naming the file and the key. The result is validated.
func Load(path string, sets []string) (Config, error) {
	if path == "" {
		return loadNamed("(defaults)", nil, sets)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, unwrapPath(err))
	}
	return loadNamed(path, data, sets)
}

// LoadBytes is Load for a configuration held in memory (the one stored in a
// checkpoint, the built-in default.yaml); name stands for the file in error
// messages ("config NAME: key …").
func LoadBytes(name string, data []byte, sets []string) (Config, error) {
	return loadNamed(name, data, sets)
}

func loadNamed(name string, data []byte, sets []string) (Config, error) {
	c, err := load(data, sets)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	return c, nil
}

// parseYAML reads a configuration document into nested maps and checks its
// keys against the schema.
func parseYAML(data []byte) (map[string]any, error) {
	var probe map[string]any
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", oneLine(err.Error()))
	}
	if err := checkKeys("", probe, schema()); err != nil {
		return nil, err
	}
	return probe, nil
}

// load layers data (nil: no file), the environment and sets over Default().
func load(data []byte, sets []string) (Config, error) {
	keys := Keys()
	defaults := map[string]any{}
	leaves("", toMap(Default()), defaults)

	v := viper.New()
	v.SetConfigType("yaml")
	for _, k := range keys {
		v.SetDefault(k, defaults[k])
	}
	if data != nil {
		probe, err := parseYAML(data)
		if err != nil {
			return Config{}, err
		}
		if err := v.MergeConfigMap(probe); err != nil {
			return Config{}, fmt.Errorf("merging: %s", oneLine(err.Error()))
		}
	}

	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, k := range keys {
		if err := v.BindEnv(k); err != nil {
			return Config{}, err
		}
	}

	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
	}
	setBy := map[string]string{}
	for _, s := range sets {
		k, val, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return Config{}, fmt.Errorf("--set %q: want key=value", s)
		}
		if !known[k] {
			return Config{}, fmt.Errorf("--set %q: unknown key %q (known: %s)", s, k, strings.Join(keys, ", "))
		}
		v.Set(k, strings.TrimSpace(val))
		setBy[k] = s
	}

	c, err := decode(v.AllSettings(), setBy)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		var ke *KeyError
		if errors.As(err, &ke) {
			if from := source(ke.Key, setBy); from != "" {
				// the value did not come from the file the error names
				return Config{}, fmt.Errorf("key %q%s: %s", ke.Key, from, ke.Msg)
			}
		}
		return Config{}, err
	}
	return c, nil
}

// decode turns nested settings into a Config (not yet validated); setBy
// names the --set override behind each key, for error messages.
func decode(settings map[string]any, setBy map[string]string) (Config, error) {
	var c Config
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:      &c,
		ErrorUnused: true,
		TagName:     "mapstructure",
		DecodeHook:  typeHook,
	})
	if err != nil {
		return Config{}, err
	}
	if err := dec.Decode(settings); err != nil {
		return Config{}, decodeError(err, setBy)
	}
	c.Data.Views = normalizeViews(c.Data.Views)
	if len(c.Data.Synth.Views) == 0 {
		c.Data.Synth.Views = nil
	}
	return c, nil
}

// source says where a key's value came from when not from the file:
// " (from --set k=v)" or " (from GAITORD_K=v)", else "".
func source(key string, setBy map[string]string) string {
	if s, ok := setBy[key]; ok {
		return fmt.Sprintf(" (from --set %s)", s)
	}
	if val := os.Getenv(EnvVar(key)); val != "" {
		return fmt.Sprintf(" (from %s=%s)", EnvVar(key), val)
	}
	return ""
}

// checkKeys reports the first key of the file that the schema lacks, and
// sections given as values or values given as sections.
func checkKeys(prefix string, got, schema map[string]any) error {
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		want, ok := schema[k]
		if !ok {
			return fmt.Errorf("unknown key %q", prefix+k)
		}
		sub, isMap := got[k].(map[string]any)
		wantSub, wantMap := want.(map[string]any)
		switch {
		case isMap && wantMap:
			if err := checkKeys(prefix+k+".", sub, wantSub); err != nil {
				return err
			}
		case wantMap && got[k] != nil:
			return fmt.Errorf("key %q: want a section (a mapping), got %s", prefix+k, clip(got[k]))
		case isMap && !wantMap:
			return fmt.Errorf("key %q: want a value, got a section", prefix+k)
		}
	}
	return nil
}

// decodeError names the key and where its value came from.
func decodeError(err error, setBy map[string]string) error {
	var de *mapstructure.DecodeError
	if !errors.As(err, &de) {
		return errors.New(strings.TrimPrefix(oneLine(err.Error()), "decoding failed due to the following error(s): "))
	}
	key := de.Name()
	msg := oneLine(de.Unwrap().Error())
	if strings.HasPrefix(msg, "has invalid keys: ") { // a backstop: checkKeys sees these first
		return fmt.Errorf("key %q: unknown key(s) %s", key, strings.TrimPrefix(msg, "has invalid keys: "))
	}
	base, _, _ := strings.Cut(key, "[")
	return fmt.Errorf("key %q%s: %s", key, source(base, setBy), msg)
}

// typeHook converts values into the field types weakly but sanely: numbers
// between kinds where nothing is lost (1 for a float, 3.0 for an int),
// strings from the environment or --set parsed as the field's type
// ("32", "1e-4", "true", "000,090"), and numbers as strings (an unquoted
// view 090). Everything else (a list for a number, "abc" for an int, 2.5
// for an int) is an error.
func typeHook(from, to reflect.Type, data any) (any, error) {
	if data == nil {
		return nil, nil
	}
	switch to.Kind() {
	case reflect.Float64:
		switch x := data.(type) {
		case float64:
			return x, nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case uint64:
			return float64(x), nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, fmt.Errorf("cannot parse %s as a number", strconv.Quote(x))
			}
			return f, nil
		}
		return nil, fmt.Errorf("want a number, got %s", clip(data))
	case reflect.Int, reflect.Int64:
		switch x := data.(type) {
		case int, int64:
			return x, nil
		case uint64:
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("%d is too large", x)
			}
			return int64(x), nil
		case float64:
			if x != math.Trunc(x) || math.Abs(x) >= 1<<63 {
				return nil, fmt.Errorf("want an integer, got %v", x)
			}
			return int64(x), nil
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return n, nil
			}
			// "1e2" as YAML would read it: a float with an integral value.
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
				return int64(f), nil
			}
			return nil, fmt.Errorf("cannot parse %s as an integer", strconv.Quote(x))
		}
		return nil, fmt.Errorf("want an integer, got %s", clip(data))
	case reflect.Bool:
		switch x := data.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return nil, fmt.Errorf("cannot parse %s as true or false", strconv.Quote(x))
			}
			return b, nil
		}
		return nil, fmt.Errorf("want true or false, got %s", clip(data))
	case reflect.String:
		switch x := data.(type) {
		case string:
			return x, nil
		case int, int64, uint64, float64, bool:
			return fmt.Sprint(x), nil
		}
		return nil, fmt.Errorf("want a string, got %s", clip(data))
	case reflect.Slice, reflect.Array:
		var items []any
		switch x := data.(type) {
		case []any:
			items = x
		case string:
			items = splitList(x)
		case int, int64, uint64, float64, bool:
			items = []any{x}
		default:
			return nil, fmt.Errorf("want a list, got %s", clip(data))
		}
		if to.Kind() == reflect.Array && len(items) != to.Len() {
			return nil, fmt.Errorf("want a list of %d values, got %d", to.Len(), len(items))
		}
		return items, nil
	}
	return data, nil
}

// splitList reads "a,b,c" or "[a, b, c]"; "" and "[]" are the empty list.
func splitList(s string) []any {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	items := []any{}
	if s == "" {
		return items
	}
	for _, part := range strings.Split(s, ",") {
		items = append(items, strings.Trim(strings.TrimSpace(part), `"'`))
	}
	return items
}

// normalizeViews writes numeric views with three digits, as OU-MVLP's folder
// names do, so that an unquoted YAML 090 (read as the number 90) still names
// the folder "090". An empty list becomes nil (all views).
func normalizeViews(views []string) []string {
	if len(views) == 0 {
		return nil
	}
	for i, v := range views {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < 1000 && strings.Trim(v, "0123456789") == "" {
			views[i] = fmt.Sprintf("%03d", n)
		}
	}
	return views
}

// clip renders a value for an error message: one line, at most 40 bytes.
func clip(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = strconv.Quote(x)
	case []any:
		s = "a list " + oneLine(fmt.Sprint(x))
	case map[string]any:
		s = "a section"
	default:
		s = oneLine(fmt.Sprint(x))
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// KeyError is a value that Validate refuses; Key is the dotted key
// ("train.batch_size").
type KeyError struct {
	Key string // dotted key, e.g. "optim.lr"
	Msg string // what is wrong, with the value
}

// Error renders `key "train.batch_size": got 0, want ≥ 1`.
func (e *KeyError) Error() string { return fmt.Sprintf("key %q: %s", e.Key, e.Msg) }

var deviceRE = regexp.MustCompile(`^(cpu|cuda|cuda:[0-9]{1,3})$`)

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate checks every value's range. It returns the first problem as a
// *KeyError naming the key.
func (c Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return &KeyError{Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	// Checked before the model: the type chooses the age head. Unlike a
	// file's metadata, a configuration must name it ("" is not odl here).
	if _, err := glcnn.ParseLossType(c.Loss.Type); err != nil || c.Loss.Type == "" {
		return bad("loss.type", "got %q, want %s", c.Loss.Type, glcnn.LossTypesText())
	}
	if err := c.Spec().Validate(); err != nil {
		var re *glcnn.RangeError
		if !errors.As(err, &re) {
			return err
		}
		return bad("model."+re.Key, "%s", re.Msg)
	}
	o := c.Optim
	if o.Name != "adam" {
		return bad("optim.name", "got %q, only adam is supported", o.Name)
	}
	if !(o.LR > 0) || !finite(o.LR) {
		return bad("optim.lr", "got %v, want > 0 and finite", o.LR)
	}
	for i, b := range o.Betas {
		if !(b >= 0 && b < 1) {
			return bad("optim.betas", "betas[%d] = %v, want [0, 1)", i, b)
		}
	}
	if !(o.WeightDecay >= 0) || !finite(o.WeightDecay) {
		return bad("optim.weight_decay", "got %v, want ≥ 0 and finite", o.WeightDecay)
	}
	if !(o.Eps > 0) || !finite(o.Eps) {
		return bad("optim.eps", "got %v, want > 0 and finite", o.Eps)
	}
	s := c.Schedule
	switch s.Type {
	case "none", "cosine":
	case "step":
		if s.StepEpochs < 1 {
			return bad("schedule.step_epochs", "got %d, want ≥ 1 for a step schedule", s.StepEpochs)
		}
		if !(s.Gamma > 0 && s.Gamma <= 1) {
			return bad("schedule.gamma", "got %v, want (0, 1]", s.Gamma)
		}
	default:
		return bad("schedule.type", "got %q, want none, step or cosine", s.Type)
	}
	if s.WarmupEpochs < 0 {
		return bad("schedule.warmup_epochs", "got %d, want ≥ 0", s.WarmupEpochs)
	}
	if !(c.Loss.Lambda >= 0) || !finite(c.Loss.Lambda) {
		return bad("loss.lambda", "got %v, want ≥ 0 and finite", c.Loss.Lambda)
	}
	if !(c.Loss.Mu >= 0) || !finite(c.Loss.Mu) {
		return bad("loss.mu", "got %v, want ≥ 0 and finite", c.Loss.Mu)
	}
	if !(c.Loss.Sigma > 0) || !finite(c.Loss.Sigma) {
		return bad("loss.sigma", "got %v, want > 0 and finite (years)", c.Loss.Sigma)
	}
	if !(c.Loss.MeanWeight >= 0) || !finite(c.Loss.MeanWeight) {
		return bad("loss.mean_weight", "got %v, want ≥ 0 and finite", c.Loss.MeanWeight)
	}
	if !(c.Loss.VarianceWeight >= 0) || !finite(c.Loss.VarianceWeight) {
		return bad("loss.variance_weight", "got %v, want ≥ 0 and finite", c.Loss.VarianceWeight)
	}
	t := c.Train
	if t.BatchSize < 1 {
		return bad("train.batch_size", "got %d, want ≥ 1", t.BatchSize)
	}
	if t.Epochs < 1 {
		return bad("train.epochs", "got %d, want ≥ 1", t.Epochs)
	}
	if !(t.ValFraction >= 0 && t.ValFraction < 1) {
		return bad("train.val_fraction", "got %v, want [0, 1)", t.ValFraction)
	}
	if t.EvalBatchSize < 1 {
		return bad("train.eval_batch_size", "got %d, want ≥ 1", t.EvalBatchSize)
	}
	if t.Threads < 0 {
		return bad("train.threads", "got %d, want ≥ 0 (0 = all cores)", t.Threads)
	}
	if !deviceRE.MatchString(t.Device) {
		return bad("train.device", "got %q, want cpu, cuda or cuda:N", t.Device)
	}
	switch c.Dist.Backend {
	case "auto", "gloo", "nccl":
	default:
		return bad("dist.backend", "got %q, want auto, gloo or nccl", c.Dist.Backend)
	}
	if !(c.Dist.TimeoutS > 0) || !finite(c.Dist.TimeoutS) {
		return bad("dist.timeout_s", "got %v, want > 0 seconds", c.Dist.TimeoutS)
	}
	if !(c.Dist.BucketMB > 0) || !finite(c.Dist.BucketMB) {
		return bad("dist.bucket_mb", "got %v, want > 0 MiB", c.Dist.BucketMB)
	}
	d := c.Data
	switch d.Format {
	case "synthetic", "oumvlp", "oulp-age", "manifest":
	default:
		return bad("data.format", "got %q, want synthetic, oumvlp, oulp-age or manifest", d.Format)
	}
	if d.Workers < 0 {
		return bad("data.workers", "got %d, want ≥ 0 (0 = cores)", d.Workers)
	}
	if d.Prefetch < 0 {
		return bad("data.prefetch", "got %d, want ≥ 0", d.Prefetch)
	}
	if d.Format == "synthetic" {
		sd := d.Synth
		if sd.Subjects < 4 || sd.Subjects > 99999 {
			return bad("data.synth.subjects", "got %d, want 4…99999", sd.Subjects)
		}
		if len(sd.Views) == 0 {
			return bad("data.synth.views", "empty, want at least one view")
		}
		for _, v := range sd.Views {
			if v < 0 || v >= 360 {
				return bad("data.synth.views", "got %d, want degrees in 0…359", v)
			}
		}
		if sd.MinAge < 1 || sd.MaxAge > 100 || sd.MinAge > sd.MaxAge {
			return bad("data.synth.min_age/max_age", "got %d…%d, want 1 ≤ min_age ≤ max_age ≤ 100", sd.MinAge, sd.MaxAge)
		}
	}
	return nil
}

// YAML renders the configuration as YAML that Load reads back to an equal
// Config.
func (c Config) YAML() (string, error) {
	b, err := yaml.Marshal(c)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// WriteYAML writes the resolved configuration to path atomically (a temp
// file in the same folder, synced, then renamed over path); Load(path, nil)
// gives back an equal Config.
func (c Config) WriteYAML(path string) error {
	if err := writeAtomic(path, c); err != nil {
		return fmt.Errorf("config %s: write: %w", path, err)
	}
	return nil
}

func writeAtomic(path string, c Config) error {
	s, err := c.YAML()
	if err != nil {
		return err
	}
	return unwrapPath(atomicfile.WriteBytes(path, []byte("# gaitord resolved configuration\n"+s)))
}
