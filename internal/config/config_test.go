package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShippedConfigsLoad(t *testing.T) {
	want := map[string][2]int{"default.yaml": {64, 44}, "oumvlp.yaml": {64, 44}, "oulp-age.yaml": {128, 88}}
	for name, size := range want {
		c, err := Load(filepath.Join("../../configs", name), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Model.InputHeight != size[0] || c.Model.InputWidth != size[1] {
			t.Fatalf("%s: input %d×%d", name, c.Model.InputHeight, c.Model.InputWidth)
		}
	}
	c, _ := Load("../../configs/oumvlp.yaml", nil)
	if c.Data.Format != "oumvlp" || c.Optim.LR != 1e-4 || c.Train.BatchSize != 64 {
		t.Fatalf("oumvlp.yaml read as %+v", c)
	}
}

func TestPrecedenceFileEnvSet(t *testing.T) {
	p := write(t, "train:\n  batch_size: 16\n  epochs: 3\noptim:\n  lr: 1e-3\n")
	c, err := Load(p, nil)
	if err != nil || c.Train.BatchSize != 16 || c.Train.Epochs != 3 || c.Optim.LR != 1e-3 || c.Model.K != 100 {
		t.Fatalf("%+v %v", c, err)
	}
	t.Setenv("GAITORD_TRAIN_BATCH_SIZE", "24")
	t.Setenv("GAITORD_DATA_VIEWS", "000,090")
	c, err = Load(p, nil)
	if err != nil || c.Train.BatchSize != 24 || !reflect.DeepEqual(c.Data.Views, []string{"000", "090"}) {
		t.Fatalf("env: %+v %v", c.Train, err)
	}
	c, err = Load(p, []string{"train.batch_size=8", "model.k=80", "optim.betas=0.8,0.99", "data.synth.views=0,90"})
	if err != nil || c.Train.BatchSize != 8 || c.Model.K != 80 || c.Optim.Betas != [2]float64{0.8, 0.99} || !reflect.DeepEqual(c.Data.Synth.Views, []int{0, 90}) {
		t.Fatalf("set: %+v %v", c, err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		body string
		sets []string
		want string
	}{
		{"train:\n  batch_sise: 3\n", nil, `unknown key "train.batch_sise"`},
		{"trian:\n  epochs: 3\n", nil, `unknown key "trian"`},
		{"train:\n  batch_size: abc\n", nil, `"train.batch_size"`},
		{"optim:\n  lr: [1]\n", nil, `"optim.lr"`},
		{"train:\n  batch_size: 0\n", nil, "key train.batch_size: 0"},
		{"train:\n  batch_size: -4\n", nil, "key train.batch_size: -4"},
		{"optim:\n  lr: 0\n", nil, "key optim.lr"},
		{"optim:\n  lr: -1e-4\n", nil, "key optim.lr"},
		{"model:\n  input_height: 100\n  input_width: 50\n", nil, "100×50 not supported; supported: 64×44, 128×88"},
		{"train:\n  device: tpu\n", nil, `key train.device: "tpu"`},
		{"data:\n  format: csv\n", nil, `key data.format: "csv"`},
		{"train: 3\n", nil, `key "train" must be a section`},
		{"train:\n  epochs: 2.5\n", nil, `"train.epochs"`},
		{"", []string{"train.batchsize=3"}, `unknown key "train.batchsize"`},
		{"", []string{"train.epochs"}, "want key=value"},
		{"", []string{"train.epochs=many"}, `"train.epochs"`},
		{"model: [\n", nil, "not valid YAML"},
	}
	for _, c := range cases {
		p := write(t, c.body)
		_, err := Load(p, c.sets)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: err = %v, want %q", c.body, c.sets, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error: %q", err)
		}
	}
	if _, err := Load("/nonexistent/x.yaml", nil); err == nil || !strings.Contains(err.Error(), "/nonexistent/x.yaml: no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	c, err := Load("../../configs/default.yaml", []string{"data.views=000,090", "optim.weight_decay=0.01"})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "resolved.yaml")
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
}

func TestKeysCoverEveryLeaf(t *testing.T) {
	keys := strings.Join(Keys(), " ")
	for _, k := range []string{"model.input_height", "optim.betas", "train.batch_size", "data.synth.max_age", "schedule.gamma", "loss.mu"} {
		if !strings.Contains(keys, k) {
			t.Fatalf("Keys() lacks %s: %s", k, keys)
		}
	}
}
