package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"

	"go.yaml.in/yaml/v3"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultIsValidAndLoadEmptyGivesIt(t *testing.T) {
	if _, err := builtin(); err != nil {
		t.Fatalf("configs/default.yaml: %v", err)
	}
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load(\"\") = %+v\nDefault() = %+v", c, Default())
	}
	// An empty file changes nothing either.
	if c, err := Load(write(t, ""), nil); err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("empty file: %+v %v", c, err)
	}
}

// structKeys lists the dotted mapstructure keys of every leaf field.
func structKeys(prefix string, typ reflect.Type) []string {
	var out []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := f.Tag.Get("mapstructure")
		if y, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); y != tag {
			panic("tags differ on " + f.Name)
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, structKeys(prefix+tag+".", f.Type)...)
			continue
		}
		out = append(out, prefix+tag)
	}
	return out
}

func TestKeysMatchTheStruct(t *testing.T) {
	want := structKeys("", reflect.TypeFor[Config]())
	sort.Strings(want)
	if got := Keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Keys() = %v\nstruct  = %v", got, want)
	}
	if len(want) != 43 {
		t.Fatalf("%d keys", len(want))
	}
	if EnvVar("data.synth.min_age") != "GAITORD_DATA_SYNTH_MIN_AGE" {
		t.Fatal(EnvVar("data.synth.min_age"))
	}
}

// Every key can be set with --set and with its environment variable, to its
// own rendered value (a change elsewhere proves the value arrived).
func TestEveryKeyIsSettable(t *testing.T) {
	for _, k := range Keys() {
		if _, err := Load("", []string{k + "=" + valueOf(t, Default(), k)}); err != nil {
			t.Errorf("--set %s: %v", k, err)
		}
	}
	for _, k := range Keys() {
		t.Setenv(EnvVar(k), valueOf(t, Default(), k))
	}
	if c, err := Load("", nil); err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("every key from the environment: %+v %v", c, err)
	}
}

// valueOf renders key's value in c as a --set value ("a,b" for lists).
func valueOf(t *testing.T, c Config, key string) string {
	t.Helper()
	m := map[string]any{}
	leaves("", toMap(c), m)
	v, ok := m[key]
	if !ok {
		t.Fatalf("no key %s", key)
	}
	if l, ok := v.([]any); ok {
		parts := make([]string, len(l))
		for i, x := range l {
			b, _ := yaml.Marshal(x)
			parts[i] = strings.TrimSpace(string(b))
		}
		return strings.Join(parts, ",")
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}

// The defaults are configs/default.yaml, not values written in Go: Default()
// is what that file says, and a copy the caller may modify.
func TestDefaultIsTheShippedDefaultYAML(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "configs", "default.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("configs/default.yaml = %+v\nDefault() = %+v", c, Default())
	}
	d := Default()
	if d.Optim.LR != 1e-3 || d.Train.BatchSize != 32 || d.Train.Epochs != 8 || !d.Data.Flip || d.Schedule.StepEpochs != 6 {
		t.Fatalf("Default() = %+v, want default.yaml's lr 1e-3, batch 32, 8 epochs, flip, step 6", d)
	}
	d.Data.Synth.Views[0] = 999
	if Default().Data.Synth.Views[0] != 0 {
		t.Fatal("Default() shares its slices between calls")
	}
}

func TestLoadBytesNamesItsSource(t *testing.T) {
	c, err := LoadBytes("the configuration stored in x.ckpt", []byte("train:\n  epochs: 3\n"), []string{"train.batch_size=5"})
	if err != nil || c.Train.Epochs != 3 || c.Train.BatchSize != 5 || c.Optim.LR != Default().Optim.LR {
		t.Fatalf("LoadBytes: %+v %v", c, err)
	}
	_, err = LoadBytes("the configuration stored in x.ckpt", []byte("train:\n  epochs: 0\n"), nil)
	if err == nil || err.Error() != `config the configuration stored in x.ckpt: key "train.epochs": got 0, want ≥ 1` {
		t.Fatalf("err = %v", err)
	}
	_, err = LoadBytes(DefaultName, []byte("trian: {}\n"), nil)
	if err == nil || err.Error() != `config default.yaml (built in): unknown key "trian"` {
		t.Fatalf("err = %v", err)
	}
}

func TestShippedConfigs(t *testing.T) {
	keys := Keys()
	// Only default.yaml must spell out every key; the others leave out
	// what does not apply to their format and say nothing is "unused".
	optional := func(name, key string) bool {
		return name != "default.yaml" && (strings.HasPrefix(key, "data.synth.") || key == "data.allow_outside_root")
	}
	check := func(name string, want func(c Config) bool) {
		t.Helper()
		path := filepath.Join("..", "..", "configs", name)
		c, err := Load(path, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !want(c) {
			t.Fatalf("%s read as %+v", name, c)
		}
		// Complete: every key that applies spelled out, so the file alone describes the experiment.
		body, _ := os.ReadFile(path)
		var m map[string]any
		if err := yaml.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		got := map[string]any{}
		leaves("", m, got)
		for _, k := range keys {
			if _, ok := got[k]; !ok && !optional(name, k) {
				t.Errorf("%s lacks key %s", name, k)
			}
		}
		if strings.Contains(string(body), "unused") {
			t.Errorf("%s carries keys marked unused", name)
		}
		// Commented line by line.
		for i, line := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
			if strings.TrimSpace(line) != "" && !strings.Contains(line, "#") {
				t.Errorf("%s:%d has no comment: %q", name, i+1, line)
			}
		}
	}
	check("default.yaml", func(c Config) bool {
		return c.Data.Format == "synthetic" && c.Data.Root == "" && c.Model.InputHeight == 64 && c.Model.InputWidth == 44 &&
			c.Model.K == 100 && c.Model.MinAge == 0 && c.Train.BatchSize == 32 && c.Train.Epochs == 8 &&
			c.Loss.Lambda == 1 && c.Loss.Mu == 1 && c.Data.Synth.Subjects == 400 &&
			reflect.DeepEqual(c.Data.Synth.Views, []int{0, 30, 60, 90})
	})
	check("oumvlp.yaml", func(c Config) bool {
		return c.Data.Format == "oumvlp" && c.Data.Root == "/data/OUMVLP" && c.Data.Views == nil &&
			c.Model.InputHeight == 64 && c.Model.InputWidth == 44 && c.Model.K == 100 && c.Model.MinAge == 0 &&
			c.Optim.Name == "adam" && c.Optim.LR == 1e-4 && c.Train.BatchSize == 64 && c.Train.Epochs == 40 &&
			c.Schedule.Type == "step" && c.Loss.Lambda == 1 && c.Loss.Mu == 1
	})
	check("synthetic-best.yaml", func(c Config) bool {
		d := Default() // only the schedule and the epochs differ from default.yaml
		d.Schedule.Type, d.Train.Epochs = "cosine", 24
		return reflect.DeepEqual(c, d)
	})
	check("oulp-age.yaml", func(c Config) bool {
		return c.Data.Format == "oulp-age" && c.Model.InputHeight == 128 && c.Model.InputWidth == 88 &&
			c.Model.K == 100 && c.Model.MinAge == 0 && c.Optim.LR == 1e-4 && c.Train.BatchSize == 64
	})
}

func TestPrecedenceSetOverEnvOverFile(t *testing.T) {
	p := write(t, "train:\n  batch_size: 16\n  epochs: 3\noptim:\n  lr: 1e-3\ndata:\n  flip: false\n  views: [\"000\"]\n")
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.BatchSize != 16 || c.Train.Epochs != 3 || c.Optim.LR != 1e-3 || c.Data.Flip || !reflect.DeepEqual(c.Data.Views, []string{"000"}) {
		t.Fatalf("file: %+v", c)
	}
	if c.Model.K != 100 || c.Train.EvalBatchSize != 256 { // untouched keys keep their defaults
		t.Fatalf("defaults lost: %+v", c)
	}

	t.Setenv("GAITORD_TRAIN_BATCH_SIZE", "24")
	t.Setenv("GAITORD_OPTIM_LR", "3e-4")
	t.Setenv("GAITORD_DATA_FLIP", "true")
	t.Setenv("GAITORD_DATA_VIEWS", "000,090")
	t.Setenv("GAITORD_OPTIM_BETAS", "0.5,0.9")
	t.Setenv("GAITORD_DATA_SYNTH_VIEWS", "[0, 45]")
	t.Setenv("GAITORD_TRAIN_DEVICE", "cuda:1")
	c, err = Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.BatchSize != 24 || c.Optim.LR != 3e-4 || !c.Data.Flip || !reflect.DeepEqual(c.Data.Views, []string{"000", "090"}) ||
		c.Optim.Betas != [2]float64{0.5, 0.9} || !reflect.DeepEqual(c.Data.Synth.Views, []int{0, 45}) || c.Train.Device != "cuda:1" {
		t.Fatalf("env: %+v", c)
	}
	if c.Train.Epochs != 3 { // the file still wins where env is silent
		t.Fatalf("epochs %d", c.Train.Epochs)
	}

	c, err = Load(p, []string{"train.batch_size=8", "model.k=80", "optim.betas=0.8,0.99", "data.synth.views=0,90", "data.views=", "data.flip=false", "data.root=/x=y"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.BatchSize != 8 || c.Model.K != 80 || c.Optim.Betas != [2]float64{0.8, 0.99} || c.Data.Flip ||
		!reflect.DeepEqual(c.Data.Synth.Views, []int{0, 90}) || c.Data.Views != nil || c.Data.Root != "/x=y" {
		t.Fatalf("set: %+v", c)
	}
	if c.Optim.LR != 3e-4 { // env still wins where --set is silent
		t.Fatalf("lr %v", c.Optim.LR)
	}
	// The last --set of a key wins.
	if c, err := Load(p, []string{"train.epochs=5", "train.epochs=6", "model.k=1e2"}); err != nil || c.Train.Epochs != 6 || c.Model.K != 100 {
		t.Fatalf("%d %v", c.Train.Epochs, err)
	}
}

func TestWeakButSaneTyping(t *testing.T) {
	for _, body := range []string{"optim:\n  lr: 1e-4\n", "optim:\n  lr: 0.0001\n", "optim:\n  lr: \"1e-4\"\n"} {
		c, err := Load(write(t, body), nil)
		if err != nil || c.Optim.LR != 1e-4 {
			t.Fatalf("%q: %v %v", body, c.Optim.LR, err)
		}
	}
	c, err := Load(write(t, "loss:\n  lambda: 2\ntrain:\n  epochs: 3.0\n  batch_size: \"32\"\ndata:\n  format: oumvlp\n  views: [000, 090, 180]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Loss.Lambda != 2 || c.Train.Epochs != 3 || c.Train.BatchSize != 32 || !reflect.DeepEqual(c.Data.Views, []string{"000", "090", "180"}) {
		t.Fatalf("%+v", c)
	}
}

func TestLoadErrorsNameFileAndKey(t *testing.T) {
	cases := []struct {
		body string
		sets []string
		want string
	}{
		{"train:\n  batch_sise: 3\n", nil, `unknown key "train.batch_sise"`},
		{"trian:\n  epochs: 3\n", nil, `unknown key "trian"`},
		{"data:\n  synth:\n    colour: red\n", nil, `unknown key "data.synth.colour"`},
		{"train:\n  batch_size: abc\n", nil, `key "train.batch_size": cannot parse "abc" as an integer`},
		{"train:\n  batch_size: [1]\n", nil, `key "train.batch_size": want an integer, got a list [1]`},
		{"optim:\n  lr: [1]\n", nil, `key "optim.lr": want a number, got a list [1]`},
		{"optim:\n  lr: abc\n", nil, `key "optim.lr": cannot parse "abc" as a number`},
		{"optim:\n  lr: {a: 1}\n", nil, `key "optim.lr": want a value, got a section`},
		{"optim:\n  betas: [0.9]\n", nil, `key "optim.betas": want a list of 2 values, got 1`},
		{"optim:\n  betas: [0.9, x]\n", nil, `key "optim.betas[1]": cannot parse "x" as a number`},
		{"data:\n  flip: maybe\n", nil, `key "data.flip": cannot parse "maybe" as true or false`},
		{"data:\n  root: [a]\n", nil, `key "data.root": want a string, got a list [a]`},
		{"data:\n  synth:\n    views: [0, x]\n", nil, `key "data.synth.views[1]": cannot parse "x" as an integer`},
		{"train: 3\n", nil, `key "train": want a section (a mapping), got 3`},
		{"train:\n  epochs: 2.5\n", nil, `key "train.epochs": want an integer, got 2.5`},
		{"train:\n  seed: 99999999999999999999\n", nil, `key "train.seed"`},
		{"model: [\n", nil, "not valid YAML"},
		{"- 1\n", nil, "not valid YAML"},
		{"", []string{"train.batchsize=3"}, `--set "train.batchsize=3": unknown key "train.batchsize"`},
		{"", []string{"train.epochs"}, `--set "train.epochs": want key=value`},
		{"", []string{"=3"}, `--set "=3": want key=value`},
		{"", []string{"train.epochs=2.5"}, `key "train.epochs" (from --set train.epochs=2.5): cannot parse "2.5" as an integer`},
		{"", []string{"train.epochs=many"}, `key "train.epochs" (from --set train.epochs=many): cannot parse "many" as an integer`},
		{"", []string{"train.batch_size=0"}, `key "train.batch_size" (from --set train.batch_size=0): got 0, want ≥ 1`},
		{"", []string{"model.input_height=100", "model.input_width=50"}, `key "model.input_height/input_width": 100×50 not supported; supported: 64×44, 128×88`},
	}
	for _, c := range cases {
		p := write(t, c.body)
		_, err := Load(p, c.sets)
		if err == nil || !strings.HasPrefix(err.Error(), "config "+p+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v:\n err = %v\nwant %q", c.body, c.sets, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error: %q", err)
		}
	}
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	t.Setenv("GAITORD_TRAIN_BATCH_SIZE", "abc")
	_, err := Load("", nil)
	if err == nil || err.Error() != `config (defaults): key "train.batch_size" (from GAITORD_TRAIN_BATCH_SIZE=abc): cannot parse "abc" as an integer` {
		t.Fatalf("err = %v", err)
	}
	// --set overrides the bad environment value.
	if c, err := Load("", []string{"train.batch_size=5"}); err != nil || c.Train.BatchSize != 5 {
		t.Fatalf("%v %v", c.Train.BatchSize, err)
	}
}

func TestMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(p, nil)
	if err == nil || err.Error() != "config "+p+": no such file or directory" {
		t.Fatalf("err = %v", err)
	}
}

func TestValidateRules(t *testing.T) {
	cases := []struct {
		key, want string
		mod       func(c *Config)
	}{
		{"model.input_height/input_width", "100×50 not supported; supported: 64×44, 128×88", func(c *Config) { c.Model.InputHeight, c.Model.InputWidth = 100, 50 }},
		{"model.input_height/input_width", "64×88 not supported", func(c *Config) { c.Model.InputWidth = 88 }},
		{"model.k", "got 1, want 2…1000", func(c *Config) { c.Model.K = 1 }},
		{"model.min_age", "got -1", func(c *Config) { c.Model.MinAge = -1 }},
		{"model.dropout", "got 1, want [0, 1)", func(c *Config) { c.Model.Dropout = 1 }},
		{"model.dropout", "got -0.1", func(c *Config) { c.Model.Dropout = -0.1 }},
		{"optim.name", `got "sgd"`, func(c *Config) { c.Optim.Name = "sgd" }},
		{"optim.lr", "got 0, want > 0 and finite", func(c *Config) { c.Optim.LR = 0 }},
		{"optim.lr", "got -0.001", func(c *Config) { c.Optim.LR = -1e-3 }},
		{"optim.lr", "got +Inf", func(c *Config) { c.Optim.LR = math.Inf(1) }},
		{"optim.lr", "got NaN", func(c *Config) { c.Optim.LR = math.NaN() }},
		{"optim.betas", "betas[0] = 1, want [0, 1)", func(c *Config) { c.Optim.Betas[0] = 1 }},
		{"optim.betas", "betas[1] = -0.5", func(c *Config) { c.Optim.Betas[1] = -0.5 }},
		{"optim.weight_decay", "got -1", func(c *Config) { c.Optim.WeightDecay = -1 }},
		{"schedule.type", `got "linear"`, func(c *Config) { c.Schedule.Type = "linear" }},
		{"schedule.step_epochs", "got 0", func(c *Config) { c.Schedule.StepEpochs = 0 }},
		{"schedule.gamma", "got 0, want (0, 1]", func(c *Config) { c.Schedule.Gamma = 0 }},
		{"schedule.warmup_epochs", "got -1", func(c *Config) { c.Schedule.WarmupEpochs = -1 }},
		{"loss.lambda", "got -1, want ≥ 0", func(c *Config) { c.Loss.Lambda = -1 }},
		{"loss.mu", "got -0.5, want ≥ 0", func(c *Config) { c.Loss.Mu = -0.5 }},
		{"loss.type", `got "mse", want odl, ranking, coral, corn, dldl, mean-variance or l1`, func(c *Config) { c.Loss.Type = "mse" }},
		{"loss.type", `got "", want odl`, func(c *Config) { c.Loss.Type = "" }},
		{"loss.sigma", "got 0, want > 0 and finite (years)", func(c *Config) { c.Loss.Sigma = 0 }},
		{"loss.sigma", "got +Inf", func(c *Config) { c.Loss.Sigma = math.Inf(1) }},
		{"loss.mean_weight", "got -0.2, want ≥ 0", func(c *Config) { c.Loss.MeanWeight = -0.2 }},
		{"loss.variance_weight", "got NaN, want ≥ 0", func(c *Config) { c.Loss.VarianceWeight = math.NaN() }},
		{"train.batch_size", "got 0, want ≥ 1", func(c *Config) { c.Train.BatchSize = 0 }},
		{"train.epochs", "got 0, want ≥ 1", func(c *Config) { c.Train.Epochs = 0 }},
		{"train.val_fraction", "got 1, want [0, 1)", func(c *Config) { c.Train.ValFraction = 1 }},
		{"train.val_fraction", "got -0.1", func(c *Config) { c.Train.ValFraction = -0.1 }},
		{"train.eval_batch_size", "got 0", func(c *Config) { c.Train.EvalBatchSize = 0 }},
		{"train.threads", "got -2", func(c *Config) { c.Train.Threads = -2 }},
		{"train.device", `got "gpu"`, func(c *Config) { c.Train.Device = "gpu" }},
		{"optim.eps", `got 0, want > 0 and finite`, func(c *Config) { c.Optim.Eps = 0 }},
		{"dist.backend", `got "mpi", want auto, gloo or nccl`, func(c *Config) { c.Dist.Backend = "mpi" }},
		{"dist.timeout_s", `got 0, want > 0 seconds`, func(c *Config) { c.Dist.TimeoutS = 0 }},
		{"dist.bucket_mb", `got NaN, want > 0 MiB`, func(c *Config) { c.Dist.BucketMB = math.NaN() }},
		{"train.device", `got "cuda:"`, func(c *Config) { c.Train.Device = "cuda:" }},
		{"train.device", `got "cuda:x"`, func(c *Config) { c.Train.Device = "cuda:x" }},
		{"data.format", `got "csv"`, func(c *Config) { c.Data.Format = "csv" }},
		{"data.workers", "got -1", func(c *Config) { c.Data.Workers = -1 }},
		{"data.prefetch", "got -1", func(c *Config) { c.Data.Prefetch = -1 }},
		{"data.synth.subjects", "got 2", func(c *Config) { c.Data.Synth.Subjects = 2 }},
		{"data.synth.views", "empty", func(c *Config) { c.Data.Synth.Views = nil }},
		{"data.synth.views", "got 360", func(c *Config) { c.Data.Synth.Views = []int{0, 360} }},
		{"data.synth.min_age/max_age", "got 50…40", func(c *Config) { c.Data.Synth.MinAge, c.Data.Synth.MaxAge = 50, 40 }},
	}
	for _, tc := range cases {
		c := Default()
		tc.mod(&c)
		err := c.Validate()
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != tc.key || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `key "`+tc.key+`": `) {
			t.Errorf("%s: err = %v, want %q", tc.key, err, tc.want)
		}
	}
	// Values on the edge are accepted.
	c := Default()
	c.Model.InputHeight, c.Model.InputWidth = 128, 88
	c.Model.K, c.Optim.Betas, c.Model.Dropout, c.Train.ValFraction = 2, [2]float64{0, 0.999999}, 0, 0
	c.Train.Device, c.Schedule.Type, c.Schedule.StepEpochs = "cuda:7", "cosine", 0
	c.Loss.Lambda, c.Loss.Mu = 0, 0
	c.Data.Format, c.Data.Synth.Subjects = "manifest", 0 // synth is not checked for real data
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteYAMLRoundTrip(t *testing.T) {
	c := Config{
		Model:    Model{InputHeight: 128, InputWidth: 88, K: 90, MinAge: 2, Dropout: 0.25},
		Optim:    Optim{Name: "adam", LR: 3.3e-7, Betas: [2]float64{0.85, 0.995}, Eps: 2.5e-6, WeightDecay: 1e-5},
		Schedule: Schedule{Type: "cosine", StepEpochs: 7, Gamma: 0.5, WarmupEpochs: 2},
		Loss:     Loss{Type: "mean-variance", Lambda: 0.3, Mu: 2, Sigma: 0.75, MeanWeight: 0.125, VarianceWeight: 1e-3},
		Train:    Train{BatchSize: 7, Epochs: 3, Seed: -42, ValFraction: 0.2, EvalBatchSize: 9, Threads: 2, Device: "cuda:1"},
		Data: Data{Root: "/data/x: y #z", Format: "manifest", Labels: "l.csv", Views: []string{"000", "090", "true"},
			Workers: 3, Prefetch: 0, Flip: true, AllowOutside: true,
			Synth: SynthData{Subjects: 10, Views: []int{15}, Seed: 1 << 40, MinAge: 5, MaxAge: 6}},
		Dist: Dist{Backend: "nccl", TimeoutS: 0.5, BucketMB: 1.25},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "resolved.yaml")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteYAML(p); err != nil {
		t.Fatal(err)
	}
	back, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, back) {
		t.Fatalf("round trip changed the config:\n%+v\n%+v", c, back)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temp files left: %v", entries)
	}
	// The shipped default, overridden, survives too.
	d, err := Load("../../configs/default.yaml", []string{"data.views=000,090", "optim.weight_decay=0.01"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteYAML(p); err != nil {
		t.Fatal(err)
	}
	if back, err := Load(p, nil); err != nil || !reflect.DeepEqual(d, back) {
		t.Fatalf("default round trip: %v\n%+v\n%+v", err, d, back)
	}
	missing := filepath.Join(dir, "no", "such", "c.yaml")
	if err := c.WriteYAML(missing); err == nil || !strings.Contains(err.Error(), "config "+missing+": write: ") {
		t.Fatalf("err = %v", err)
	}
}

// The loss type reaches the network's specification (it chooses the age
// head), from the file, the environment or --set; a wrong one names the key
// and where it came from.
func TestLossTypeReachesTheSpec(t *testing.T) {
	c := Default()
	if c.Loss.Type != "odl" || c.Spec().Loss != glcnn.LossODL || c.Loss.Sigma != 2 || c.Loss.MeanWeight != 0.2 || c.Loss.VarianceWeight != 0.05 {
		t.Fatalf("defaults: %+v, spec %+v", c.Loss, c.Spec())
	}
	c, err := Load("", []string{"loss.type=dldl", "loss.sigma=3.5"})
	if err != nil || c.Spec().Loss != glcnn.LossDLDL || c.Loss.Sigma != 3.5 || c.Spec().K != 100 {
		t.Fatalf("--set: %+v %v", c.Spec(), err)
	}
	t.Setenv("GAITORD_LOSS_TYPE", "corn")
	if c, err := Load("", nil); err != nil || c.Spec().Loss != glcnn.LossCORN {
		t.Fatalf("environment: %+v %v", c.Spec(), err)
	}
	_, err = Load("", []string{"loss.type=CORAL"})
	if err == nil || err.Error() != `config (defaults): key "loss.type" (from --set loss.type=CORAL): got "CORAL", want odl, ranking, coral, corn, dldl, mean-variance or l1` {
		t.Fatalf("err = %v", err)
	}
}
