// Command gobench is the gaitord side of bench/run.sh: it times the GL-CNN's
// training step, inference, memory growth, the PNG data pipeline and a matmul
// through gaitord's own packages, and prints one JSON object per run.
//
//	gobench -mode weights -out W.safetensors
//	gobench -mode checkpoint -out C.ckpt     (a training checkpoint, Adam moments included)
//	gobench -mode pngs -dir D -n 2000
//	gobench -mode train -batch 64 -warmup 5 -repeats 5 -steps 10 [-device cuda]
//	gobench -mode mem -batch 8 -steps 2000 -marks 200,2000
//	gobench -mode infer -batch 256 [-device cuda]
//	gobench -mode data -dir D -epochs 3
//	gobench -mode predict -weights W file.png   (stand-in for `gaitord predict`)
//	gobench -mode mm -n 2048
//
// -height, -width (train, mem, infer, checkpoint): the input size, 64×44 by
// default; 128×88 is the OULP-Age model (configs/oulp-age.yaml).
//
// -device (train, infer): "cpu" (default), "cuda" or "cuda:N" puts the
// model, the Adam moments and every batch there; the clock is read after a
// host copy of the loss (train) or the logits (infer), which waits for the GPU.
//
// Lever flags (prototypes, not gaitord behaviour): -interop N, -mkldnn=false,
// -channels-last, -gc-every N, -cpuprofile FILE; -layouts 0…4 (CPU conv
// block layouts, torchx.SetCPULayouts), -ab-layouts 3,4 (train, infer: levels
// timed alternately within one process), -fused-adam=false (op-by-op Adam),
// -grad-mode nograd|inference (infer mode's autograd switch).
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/dist"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/odl"
	"github.com/gaitord/gaitord/internal/optim"
	"github.com/gaitord/gaitord/internal/torchx"
	"github.com/gaitord/gaitord/internal/train"
	torch "github.com/wangkuiyi/gotorch"
)

var (
	mode     = flag.String("mode", "train", "weights|pngs|train|mem|infer|data|predict|mm")
	threads  = flag.Int("threads", 2, "libtorch intra-op threads")
	batch    = flag.Int("batch", 64, "batch size")
	warmup   = flag.Int("warmup", 5, "warm-up steps")
	repeats  = flag.Int("repeats", 5, "timed repeats")
	steps    = flag.Int("steps", 10, "steps per repeat (mem: total steps)")
	marks    = flag.String("marks", "200,2000", "mem: steps after which VmRSS is recorded")
	out      = flag.String("out", "", "weights: output path")
	dir      = flag.String("dir", "", "pngs/data: folder of PNGs")
	n        = flag.Int("n", 2000, "pngs: count; mm: matrix size")
	epochs   = flag.Int("epochs", 3, "data: timed epochs")
	workers  = flag.Int("workers", 0, "data: decoding goroutines (0 = GOMAXPROCS)")
	weights  = flag.String("weights", "", "predict: weights file")
	interop  = flag.Int("interop", 0, "lever: at::set_num_interop_threads (0 = leave)")
	mkldnn   = flag.Bool("mkldnn", true, "lever: oneDNN (mkldnn) convolutions")
	chLast   = flag.Bool("channels-last", false, "lever: channels-last weights and input")
	gcEvery  = flag.Int("gc-every", 0, "lever: call torch.GC() every N steps (0: as internal/train, 1 on cpu, 4 on a GPU)")
	cpuProf  = flag.String("cpuprofile", "", "write a Go CPU profile of the timed steps")
	withLoad = flag.Bool("loader", false, "train: feed batches from dataset.Loader over -dir")
	device   = flag.String("device", "cpu", "train/infer: cpu, cuda or cuda:N")
	layouts  = flag.Int("layouts", -1, "lever: CPU conv-block layouts (0 plain, 1 channels-last first layer, 2 all strided, 3 + oneDNN blocked without autograd, 4 + channels-last multi-channel convs; -1: torchx's default)")
	abLay    = flag.String("ab-layouts", "", "train, infer: comma-separated -layouts levels timed alternately in each repeat (ab_samples_per_s, ab_geis_per_s)")
	fusedAdm = flag.Bool("fused-adam", true, "lever: one-pass fused Adam on CPU")
	gradMode = flag.String("grad-mode", "inference", "lever: infer mode's autograd switch, inference|nograd")
	prec     = flag.String("precision", "fp32", "infer: fp32, or int8 (model.Int8 on oneDNN, calibrated on train.CalibrationGEIs other synthetic GEIs)")
	height   = flag.Int("height", 64, "train/mem/infer/weights/checkpoint: input height (128 with -width 88: the OULP-Age model)")
	width    = flag.Int("width", 44, "train/mem/infer/weights/checkpoint: input width")
)

// benchConfig is the model the benchmark times: the default one at
// -height × -width (configs/oulp-age.yaml's model is 128×88 with the
// defaults' K, min_age and dropout).
func benchConfig() model.Config {
	c := model.DefaultConfig()
	c.InputH, c.InputW = *height, *width
	return c
}

func main() {
	flag.Parse()
	torchx.SetNumThreads(*threads)
	if *interop > 0 {
		if torchx.Catch(func() { torchx.SetInteropThreads(*interop) }) != nil {
			fail(fmt.Errorf("set_num_interop_threads(%d) refused", *interop))
		}
	}
	torchx.SetMKLDNNEnabled(*mkldnn)
	if *layouts >= 0 {
		torchx.SetCPULayouts(*layouts)
	}
	if !*fusedAdm {
		torchx.SetAdamMode(torchx.AdamOpByOp)
	}
	if err := model.CheckDevice(*device); err != nil {
		fail(err)
	}
	res := map[string]any{"side": "gaitord", "mode": *mode, "threads": torchx.NumThreads(),
		"interop_threads": torchx.InteropThreads(), "mkldnn": torchx.MKLDNNEnabled(),
		"channels_last": *chLast, "gomaxprocs": runtime.GOMAXPROCS(0), "device": *device,
		"layouts": torchx.CPULayouts(), "fused_adam": *fusedAdm, "height": *height, "width": *width}
	var err error
	switch *mode {
	case "weights":
		err = writeWeights(*out)
	case "checkpoint":
		err = writeCheckpoint(*out)
	case "pngs":
		err = writePNGs(*dir, *n)
	case "train":
		err = benchTrain(res)
	case "mem":
		err = benchMem(res)
	case "infer":
		err = benchInfer(res)
	case "data":
		err = benchData(res)
	case "predict":
		err = predict(flag.Args())
	case "mm":
		err = benchMM(res)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fail(err)
	}
	if *mode == "weights" || *mode == "checkpoint" || *mode == "pngs" || *mode == "predict" { // these print their own output
		return
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gobench:", err)
	os.Exit(1)
}

// procStatus returns VmRSS and VmHWM in MiB.
func procStatus() (rss, hwm float64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(fs[1], 64)
		switch fs[0] {
		case "VmRSS:":
			rss = v / 1024
		case "VmHWM:":
			hwm = v / 1024
		}
	}
	return rss, hwm
}

func newModel() *model.GLCNN {
	m, err := model.New(benchConfig(), 1, *device)
	if err != nil {
		fail(err)
	}
	if *chLast {
		for _, p := range m.Params() {
			torchx.ChannelsLast_(p)
		}
	}
	return m
}

// gcInterval is -gc-every, or by default internal/infer's choice for -device.
func gcInterval() int {
	if *gcEvery > 0 {
		return *gcEvery
	}
	return infer.GCEvery(*device)
}

// input copies a host batch to -device (one copy, as internal/train and
// internal/infer do) and re-lays it out channels-last when that lever is on.
func input(images []float32, shape ...int64) torchx.Tensor {
	x := torchx.FromFloat32On(images, *device, shape...)
	if !*chLast {
		return x
	}
	return torchx.ChannelsLast(x)
}

// synthBatch is a fixed random batch (Go memory, reused every step).
type synthBatch struct {
	dataset.Batch
	n int
}

func newBatch(n int, seed uint64) synthBatch {
	c := benchConfig()
	r := rand.New(rand.NewPCG(seed, 7))
	b := synthBatch{Batch: dataset.Batch{Images: make([]float32, n*c.InputH*c.InputW), Ages: make([]int, n), Genders: make([]api.Gender, n)}, n: n}
	for i := range b.Images {
		b.Images[i] = r.Float32()
	}
	for i := range n {
		b.Ages[i] = r.IntN(c.K)
		b.Genders[i] = []api.Gender{api.Female, api.Male}[r.IntN(2)]
	}
	return b
}

// benchAdam is the optimiser the train and mem modes time.
var benchAdam = optim.Config{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}

// trainer takes internal/train's own steps (train.Stepper: forward,
// objective, zero_grad, backward, the gradient all-reduce of a process
// alone, Adam) and times the GC calls between them.
type trainer struct {
	s         *train.Stepper
	gcSeconds float64
	gcCalls   int
}

func newTrainer() *trainer {
	m := newModel()
	m.Train(true)
	opt, err := optim.NewAdam(m.Names(), m.Params(), benchAdam)
	if err != nil {
		fail(err)
	}
	return &trainer{s: &train.Stepper{Model: m, Optim: opt, Group: dist.NewLocal(),
		Loss: odl.Weights{Lambda: 1, Mu: 1}, Input: input}}
}

// trainStep takes one step; the loss values are read after backward (a
// host copy: it waits for the device), as in every training step.
func (t *trainer) trainStep(b dataset.Batch) float64 {
	l, votes, err := t.s.Step(context.Background(), b, benchAdam.LR)
	if err != nil {
		fail(err)
	}
	step := t.s.Optim.Steps()
	if votes.NonFinite > 0 {
		fail(fmt.Errorf("step %d: the loss is %v", step+1, l.TotalValue))
	}
	if step%int64(gcInterval()) == 0 {
		s := time.Now()
		torch.GC()
		t.gcSeconds += time.Since(s).Seconds()
		t.gcCalls++
	}
	return l.TotalValue
}

// sync waits for a GPU to finish the queued backward pass and Adam update
// (the loss value of a step is read before them) by copying a value of an
// updated parameter to the host. On CPU every op has finished already.
func (t *trainer) sync() {
	if *device == "cpu" {
		return
	}
	ps := t.s.Optim.Params()
	err := torchx.Catch(func() { _ = torchx.Item(torchx.Mean(ps[len(ps)-1])) })
	if err != nil {
		fail(err)
	}
}

func startProfile() func() {
	if *cpuProf == "" {
		return func() {}
	}
	f, err := os.Create(*cpuProf)
	if err != nil {
		fail(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fail(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func benchTrain(res map[string]any) error {
	t := newTrainer()
	b := newBatch(*batch, 1)
	next := func() dataset.Batch { return b.Batch }
	if *withLoad {
		ch, closeFn, err := loaderBatches(*dir, *batch)
		if err != nil {
			return err
		}
		defer closeFn()
		next = func() dataset.Batch { return <-ch }
	}
	var loss float64
	for range *warmup {
		loss = t.trainStep(next())
	}
	t.sync()
	t.gcSeconds, t.gcCalls = 0, 0
	stop := startProfile()
	var rates, stepMS []float64
	for range *repeats {
		s := time.Now()
		for range *steps {
			loss = t.trainStep(next())
		}
		t.sync()
		d := time.Since(s).Seconds()
		rates = append(rates, float64(*steps**batch)/d)
		stepMS = append(stepMS, 1000*d/float64(*steps))
	}
	stop()
	if *abLay != "" { // interleaved A/B of conv-block layouts: one repeat of each level in turn
		res["ab_samples_per_s"] = abLayouts(func() float64 {
			t.trainStep(next())
			t.sync()
			s := time.Now()
			for range *steps {
				t.trainStep(next())
			}
			t.sync()
			return float64(*steps**batch) / time.Since(s).Seconds()
		})
	}
	torch.FinishGC()
	rss, hwm := procStatus()
	res["batch"], res["samples_per_s"], res["step_ms"] = *batch, rates, stepMS
	res["gc_ms_per_call"] = 1000 * t.gcSeconds / math.Max(1, float64(t.gcCalls))
	res["gc_ms_per_step"] = 1000 * t.gcSeconds / float64(*repeats**steps)
	res["rss_mib"], res["hwm_mib"], res["last_loss"] = rss, hwm, loss
	res["fwd_flops_per_sample"] = benchConfig().FLOPs()
	return nil
}

// abLayouts runs -repeats rounds; each round sets every -ab-layouts level in
// turn and records run's rate under it, then restores the previous level.
func abLayouts(run func() float64) map[string][]float64 {
	names := strings.Split(*abLay, ",")
	levels := make([]int, len(names))
	for i, l := range names {
		if _, err := fmt.Sscanf(l, "%d", &levels[i]); err != nil {
			fail(fmt.Errorf("-ab-layouts %q: %w", *abLay, err))
		}
	}
	ab := map[string][]float64{}
	for range *repeats {
		for i, lv := range levels {
			prev := torchx.SetCPULayouts(lv)
			ab[names[i]] = append(ab[names[i]], run())
			torchx.SetCPULayouts(prev)
		}
	}
	return ab
}

func benchMem(res map[string]any) error {
	var want []int
	for _, s := range strings.Split(*marks, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		want = append(want, v)
	}
	sort.Ints(want)
	t := newTrainer()
	b := newBatch(*batch, 2)
	rss0, _ := procStatus()
	at := map[string]float64{}
	s := time.Now()
	for i := 1; i <= want[len(want)-1]; i++ {
		t.trainStep(b.Batch)
		for _, w := range want {
			if i == w {
				r, _ := procStatus()
				at[strconv.Itoa(w)] = r
			}
		}
	}
	torch.FinishGC()
	_, hwm := procStatus()
	res["batch"], res["rss_start_mib"], res["rss_mib_at_step"], res["hwm_mib"] = *batch, rss0, at, hwm
	res["seconds"] = time.Since(s).Seconds()
	return nil
}

func benchInfer(res map[string]any) error {
	m := newModel()
	m.Train(false)
	b := newBatch(*batch, 3)
	c := m.Config()
	var net infer.Net = m
	switch *prec {
	case "fp32":
	case "int8":
		cb := newBatch(train.CalibrationGEIs, 4)
		q, err := infer.NewInt8(m, cb.Images, cb.n, 64)
		if err != nil {
			return err
		}
		defer q.Close()
		net = q
	default:
		fail(fmt.Errorf("-precision %q: want fp32 or int8", *prec))
	}
	res["precision"] = *prec
	scope := torchx.InferenceMode
	switch *gradMode {
	case "inference":
	case "nograd":
		scope = torchx.NoGrad
	default:
		fail(fmt.Errorf("-grad-mode %q: want inference or nograd", *gradMode))
	}
	every, k := gcInterval(), 0
	fwd := func() {
		err := torchx.Catch(func() {
			scope(func() {
				x := input(b.Images, int64(b.n), 1, int64(c.InputH), int64(c.InputW))
				age, _ := net.Forward(x)
				_ = torchx.Float32s(age) // a host copy: waits for the device
			})
		})
		if err != nil {
			fail(err)
		}
		if k++; k%every == 0 {
			torch.GC()
		}
	}
	for range *warmup {
		fwd()
	}
	var rates []float64
	for range *repeats {
		s := time.Now()
		for range *steps {
			fwd()
		}
		rates = append(rates, float64(*steps**batch)/time.Since(s).Seconds())
	}
	if *abLay != "" { // interleaved A/B of conv-block layouts: one repeat of each level in turn
		res["ab_geis_per_s"] = abLayouts(func() float64 {
			fwd()
			s := time.Now()
			for range *steps {
				fwd()
			}
			return float64(*steps**batch) / time.Since(s).Seconds()
		})
	}
	// The product path: infer.Batch (forward + sigmoid/softmax + host decode).
	var full []float64
	for range *repeats {
		s := time.Now()
		if _, err := infer.Batch(net, b.Images, b.n); err != nil {
			return err
		}
		infer.GC()
		full = append(full, float64(b.n)/time.Since(s).Seconds())
	}
	torch.FinishGC()
	_, hwm := procStatus()
	res["batch"], res["geis_per_s"], res["infer_batch_geis_per_s"], res["hwm_mib"] = *batch, rates, full, hwm
	res["grad_mode"] = *gradMode
	return nil
}

func benchMM(res map[string]any) error {
	k := int64(*n)
	a := torchx.Zeros(k, k)
	w := torchx.Zeros(k, k)
	torchx.Uniform_(a, -1, 1)
	torchx.Uniform_(w, -1, 1)
	var g []float64
	for i := range *repeats + 2 {
		s := time.Now()
		_ = torchx.Linear(a, w, torchx.Tensor{}) // a·wᵀ: one 2·k³ GEMM
		d := time.Since(s).Seconds()
		torch.GC()
		if i >= 2 {
			g = append(g, 2*float64(k*k*k)/d/1e9)
		}
	}
	torch.FinishGC()
	res["n"], res["gflops"] = k, g
	return nil
}

func writeWeights(path string) error {
	m := newModel()
	ws := m.Weights()
	type entry struct {
		DType   string  `json:"dtype"`
		Shape   []int64 `json:"shape"`
		Offsets [2]int  `json:"data_offsets"`
	}
	hdr := map[string]any{}
	var raw []byte
	for _, s := range benchConfig().Specs() {
		d := ws[s.Name].Data
		hdr[s.Name] = entry{"F32", s.Shape, [2]int{len(raw), len(raw) + 4*len(d)}}
		for _, v := range d {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	}
	h, _ := json.Marshal(hdr)
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	buf := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	buf = append(append(buf, h...), raw...)
	return os.WriteFile(path, buf, 0o644)
}

// writeCheckpoint writes a training checkpoint of the benchmark's model
// through internal/checkpoint, Adam moments included (random: only their
// size matters), as `gaitord train` leaves one: three times the bytes of an
// export, two thirds of which prediction never uses.
func writeCheckpoint(path string) error {
	m := newModel()
	ws := m.Weights()
	moment := func(seed uint64) map[string]glcnn.Weight {
		r := rand.New(rand.NewPCG(seed, 11))
		out := make(map[string]glcnn.Weight, len(ws))
		for name, w := range ws {
			v := make([]float32, len(w.Data))
			for i := range v {
				v[i] = r.Float32() * 1e-3
			}
			out[name] = glcnn.Weight{Shape: w.Shape, Data: v}
		}
		return out
	}
	return checkpoint.Save(path, &checkpoint.State{Model: m.Config(), Weights: ws, ExpAvg: moment(1), ExpAvgSq: moment(2),
		Epoch: 1, Step: 100, WorldSize: 1, Seed: 1, RNG: []byte{0}, Config: "# gobench\n"})
}

// writePNGs writes n GEI-like 64×44 gray PNGs (a soft body blob, varying per file).
func writePNGs(d string, count int) error {
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	h, w := 64, 44
	for i := range count {
		img := make([]float32, h*w)
		for y := range h {
			for x := range w {
				dx := float64(x-w/2) / (6 + float64(i%5))
				dy := float64(y-h/2) / 26
				img[y*w+x] = float32(math.Exp(-(dx*dx + dy*dy*dy*dy)))
			}
		}
		if err := gei.WritePNG(filepath.Join(d, fmt.Sprintf("%05d.png", i)), img, gei.DefaultSize); err != nil {
			return err
		}
	}
	return nil
}

func listSamples(d string) ([]dataset.Sample, error) {
	names, err := filepath.Glob(filepath.Join(d, "*.png"))
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("no PNGs in %q", d)
	}
	sort.Strings(names)
	s := make([]dataset.Sample, len(names))
	for i, p := range names {
		s[i] = dataset.Sample{Path: p, Age: i % 90, Gender: []api.Gender{api.Female, api.Male}[i%2]}
	}
	return s, nil
}

func decode(p string) ([]float32, error) { return gei.Load(p, gei.DefaultSize) }

func loaderBatches(d string, bs int) (<-chan dataset.Batch, func(), error) {
	samples, err := listSamples(d)
	if err != nil {
		return nil, nil, err
	}
	l := dataset.NewLoader(samples, dataset.LoaderOptions{BatchSize: bs, Shuffle: true, Flip: true, DropLast: true,
		Workers: *workers, H: 64, W: 44, Decode: decode})
	ch := make(chan dataset.Batch)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for e := 0; ; e++ {
			for b := range l.Epoch(e) {
				select {
				case ch <- b:
				case <-done:
					return
				}
			}
		}
	}()
	return ch, func() { close(done); l.Close() }, nil
}

func benchData(res map[string]any) error {
	samples, err := listSamples(*dir)
	if err != nil {
		return err
	}
	l := dataset.NewLoader(samples, dataset.LoaderOptions{BatchSize: 64, Shuffle: true, Flip: true,
		Workers: *workers, H: 64, W: 44, Decode: decode})
	defer l.Close()
	var rates []float64
	for e := range *epochs + 1 {
		s := time.Now()
		got := 0
		for b := range l.Epoch(e) {
			if b.Err != nil {
				return b.Err
			}
			got += len(b.Indices)
		}
		if e > 0 { // epoch 0 warms the page cache
			rates = append(rates, float64(got)/time.Since(s).Seconds())
		}
	}
	// Single goroutine gei.Load, no Loader, for the per-core cost.
	s := time.Now()
	for _, smp := range samples {
		if _, err := decode(smp.Path); err != nil {
			return err
		}
	}
	res["files"], res["geis_per_s"] = len(samples), rates
	res["single_goroutine_geis_per_s"] = float64(len(samples)) / time.Since(s).Seconds()
	return nil
}

// predict is a stand-in for `gaitord predict`: load weights, gei.Load, forward, print.
func predict(paths []string) error {
	st, err := checkpoint.LoadModel(*weights) // as predict and serve load: no Adam moments, no random init
	if err != nil {
		return err
	}
	m, err := model.FromWeights(st.Model, st.Weights, "cpu")
	if err != nil {
		return err
	}
	for _, p := range paths {
		img, err := gei.Load(p, gei.DefaultSize)
		if err != nil {
			return err
		}
		o, err := infer.Batch(m, img, 1)
		if err != nil {
			return err
		}
		fmt.Printf("%s\t%.1f\t%.2f\n", p, o.Ordinal[0].Age, o.PMale[0])
	}
	return nil
}
