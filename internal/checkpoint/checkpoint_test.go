package checkpoint

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/safetensors"
	"github.com/gaitord/gaitord/tests/gaitordtest"
)

// smallState is a checkpoint state whose weights are n float32s under one
// name: Save does not check shapes against the model (Load does), which lets
// the write path be tested with files of any size.
func smallState(n int) *State {
	w := map[string]glcnn.Weight{"w": {Shape: []int64{int64(n)}, Data: make([]float32, n)}}
	for i := range w["w"].Data {
		w["w"].Data[i] = float32(i)
	}
	return &State{Model: glcnn.DefaultConfig(), Weights: w, Epoch: 3, Step: 30, RNG: []byte{1, 2, 3}, Config: "a: 1\n"}
}

// noTemp fails if dir holds a temp file of an atomic write.
func noTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temp file %s left in %s", e.Name(), dir)
		}
	}
}

func TestSaveFailuresKeepPreviousFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "last.ckpt")
	if err := Save(path, smallState(16)); err != nil {
		t.Fatal(err)
	}
	prev, _ := os.ReadFile(path)

	// the temp file cannot be created: a missing folder
	missing := filepath.Join(dir, "gone", "last.ckpt")
	if err := Save(missing, smallState(16)); err == nil || !strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), "\n") {
		t.Errorf("save into a missing folder: %v", err)
	}

	// the rename fails: the target is a non-empty folder
	target := filepath.Join(dir, "best.ckpt")
	os.MkdirAll(filepath.Join(target, "keep"), 0o755)
	if err := Save(target, smallState(16)); err == nil || !strings.Contains(err.Error(), target) {
		t.Errorf("save over a folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "keep")); err != nil {
		t.Errorf("the folder was changed: %v", err)
	}

	// a refused encode (metadata that is not UTF-8) writes nothing
	bad := smallState(16)
	bad.Config = "\xff"
	if err := Save(path, bad); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("save with bad metadata: %v", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, prev) {
		t.Fatal("a failed save changed the previous checkpoint")
	}
	noTemp(t, dir)
}

// TestSaveOnFullDisk saves a 1 MiB checkpoint over a small one on a 256 KiB
// tmpfs: the write fails with ENOSPC, the small one is byte-identical and no
// temp file is left. Needs root (mount); skipped otherwise.
func TestSaveOnFullDisk(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): needs root", err)
	}
	defer func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount: %v", err)
		}
	}()
	path := filepath.Join(mnt, "last.ckpt")
	if err := Save(path, smallState(1000)); err != nil {
		t.Fatal(err)
	}
	prev, _ := os.ReadFile(path)
	err := Save(path, smallState(256<<10))
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), path) {
		t.Fatalf("save on a full disk: %v", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, prev) {
		t.Fatal("a failed save changed the previous checkpoint")
	}
	noTemp(t, mnt)
	err = SaveWeights(filepath.Join(mnt, "w.safetensors"), glcnn.DefaultConfig(), mustWeights(t), 40)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("export on a full disk: %v", err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "w.safetensors")); err == nil {
		t.Fatal("partial export left behind")
	}
	noTemp(t, mnt)
}

func mustWeights(t *testing.T) map[string]glcnn.Weight {
	t.Helper()
	w := map[string]glcnn.Weight{}
	for _, s := range glcnn.DefaultConfig().Specs() {
		n := int64(1)
		for _, d := range s.Shape {
			n *= d
		}
		w[s.Name] = glcnn.Weight{Shape: s.Shape, Data: make([]float32, n)}
	}
	return w
}

// fuzzFile assembles a safetensors file from a JSON header and data.
func fuzzFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// FuzzLoad writes arbitrary bytes as a checkpoint file and loads it: Load
// must never panic, its errors must be one line naming the file, and an
// accepted file must be internally consistent: every weight fits the model
// its metadata describes (names, shapes, value counts), a checkpoint's Adam
// moments fit it too, and an export has none. (A valid GL-CNN file holds
// millions of parameters, so the seeds are small files that reach every
// stage of Load: the header, the model metadata, the shape check and the
// checkpoint metadata.) LoadModel must accept whatever Load accepts, with
// the same model and weights, and fail as cleanly. Seeds: testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	var buf bytes.Buffer
	md := ModelMetadata(glcnn.DefaultConfig())
	md["gaitord.kind"] = KindCheckpoint
	md["gaitord.epoch"], md["gaitord.step"], md["gaitord.best_mae"], md["gaitord.seed"], md["gaitord.rng"], md["gaitord.config"] = "1", "2", "3.5", "4", "AQID", "a: 1\n"
	safetensors.Encode(&buf, []safetensors.Tensor{safetensors.FromFloat32("linear_age.bias", []int64{2}, []float32{1, 2})}, md)
	f.Add(buf.Bytes())
	f.Add(fuzzFile(`{"linear_age.bias":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`, make([]byte, 12)))
	f.Add(fuzzFile(`{"__metadata__":{"k":"80","input_height":"128","input_width":"88"}}`, nil))
	f.Add(fuzzFile(`{"__metadata__":{"k":"1e9","dropout":"NaN"}}`, nil))
	dir := f.TempDir()
	path := filepath.Join(dir, "fuzz.ckpt")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		sm, errM := LoadModel(path) // accepts all Load accepts, with the same weights
		if errM != nil {
			if msg := errM.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "load "+path+": ") {
				t.Fatalf("bad LoadModel error %q", msg)
			}
			if err == nil {
				t.Fatalf("LoadModel refused what Load accepts: %v", errM)
			}
		} else if err == nil && (sm.Model != s.Model || sm.Kind != s.Kind || len(sm.Weights) != len(s.Weights) || sm.ExpAvg != nil) {
			t.Fatalf("LoadModel %s, Load %s", sm.MarshalSummary(), s.MarshalSummary())
		}
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "load "+path+": ") {
				t.Fatalf("bad error %q", msg)
			}
			return
		}
		if err := s.Model.Validate(); err != nil {
			t.Fatalf("accepted an invalid model: %v", err)
		}
		if err := s.Model.CheckWeights(s.Weights); err != nil {
			t.Fatalf("accepted weights that do not fit: %v", err)
		}
		for name, w := range s.Weights {
			n := int64(1)
			for _, d := range w.Shape {
				n *= d
			}
			if int64(len(w.Data)) != n {
				t.Fatalf("%s: %d values for shape %v", name, len(w.Data), w.Shape)
			}
		}
		switch s.Kind {
		case KindCheckpoint:
			for what, m := range map[string]map[string]glcnn.Weight{"exp_avg": s.ExpAvg, "exp_avg_sq": s.ExpAvgSq} {
				if err := s.Model.CheckWeights(m); err != nil {
					t.Fatalf("accepted %s that does not fit: %v", what, err)
				}
			}
			if s.Epoch < 0 || s.Step < 0 || s.BatchesDone < 0 {
				t.Fatalf("negative counters: %s", s.MarshalSummary())
			}
		default:
			if s.ExpAvg != nil || s.ExpAvgSq != nil {
				t.Fatalf("an export with optimiser state")
			}
		}
	})
}

// SHA256 is the hex digest of the file's bytes; a missing file names itself.
func TestSHA256(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := SHA256(path)
	// FIPS 180-2, appendix B.1: SHA-256("abc")
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; err != nil || got != want {
		t.Fatalf("SHA256 = %q, %v; want %q", got, err, want)
	}
	if _, err := SHA256(path + ".missing"); err == nil || !strings.Contains(err.Error(), "hash "+path+".missing: ") {
		t.Fatalf("missing file: %v", err)
	}
}

// Read on a file's bytes gives what Load gives; its errors use the name given.
func TestReadEqualsLoad(t *testing.T) {
	c := glcnn.DefaultConfig()
	w := map[string]glcnn.Weight{}
	for i, s := range c.Specs() {
		n := int64(1)
		for _, d := range s.Shape {
			n *= d
		}
		v := make([]float32, n)
		for k := range v {
			v[k] = float32(i) + float32(k%7)/8
		}
		w[s.Name] = glcnn.Weight{Shape: s.Shape, Data: v}
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := SaveWeights(path, c, w, 41.5); err != nil {
		t.Fatal(err)
	}
	want, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read("upload", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != want.Model || got.Kind != KindWeights || got.TrainMeanAge != 41.5 || len(got.Weights) != len(w) {
		t.Fatalf("Read: %s", got.MarshalSummary())
	}
	for name, v := range want.Weights {
		if !slices.Equal(got.Weights[name].Data, v.Data) || !slices.Equal(got.Weights[name].Shape, v.Shape) {
			t.Fatalf("tensor %s differs", name)
		}
	}
	if _, err := Read("upload", bytes.NewReader(b[:len(b)/2]), int64(len(b)/2)); err == nil || !strings.Contains(err.Error(), "load upload") {
		t.Fatalf("truncated: %v", err)
	}
}

// zeroWeights are weights of every parameter of c, all zero.
func zeroWeights(c glcnn.Config) map[string]glcnn.Weight {
	w := map[string]glcnn.Weight{}
	for _, s := range c.Specs() {
		w[s.Name] = glcnn.Weight{Shape: s.Shape, Data: make([]float32, glcnn.Numel(s.Shape))}
	}
	return w
}

// Every loss type survives an export: the metadata names it, Load reads it
// back with the type's head.
func TestLossTypeRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, lt := range glcnn.LossTypes() {
		c := glcnn.Config{InputH: 64, InputW: 44, K: 7, MinAge: 3, Dropout: 0.5, Loss: lt}
		path := filepath.Join(dir, string(lt)+".safetensors")
		if err := SaveWeights(path, c, zeroWeights(c), 41.5); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Metadata()["loss_type"]; got != string(lt) {
			t.Errorf("%s: metadata loss_type %q", lt, got)
		}
		st, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", lt, err)
		}
		if st.Model != c || st.TrainMeanAge != 41.5 {
			t.Errorf("%s: loaded %+v (mean age %v), saved %+v", lt, st.Model, st.TrainMeanAge, c)
		}
	}
	// The empty type is written as odl.
	c := glcnn.Config{InputH: 64, InputW: 44, K: 7, Dropout: 0.5}
	path := filepath.Join(dir, "empty.safetensors")
	if err := SaveWeights(path, c, zeroWeights(c), 0); err != nil {
		t.Fatal(err)
	}
	if st, err := Load(path); err != nil || st.Model.Loss != glcnn.LossODL {
		t.Errorf("empty loss type: %+v, %v", st, err)
	}
}

// Files written before the loss family carry no loss_type: they load as
// odl. A file that does not state K gets it from its age head's bias, by its
// loss type; a loss_type gaitord does not know is refused, naming the file.
func TestLossTypeFromOlderAndPlainFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, c glcnn.Config, md map[string]string) string {
		t.Helper()
		w := zeroWeights(c)
		var ts []safetensors.Tensor
		for _, s := range c.Specs() {
			ts = append(ts, safetensors.FromFloat32(s.Name, s.Shape, w[s.Name].Data))
		}
		path := filepath.Join(dir, name)
		if err := safetensors.Write(path, ts, md); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// a checkpoint-era export: full model metadata, no loss_type
	old := write("old.safetensors", glcnn.Config{InputH: 64, InputW: 44, K: 90, MinAge: 2, Dropout: 0.5},
		map[string]string{"input_height": "64", "input_width": "44", "k": "90", "min_age": "2", "dropout": "0.5", "gaitord.kind": "weights"})
	st, err := Load(old)
	if err != nil || st.Model.Loss != glcnn.LossODL || st.Model.K != 90 {
		t.Fatalf("older export: %+v, %v", st, err)
	}
	// no metadata at all (a state_dict saved from PyTorch): odl, K from linear_age.bias
	st, err = Load(write("plain.safetensors", glcnn.Config{InputH: 64, InputW: 44, K: 60}, nil))
	if err != nil || st.Model.Loss != glcnn.LossODL || st.Model.K != 60 {
		t.Fatalf("plain state_dict: %+v, %v", st, err)
	}
	for lt, k := range map[glcnn.LossType]int{glcnn.LossCORAL: 12, glcnn.LossCORN: 13, glcnn.LossDLDL: 14, glcnn.LossMeanVariance: 15} {
		c := glcnn.Config{InputH: 64, InputW: 44, K: k, Loss: lt}
		st, err := Load(write(string(lt)+".safetensors", c, map[string]string{"loss_type": string(lt)}))
		if err != nil || st.Model.Loss != lt || st.Model.K != k {
			t.Errorf("%s without k: %+v, %v", lt, st, err)
		}
	}
	bad := write("bad.safetensors", glcnn.Config{InputH: 64, InputW: 44, K: 100}, map[string]string{"loss_type": "softmax"})
	_, err = Load(bad)
	if err == nil || err.Error() != "load "+bad+`: metadata loss_type: loss type "softmax": want odl, ranking, coral, corn, dldl, mean-variance or l1` {
		t.Errorf("unknown loss type: %v", err)
	}
	// an odl file read as another type's would not fit: the metadata decides
	coralMeta := write("mislabelled.safetensors", glcnn.Config{InputH: 64, InputW: 44, K: 100}, map[string]string{"loss_type": "coral"})
	if _, err := Load(coralMeta); err == nil || !strings.Contains(err.Error(), "missing coral_age.weight") {
		t.Errorf("odl weights labelled coral: %v", err)
	}
}

// valuedWeights are weights of every parameter of c with distinct values
// (offset by off), so a mix-up between tensors shows.
func valuedWeights(c glcnn.Config, off float32) map[string]glcnn.Weight {
	w := map[string]glcnn.Weight{}
	for i, s := range c.Specs() {
		v := make([]float32, glcnn.Numel(s.Shape))
		for k := range v {
			v[k] = off + float32(i) + float32(k%7)/8
		}
		w[s.Name] = glcnn.Weight{Shape: s.Shape, Data: v}
	}
	return w
}

// LoadModel and ReadModel give a training checkpoint's weights, model and
// metadata exactly as Load does, without the Adam moments, and never read a
// byte of the moments' data (the reads are recorded); an export loads the
// same through either.
func TestLoadModelSkipsMoments(t *testing.T) {
	c := glcnn.DefaultConfig()
	st := &State{Model: c, Weights: valuedWeights(c, 0), ExpAvg: valuedWeights(c, 100), ExpAvgSq: valuedWeights(c, 200),
		Epoch: 2, BatchesDone: 3, WorldSize: 1, Step: 70, BestMAE: 4.5, Seed: 9, RNG: []byte{1, 2}, Config: "a: 1\n", TrainMeanAge: 38}
	dir := t.TempDir()
	path := filepath.Join(dir, "last.ckpt")
	if err := Save(path, st); err != nil {
		t.Fatal(err)
	}
	full, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if full.ExpAvg == nil || full.ExpAvgSq["linear_age.bias"].Data[0] != 200+float32(len(c.Specs())-3) {
		t.Fatalf("Load lost the moments: %v", full.ExpAvgSq["linear_age.bias"].Data[:1])
	}
	got, err := LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rr := &gaitordtest.ReadRecorder{B: b}
	viaRead, err := ReadModel("upload", rr, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*State{got, viaRead} {
		if s.ExpAvg != nil || s.ExpAvgSq != nil {
			t.Fatal("LoadModel returned the moments")
		}
		if s.Model != full.Model || s.Kind != KindCheckpoint || s.Epoch != 2 || s.BatchesDone != 3 || s.Step != 70 ||
			s.BestMAE != 4.5 || s.Seed != 9 || !slices.Equal(s.RNG, []byte{1, 2}) || s.Config != "a: 1\n" || s.TrainMeanAge != 38 {
			t.Fatalf("metadata: %s", s.MarshalSummary())
		}
		if len(s.Weights) != len(st.Weights) {
			t.Fatalf("%d weights, want %d", len(s.Weights), len(st.Weights))
		}
		for name, w := range st.Weights {
			if !slices.Equal(s.Weights[name].Data, w.Data) || !slices.Equal(s.Weights[name].Shape, w.Shape) {
				t.Fatalf("tensor %s differs", name)
			}
		}
	}
	// Where the moments' data lies, from the header Load has checked.
	f, err := safetensors.ReadNamed(bytes.NewReader(b), int64(len(b)), "x")
	if err != nil {
		t.Fatal(err)
	}
	var weightBytes, read int64
	for _, name := range f.Names() {
		_, shape, _ := f.Info(name)
		if !strings.HasPrefix(name, "optim.") {
			weightBytes += 4 * glcnn.Numel(shape)
		}
	}
	hdrEnd := 8 + int64(binary.LittleEndian.Uint64(b))
	for _, r := range rr.Reads {
		if r[0] >= hdrEnd {
			read += r[1] - r[0]
		}
	}
	if read != weightBytes || weightBytes*3 != int64(len(b))-hdrEnd {
		t.Fatalf("ReadModel read %d data bytes; the weights hold %d of %d", read, weightBytes, int64(len(b))-hdrEnd)
	}

	// An export: the same through both.
	exp := filepath.Join(dir, "w.safetensors")
	if err := SaveWeights(exp, c, st.Weights, 38); err != nil {
		t.Fatal(err)
	}
	a, errA := Load(exp)
	m, errM := LoadModel(exp)
	if errA != nil || errM != nil || a.Kind != KindWeights || m.Kind != KindWeights || m.Model != a.Model || m.TrainMeanAge != 38 ||
		!slices.Equal(m.Weights["linear_age.weight"].Data, a.Weights["linear_age.weight"].Data) {
		t.Fatalf("export: %v %v", errA, errM)
	}
}

// LoadModel still checks the moments' names and shapes from the header (a
// file Load refuses for its layout, LoadModel refuses too), while their
// values, which it never reads, cannot stop it: a NaN in a moment fails Load
// only.
func TestLoadModelChecksMomentLayout(t *testing.T) {
	c := glcnn.DefaultConfig()
	dir := t.TempDir()
	save := func(name string, edit func(s *State)) string {
		s := &State{Model: c, Weights: valuedWeights(c, 0), ExpAvg: valuedWeights(c, 1), ExpAvgSq: valuedWeights(c, 2), RNG: []byte{1}, Config: "a: 1\n"}
		edit(s)
		p := filepath.Join(dir, name)
		if err := Save(p, s); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wrongShape := save("shape.ckpt", func(s *State) {
		s.ExpAvg["linear_age.bias"] = glcnn.Weight{Shape: []int64{3}, Data: []float32{0, 0, 0}}
	})
	missing := save("missing.ckpt", func(s *State) { delete(s.ExpAvgSq, "linear_gender.bias") })
	nan := save("nan.ckpt", func(s *State) { s.ExpAvg["linear_age.bias"].Data[0] = float32(math.NaN()) })
	for path, want := range map[string]string{
		wrongShape: "optimiser exp_avg: weights do not fit the model: linear_age.bias has shape [3]",
		missing:    "optimiser exp_avg_sq: weights do not fit the model: missing linear_gender.bias",
	} {
		for what, load := range map[string]func(string) (*State, error){"Load": Load, "LoadModel": LoadModel} {
			if _, err := load(path); err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "load "+path+": ") {
				t.Errorf("%s(%s): %v, want %q", what, filepath.Base(path), err, want)
			}
		}
	}
	if _, err := Load(nan); err == nil || !strings.Contains(err.Error(), "optimiser exp_avg") {
		t.Errorf("Load of a NaN moment: %v", err)
	}
	if s, err := LoadModel(nan); err != nil || s.Weights["linear_age.bias"].Data[0] != float32(len(c.Specs())-3) {
		t.Errorf("LoadModel of a NaN moment: %v", err)
	}
}
