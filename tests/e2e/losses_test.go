package e2e

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/odl"
	"github.com/gaitord/gaitord/internal/safetensors"
	"github.com/gaitord/gaitord/internal/train"
)

const debianPython = "/usr/bin/python3"

// ortReady reports whether ONNX Runtime for Node (tools/ort) can run here.
func ortReady() bool {
	if _, err := exec.LookPath("node"); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join("..", "..", "tools", "ort", "node_modules", "onnxruntime-node"))
	return err == nil
}

// torchReady reports whether Debian's python3 with torch can run the
// reference script.
func torchReady() bool {
	return exec.Command(debianPython, "-c", "import torch").Run() == nil
}

// TestEveryLossTypeEndToEnd trains every loss type for one epoch on a tiny
// synthetic set with the real binary, then evaluates, predicts and exports
// each: the checkpoint and both exports name the type; eval reports a
// coverage exactly when the type has a distribution; predict's records are
// within the representable ages, carry p_age_gt and an interval except for
// l1; the safetensors export predicts as the checkpoint does; the ONNX
// export's age equals predict's in ONNX Runtime; and the odl and ranking
// exports, and only they, load into the seed's GEINet with strict=True.
func TestEveryLossTypeEndToEnd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "synth")
	mustRun(t, "synth", "--out", data, "--subjects", "12", "--views", "90", "--seed", "11")
	geis, _ := filepath.Glob(filepath.Join(data, "GEI", "090-00", "*.png"))
	if len(geis) < 2 {
		t.Fatalf("synthetic GEIs: %v", geis)
	}
	geis = geis[:2]
	ort, torch := ortReady(), torchReady()
	if !ort {
		t.Log("ONNX Runtime for Node missing (tools/ort): the ONNX exports are not run")
	}
	if !torch {
		t.Logf("%s without torch: the strict loads into the seed's GEINet are not tried", debianPython)
	}
	for _, lt := range glcnn.LossTypes() {
		t.Run(string(lt), func(t *testing.T) {
			dir := t.TempDir()
			run := filepath.Join(dir, "run")
			mustRun(t, "train", "--config", "../../configs/default.yaml", "--data", data, "--format", "synthetic",
				"--out", run, "--epochs", "1", "--batch-size", "4", "--set", "loss.type="+string(lt),
				"--set", "train.val_fraction=0.2", "--set", "data.workers=1")
			best := filepath.Join(run, train.BestFile)
			st, err := checkpoint.Load(best)
			if err != nil || st.Model.Loss != lt {
				t.Fatalf("best.ckpt: %v, loss type %q", err, st.Model.Loss)
			}
			rows, err := train.ReadMetrics(filepath.Join(run, train.MetricsFile))
			if err != nil || len(rows) != 1 {
				t.Fatalf("metrics: %v %v", rows, err)
			}
			for _, name := range odl.TermNames(lt) {
				if v, ok := rows[0].Terms[name]; !ok || !(v >= 0) {
					t.Errorf("metrics row terms %v lack %s", rows[0].Terms, name)
				}
			}

			// eval: coverage exactly for the types with a distribution
			r := mustRun(t, "eval", "--checkpoint", best, "--json")
			var sum map[string]any
			if err := json.Unmarshal([]byte(r.Stdout), &sum); err != nil {
				t.Fatalf("eval --json: %v\n%s", err, r.Stdout)
			}
			_, hasCoverage := sum["coverage80"]
			if sum["n"].(float64) != 12 || hasCoverage != lt.Distribution() || !(sum["mae"].(float64) >= 0) {
				t.Errorf("eval summary %v", sum)
			}
			// the tables, for one type with a distribution and the one without
			tables := lt == glcnn.LossODL || lt == glcnn.LossL1
			if tables {
				table := mustRun(t, "eval", "--checkpoint", best).Stdout
				if !strings.Contains(table, "(loss type "+string(lt)+")") || strings.Contains(table, "coverage") != lt.Distribution() {
					t.Errorf("eval table:\n%s", table)
				}
			}

			// predict: records within the representable ages 0…100
			preds := decodeLines(t, mustRun(t, "predict", "--checkpoint", best, "--json", geis[0], geis[1]).Stdout)
			if len(preds) != 2 {
				t.Fatalf("%d predictions", len(preds))
			}
			for _, p := range preds {
				if p.Age < 0 || p.Age > 100 || p.Median < 0 || p.Median > 100 {
					t.Errorf("prediction outside 0…100: %+v", p)
				}
				if !lt.Distribution() {
					if p.Interval != nil || p.PAgeGT != nil || p.Median != p.Age {
						t.Errorf("l1 prediction %+v: want no interval, no p_age_gt, median = age", p)
					}
					continue
				}
				if p.Interval == nil || len(p.PAgeGT) != 100 || p.Interval[0] < 0 || p.Interval[1] > 100 ||
					p.Interval[0] > p.Median || p.Median > p.Interval[1] {
					t.Errorf("prediction %+v", p)
					continue
				}
				sumP := 0.0
				for _, v := range p.PAgeGT {
					sumP += v
				}
				if math.Abs(sumP-p.Age) > 1e-9 {
					t.Errorf("age %v is not min_age + Σ p_age_gt = %v", p.Age, sumP)
				}
			}
			if tables { // the table shows [lo, hi], or "-" for l1
				text := mustRun(t, "predict", "--checkpoint", best, geis[0]).Stdout
				if strings.Contains(text, "[") != lt.Distribution() || strings.Contains(text, "  -  ") == lt.Distribution() {
					t.Errorf("predict table:\n%s", text)
				}
			}

			// safetensors export: the type in the metadata, the same predictions
			exported := filepath.Join(dir, "glcnn.safetensors")
			r = mustRun(t, "export", "--checkpoint", best, "--format", "safetensors", "--out", exported)
			if !strings.Contains(r.Stdout, "loss type "+string(lt)) {
				t.Errorf("export says %q", r.Stdout)
			}
			f, err := safetensors.Open(exported)
			if err != nil || f.Metadata()["loss_type"] != string(lt) {
				t.Fatalf("export metadata: %v %v", err, f.Metadata())
			}
			again := decodeLines(t, mustRun(t, "predict", "--checkpoint", exported, "--json", geis[0], geis[1]).Stdout)
			for i := range preds {
				if again[i].Age != preds[i].Age || again[i].PMale != preds[i].PMale {
					t.Errorf("export predicts %+v, checkpoint %+v", again[i], preds[i])
				}
			}
			if torch {
				// the seed's GEINet (linear_age, K outputs) takes exactly odl's and ranking's exports
				out, err := exec.Command(debianPython, "-c", `
import sys
sys.path.insert(0, "../../tests/pyref")
import glcnn
sd, _ = glcnn.load_safetensors(sys.argv[1])
try:
    glcnn.GEINet(64, 44, 100).load_state_dict(sd, strict=True)
    print("loads")
except RuntimeError as e:
    print("refused:", str(e).splitlines()[0])
`, exported).CombinedOutput()
				seedHead := lt == glcnn.LossODL || lt == glcnn.LossRanking
				if err != nil || strings.HasPrefix(string(out), "loads") != seedHead {
					t.Errorf("strict load into the seed's GEINet: %v %s", err, out)
				}
			}

			// ONNX export: ONNX Runtime's age is predict's
			onnxPath := filepath.Join(dir, "glcnn.onnx")
			mustRun(t, "export", "--checkpoint", best, "--format", "onnx", "--out", onnxPath)
			if !ort {
				return
			}
			in := filepath.Join(dir, "x.f32")
			var raw []byte
			for _, g := range geis {
				img, err := gei.Load(g, gei.Size{H: 64, W: 44})
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range img {
					raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
				}
			}
			if err := os.WriteFile(in, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			outJSON := filepath.Join(dir, "ort.json")
			if b, err := exec.Command("node", filepath.Join("..", "..", "tools", "ort", "run.mjs"), onnxPath, in, "2", outJSON).CombinedOutput(); err != nil {
				t.Fatalf("ONNX Runtime: %v\n%s", err, b)
			}
			b, err := os.ReadFile(outJSON)
			if err != nil {
				t.Fatal(err)
			}
			var o struct {
				AgeLogits [][]float64 `json:"age_logits"`
				Age       []float64   `json:"age"`
			}
			if err := json.Unmarshal(b, &o); err != nil {
				t.Fatal(err)
			}
			if len(o.AgeLogits) != 2 || len(o.AgeLogits[0]) != st.Model.AgeOutputs() {
				t.Fatalf("ONNX age_logits %d×%d, want 2×%d", len(o.AgeLogits), len(o.AgeLogits[0]), st.Model.AgeOutputs())
			}
			for i, p := range preds {
				if d := math.Abs(o.Age[i] - p.Age); d > 1e-3 {
					t.Errorf("%s: ONNX Runtime age %v, predict %v", geis[i], o.Age[i], p.Age)
				}
			}
			t.Logf("%s: predict %.3f %.3f, ONNX Runtime %.3f %.3f; eval MAE %.2f", lt, preds[0].Age, preds[1].Age, o.Age[0], o.Age[1], sum["mae"])
		})
	}
}
