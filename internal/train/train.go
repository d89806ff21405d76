// Package train runs gaitord's training loop: Adam on the objective of the
// model's loss type (internal/odl: ranking + λ·ODL + μ·gender by default), a validation pass per epoch, atomic `last` and `best`
// checkpoints, a metrics log, exact resumption and a clean stop on Ctrl-C.
//
// The loop is written once for one process and for a data-parallel job: it
// runs over a dist.Comm, which is a c10d group or the local group of one
// process, and a step is Stepper.Step, which bench/gobench times too.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/dist"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/odl"
	"github.com/gaitord/gaitord/internal/optim"
	"github.com/gaitord/gaitord/internal/torchx"
	"github.com/schollz/progressbar/v3"
)

// Schedule is the learning-rate schedule, applied per epoch.
type Schedule struct {
	Type         string  // "none", "step" or "cosine"
	StepEpochs   int     // step: multiply by Gamma every StepEpochs epochs
	Gamma        float64 // step: decay factor
	WarmupEpochs int     // linear warm-up from LR/WarmupEpochs over the first epochs
}

// LR returns the learning rate of epoch e (0-based) of total epochs.
func (s Schedule) LR(base float64, e, total int) float64 {
	lr := base
	switch s.Type {
	case "step":
		if s.StepEpochs > 0 {
			lr = base * math.Pow(s.Gamma, float64(e/s.StepEpochs))
		}
	case "cosine":
		lr = base * 0.5 * (1 + math.Cos(math.Pi*float64(e)/float64(max(total, 1))))
	}
	if s.WarmupEpochs > 0 && e < s.WarmupEpochs {
		lr *= float64(e+1) / float64(s.WarmupEpochs)
	}
	return lr
}

// Hyper are the hyperparameters of one run.
type Hyper struct {
	Model         model.Config
	Seed          int64
	Device        string
	Epochs        int
	BatchSize     int
	EvalBatchSize int
	Optim         optim.Config // Adam; Optim.LR is the schedule's base rate
	Schedule      Schedule
	Loss          odl.Weights // the objective of Model.Loss's type
	Workers       int
	Prefetch      int
	Flip          bool
}

// Options describe a run.
type Options struct {
	Hyper        Hyper
	RunDir       string
	Resume       bool
	ConfigYAML   string // resolved experiment configuration, stored in checkpoints
	Train, Val   []dataset.Sample
	TrainMeanAge float64
	Decode       func(path string) ([]float32, error)
	Log          io.Writer // progress bars and per-epoch lines; nil for silence
	Progress     bool      // draw progress bars on Log
	// StepLog, if set, gets one line per optimiser step (gaitord train
	// --verbose): step, epoch, batch, the loss and its parts, the learning
	// rate and the step's samples/s (from the end of the previous step, so
	// waiting for the loader counts). Only rank 0 writes it.
	StepLog io.Writer
	// AfterStep, if set, is called after every optimiser step (tests use it
	// to interrupt a run at a chosen point).
	AfterStep func(epoch int, step int64)
	// Group is the process group this process trains in. With more than
	// one rank the training set is sharded over the ranks (DistributedSampler
	// semantics), gradients are averaged after every backward pass, rank 0
	// alone writes the run folder, and validation metrics are computed over
	// the whole validation split. Every rank calls Run with the same
	// options except Log. Nil is dist.NewLocal(): this process alone.
	Group dist.Comm
	// BucketBytes caps one gradient all-reduce (0: dist.DefaultBucketBytes).
	BucketBytes int64
}

// Result summarises a finished (or interrupted) run.
type Result struct {
	Epochs      int // completed epochs
	Steps       int64
	BestMAE     float64
	LastMAE     float64
	LastCS5     float64
	Interrupted bool
}

// ErrInterrupted is returned when the context was cancelled (Ctrl-C) and the
// state was saved to last.ckpt.
var ErrInterrupted = errors.New("training interrupted")

// Files in a run folder.
const (
	LastFile    = "last.ckpt"
	BestFile    = "best.ckpt"
	MetricsFile = "metrics.jsonl"
	ConfigFile  = "config.yaml"
	LockFile    = ".lock"
)

type trainer struct {
	o       Options
	h       Hyper
	g       dist.Comm
	m       *model.GLCNN
	opt     *optim.Adam // its step count is the run's
	stepper Stepper
	best    float64
	rank    int // this process's rank, and the number of ranks
	world   int // (0 and 1 alone)
}

// newTrainer builds the model and its optimiser, initialised from the seed,
// in the group o.Group (nil: this process alone).
func newTrainer(o Options) (*trainer, error) {
	g := o.Group
	if g == nil {
		g = dist.NewLocal()
	}
	if g.Rank() != 0 {
		o.Log, o.StepLog = nil, nil
	}
	h := o.Hyper
	m, err := model.New(h.Model, uint64(h.Seed), h.Device)
	if err != nil {
		return nil, err
	}
	opt, err := optim.NewAdam(m.Names(), m.Params(), h.Optim)
	if err != nil {
		return nil, err
	}
	return &trainer{o: o, h: h, g: g, m: m, opt: opt, best: math.Inf(1), rank: g.Rank(), world: g.Size(),
		stepper: Stepper{Model: m, Optim: opt, Group: g, Loss: h.Loss, BucketBytes: o.BucketBytes}}, nil
}

// Run trains until Hyper.Epochs are complete, the context is cancelled (the
// state is saved, ErrInterrupted returned) or an error occurs (the last good
// checkpoint is kept). Call it on the main goroutine: libtorch's thread
// settings and gotorch's GC are per thread.
func Run(ctx context.Context, o Options) (Result, error) {
	h := o.Hyper
	if len(o.Train) == 0 {
		return Result{}, errors.New("train: no training samples")
	}
	if h.BatchSize <= 0 || h.Epochs <= 0 {
		return Result{}, fmt.Errorf("train: batch size %d, epochs %d: both must be positive", h.BatchSize, h.Epochs)
	}
	t, err := newTrainer(o)
	if err != nil {
		return Result{}, err
	}
	o, g, rank0 := t.o, t.g, t.rank == 0

	// Rank 0 owns the run folder: it locks it, checks it and loads the
	// checkpoint; then it sends the outcome (or its error) and the weights,
	// Adam state and RNG state to the other ranks.
	var st start
	if rank0 {
		unlock, err := t.prepare(&st)
		if unlock != nil {
			defer unlock()
		}
		if err != nil {
			st.Err = err.Error()
			_ = g.BroadcastJSON(&st, 0) // tell the other ranks why; they exit too
			return Result{}, err
		}
	}
	if err := t.share(&st); err != nil {
		return Result{}, err
	}
	startEpoch, skipBatches := st.Epoch, st.Skip

	res := Result{BestMAE: t.best, Epochs: startEpoch, Steps: t.opt.Steps()}
	defer infer.FinishGC()
	perRank := (len(o.Train) + t.world - 1) / t.world // DistributedSampler pads to equal shards
	loader := dataset.NewLoader(o.Train, dataset.LoaderOptions{
		BatchSize: h.BatchSize, Shuffle: true, Seed: h.Seed, DropLast: perRank > h.BatchSize,
		Workers: h.Workers, Prefetch: h.Prefetch, Flip: h.Flip,
		H: h.Model.InputH, W: h.Model.InputW, Decode: o.Decode,
		Shard: t.rank, NumShards: t.world,
	})
	defer loader.Close()
	last := filepath.Join(o.RunDir, LastFile)
	for epoch := startEpoch; epoch < h.Epochs; epoch++ {
		lr := h.Schedule.LR(h.Optim.LR, epoch, h.Epochs)
		comm := g.Stats() // the group's all-reduce counters before the epoch
		es, err := t.epoch(ctx, loader, epoch, lr, skipBatches)
		skipBatches = 0
		res.Steps = t.opt.Steps()
		if errors.Is(err, ErrInterrupted) {
			res.Interrupted = true
			if serr := t.save(last, epoch, es.batches); serr != nil {
				return res, fmt.Errorf("interrupted, and saving %s failed: %w", last, serr)
			}
			return res, ErrInterrupted
		}
		if err != nil {
			return res, err
		}
		if err := t.reduceStats(&es); err != nil {
			return res, err
		}
		val, err := t.validate()
		if err != nil {
			return res, fmt.Errorf("epoch %d validation: %w", epoch+1, err)
		}
		improved := len(o.Val) > 0 && val.MAE < t.best
		if improved {
			t.best = val.MAE
		}
		now := g.Stats()
		row := MetricsRow{Epoch: epoch + 1, Step: t.opt.Steps(), LR: lr, Loss: es.meanLoss(), Terms: map[string]float64{},
			Gender: es.gender / float64(max(es.n, 1)), SamplesPerSec: es.samplesPerSec(),
			ValN: val.N, ValMAE: val.MAE, ValCS5: cs5(val), Best: improved, Seconds: es.seconds,
			WorldSize: t.world, AllReduceSeconds: (now.Elapsed - comm.Elapsed).Seconds(), AllReduceCalls: now.Calls - comm.Calls}
		for i, name := range odl.TermNames(h.Model.Loss) {
			row.Terms[name] = es.terms[i] / float64(max(es.n, 1))
		}
		row.Ranking, row.ODL = row.Terms["ranking"], row.Terms["odl"]
		if rank0 {
			if err := appendMetrics(filepath.Join(o.RunDir, MetricsFile), row); err != nil {
				return res, err
			}
		}
		if err := t.save(last, epoch+1, 0); err != nil {
			return res, err
		}
		if improved {
			if err := t.save(filepath.Join(o.RunDir, BestFile), epoch+1, 0); err != nil {
				return res, err
			}
		}
		res.Epochs, res.LastMAE, res.LastCS5, res.BestMAE = epoch+1, val.MAE, cs5(val), t.best
		if o.Log != nil {
			mark := ""
			if improved {
				mark = "  (best)"
			}
			valText := "no validation split"
			if val.N > 0 {
				valText = fmt.Sprintf("val MAE %.2f  CS(5) %.3f%s", val.MAE, row.ValCS5, mark)
			}
			workers := ""
			if t.world > 1 {
				workers = fmt.Sprintf(" (%d ranks, all-reduce %.1f s)", t.world, row.AllReduceSeconds)
			}
			fmt.Fprintf(o.Log, "epoch %d/%d  loss %.4f  %.0f samples/s%s  %s\n", epoch+1, h.Epochs, row.Loss, row.SamplesPerSec, workers, valText)
		}
	}
	if len(o.Val) == 0 {
		// Without a validation split, best is the final model.
		if err := t.save(filepath.Join(o.RunDir, BestFile), res.Epochs, 0); err != nil {
			return res, err
		}
	}
	return res, nil
}

// start is how a run begins: rank 0 decides and tells the other ranks.
type start struct {
	Err       string `json:"err,omitempty"` // rank 0 could not start
	Epoch     int    `json:"epoch"`         // first epoch to train (0-based)
	Skip      int    `json:"skip"`          // batches of that epoch already trained
	Best      string `json:"best"`          // best validation MAE ("+Inf" before any)
	RNG       []byte `json:"rng,omitempty"`
	WorldSize int    `json:"world_size"`
}

// prepare is rank 0's start: create and lock the run folder, then either
// load last.ckpt (resume) or check that the folder holds no run. It returns
// the unlock function once the lock is held.
func (t *trainer) prepare(st *start) (unlock func(), err error) {
	o, h := t.o, t.h
	if err := os.MkdirAll(o.RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder %s: %w", o.RunDir, err)
	}
	unlock, err = Lock(o.RunDir)
	if err != nil {
		return nil, err
	}
	last := filepath.Join(o.RunDir, LastFile)
	if o.Resume {
		ck, err := checkpoint.Load(last)
		if err != nil {
			return unlock, fmt.Errorf("resume: %w", err)
		}
		if ck.Model.Canonical() != h.Model.Canonical() {
			return unlock, fmt.Errorf("resume: %s holds a model %+v, the configuration asks for %+v", last, ck.Model, h.Model)
		}
		if err := t.restore(ck); err != nil {
			return unlock, fmt.Errorf("resume from %s: %w", last, err)
		}
		st.Epoch, st.Skip = ck.Epoch, resumeSkip(ck.BatchesDone, ck.WorldSize, t.world)
		if ck.BatchesDone > 0 && ck.WorldSize != t.world {
			if o.Log != nil {
				fmt.Fprintf(o.Log, "resuming epoch %d, trained by %d rank(s) for %d batches, with %d rank(s): skipping %d batches each\n",
					ck.Epoch+1, ck.WorldSize, ck.BatchesDone, t.world, st.Skip)
			}
		}
		if err := truncateMetrics(filepath.Join(o.RunDir, MetricsFile), ck.Epoch); err != nil {
			return unlock, err
		}
	} else if _, err := os.Stat(last); err == nil {
		return unlock, fmt.Errorf("run folder %s already holds %s: pass --resume to continue it, or choose another --out", o.RunDir, LastFile)
	} else if err := truncateMetrics(filepath.Join(o.RunDir, MetricsFile), 0); err != nil {
		// A run killed before its first checkpoint may have logged an epoch:
		// a fresh start drops those rows.
		return unlock, err
	}
	if o.ConfigYAML != "" {
		if err := writeAtomic(filepath.Join(o.RunDir, ConfigFile), []byte(o.ConfigYAML)); err != nil {
			return unlock, err
		}
	}
	st.Best, st.WorldSize = strconv.FormatFloat(t.best, 'g', -1, 64), t.world
	st.RNG = torchx.RNGStateBytes()
	return unlock, nil
}

// resumeSkip is how many batches of an interrupted epoch each of world ranks
// skips when the checkpoint says savedWorld ranks had trained done batches
// each: the share of the epoch already trained, rounded down.
func resumeSkip(done, savedWorld, world int) int {
	if done == 0 || savedWorld == world {
		return done
	}
	return done * savedWorld / world
}

// share sends rank 0's start, weights, Adam state and RNG state to every
// rank, so that all begin from the same state, whatever each initialised.
func (t *trainer) share(st *start) error {
	g := t.g
	if err := g.BroadcastJSON(st, 0); err != nil {
		return err
	}
	if st.Err != "" {
		return fmt.Errorf("rank 0 could not start: %s", st.Err)
	}
	if st.WorldSize != g.Size() {
		return fmt.Errorf("rank %d: rank 0 counts %d ranks, this one %d", g.Rank(), st.WorldSize, g.Size())
	}
	if err := t.opt.Broadcast(g, 0); err != nil {
		return err
	}
	if g.Rank() != 0 {
		best, err := strconv.ParseFloat(st.Best, 64)
		if err != nil {
			return fmt.Errorf("rank %d: best MAE %q from rank 0: %w", g.Rank(), st.Best, err)
		}
		t.best = best
		if err := torchx.Catch(func() { torchx.SetRNGStateBytes(st.RNG) }); err != nil {
			return err
		}
	}
	return nil
}

// reduceStats turns an epoch's per-rank loss sums into sums over all ranks.
func (t *trainer) reduceStats(es *epochStats) error {
	v := append([]float64{float64(es.n), float64(es.samples), es.loss, es.gender}, es.terms...)
	if err := t.g.SumFloat64(v); err != nil {
		return err
	}
	es.n, es.samples = int(v[0]), int(v[1])
	es.loss, es.gender = v[2], v[3]
	copy(es.terms, v[4:])
	return nil
}

func cs5(s metrics.Summary) float64 {
	if len(s.CS) >= 5 {
		return s.CS[4]
	}
	return 0
}

func loaderFor(samples []dataset.Sample, h Hyper, decode func(string) ([]float32, error)) *dataset.Loader {
	bs := h.EvalBatchSize
	if bs <= 0 {
		bs = 256
	}
	return dataset.NewLoader(samples, dataset.LoaderOptions{
		BatchSize: bs, Workers: h.Workers, Prefetch: h.Prefetch,
		H: h.Model.InputH, W: h.Model.InputW, Decode: decode,
	})
}

type epochStats struct {
	n, batches, samples int
	loss, gender        float64
	terms               []float64 // sums of the age term's parts, in odl.TermNames order
	seconds             float64
}

func (e epochStats) meanLoss() float64 { return e.loss / float64(max(e.n, 1)) }
func (e epochStats) samplesPerSec() float64 {
	if e.seconds == 0 {
		return 0
	}
	return float64(e.samples) / e.seconds
}

func (t *trainer) epoch(ctx context.Context, loader *dataset.Loader, epoch int, lr float64, skip int) (epochStats, error) {
	es := epochStats{terms: make([]float64, len(odl.TermNames(t.h.Model.Loss)))}
	es.batches = skip
	total := loader.NumBatches()
	var bar *progressbar.ProgressBar
	if t.o.Progress && t.o.Log != nil {
		bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(t.o.Log),
			progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch+1, t.h.Epochs)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(24),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		defer bar.Exit()
		_ = bar.Set(skip)
	}
	t.m.Train(true)
	start := time.Now()
	prev := start // the end of the previous step
	i := 0
	for b := range loader.Epoch(epoch) {
		if b.Err != nil {
			return es, fmt.Errorf("epoch %d: %w", epoch+1, b.Err)
		}
		i++
		if i <= skip {
			continue // already trained before the interruption
		}
		if t.world == 1 && ctx.Err() != nil {
			// Alone, stop before the step; ranks agree on stopping inside
			// the step's all-reduce instead (see Stepper.Step).
			return es, ErrInterrupted
		}
		done := t.opt.Steps() // steps before this one
		l, votes, err := t.stepper.Step(ctx, b, lr)
		if done%int64(infer.GCEvery(t.h.Device)) == 0 {
			infer.GC()
		}
		if err != nil {
			return es, fmt.Errorf("epoch %d step %d: %w", epoch+1, done+1, err)
		}
		if votes.NonFinite > 0 {
			where := ""
			if t.world > 1 {
				where = fmt.Sprintf(" on rank %d (not finite on %d of %d ranks)", t.rank, votes.NonFinite, t.world)
			}
			return es, fmt.Errorf("epoch %d step %d: the loss is %v%s (%s, gender %v); stopped, the last good checkpoint %s is kept — lower optim.lr",
				epoch+1, done+1, l.TotalValue, where, termsText(l, "%v"), l.Gender, filepath.Join(t.o.RunDir, LastFile))
		}
		es.n++
		es.batches++
		es.samples += len(b.Ages)
		es.loss += l.TotalValue
		for i, term := range l.Terms {
			es.terms[i] += term.Value
		}
		es.gender += l.Gender
		now := time.Now()
		es.seconds = now.Sub(start).Seconds()
		if t.o.StepLog != nil {
			t.logStep(epoch, es.batches, total, lr, l, len(b.Ages), now.Sub(prev).Seconds())
		}
		prev = now
		if bar != nil {
			bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f %.0f samples/s", epoch+1, t.h.Epochs, es.meanLoss(), es.samplesPerSec()))
			_ = bar.Add(1)
		}
		if t.o.AfterStep != nil {
			t.o.AfterStep(epoch, t.opt.Steps())
		}
		if votes.Interrupt > 0 {
			return es, ErrInterrupted // every rank took this step, and stops after it
		}
	}
	t.m.Train(false)
	return es, nil
}

// logStep writes the StepLog line of the step just taken (the optimiser counts it).
func (t *trainer) logStep(epoch, batch, batches int, lr float64, l odl.Losses, samples int, seconds float64) {
	rate := 0.0
	if seconds > 0 {
		rate = float64(samples) / seconds
	}
	ranks := ""
	if t.world > 1 {
		ranks = fmt.Sprintf("  rank %d of %d", t.rank, t.world)
	}
	fmt.Fprintf(t.o.StepLog, "step %d  epoch %d/%d  batch %d/%d  loss %.4f  %s  gender %.4f  lr %.6g  %.0f samples/s%s\n",
		t.opt.Steps(), epoch+1, t.h.Epochs, batch, batches, l.TotalValue, termsText(l, "%.4f"), l.Gender, lr, rate, ranks)
}

// termsText lists the age term's parts as "name value", two spaces apart
// ("ranking 0.6931  odl 0.2500" for odl), each value in format.
func termsText(l odl.Losses, format string) string {
	parts := make([]string, len(l.Terms))
	for i, term := range l.Terms {
		parts[i] = term.Name + " " + fmt.Sprintf(format, term.Value)
	}
	return strings.Join(parts, "  ")
}

// validate evaluates the model on the validation split. In a data-parallel
// run each rank predicts every world-th sample and the predictions are summed
// into place over the ranks, so every rank evaluates the whole split exactly
// as one process would.
func (t *trainer) validate() (metrics.Summary, error) {
	o, g := t.o, t.g
	var mine []dataset.Sample
	for i := g.Rank(); i < len(o.Val); i += g.Size() {
		mine = append(mine, o.Val[i])
	}
	var preds []api.Prediction
	if len(mine) > 0 {
		loader := loaderFor(mine, t.h, o.Decode)
		var err error
		preds, err = Predict(t.m, loader, mine)
		loader.Close()
		if err != nil {
			return metrics.Summary{}, err
		}
	}
	// Every rank sends its records, in their own JSON encoding (exact for
	// float64), to every other; rank r's j-th record is sample r + j·world.
	all := make([]api.Prediction, len(o.Val))
	for r := range g.Size() {
		var recs []api.Prediction
		if r == g.Rank() {
			recs = preds
		}
		if err := g.BroadcastJSON(&recs, r); err != nil {
			return metrics.Summary{}, err
		}
		for j, p := range recs {
			if i := r + j*g.Size(); i < len(all) {
				all[i] = p
			}
		}
	}
	return metrics.Evaluate(all, o.TrainMeanAge), nil
}

// Predict runs the model over every batch of loader (whose samples are
// samples, in order) and returns one evaluation record per sample: the
// prediction (without p_age_gt) with the sample's view, true age and gender.
func Predict(m infer.Net, loader *dataset.Loader, samples []dataset.Sample) ([]api.Prediction, error) {
	preds := make([]api.Prediction, 0, len(samples))
	every, k := infer.GCEvery(m.Device()), 0
	for b := range loader.Epoch(0) {
		if b.Err != nil {
			return nil, b.Err
		}
		out, err := infer.Batch(m, b.Images, len(b.Ages))
		if k++; k%every == 0 {
			infer.GC()
		}
		if err != nil {
			return nil, err
		}
		for j, idx := range b.Indices {
			s := samples[idx]
			p := out.Record(j)
			p.Path, p.Source, p.View, p.TrueAge, p.TrueGender = s.Path, "gei", s.View, api.Int(s.Age), s.Gender
			preds = append(preds, p)
		}
	}
	return preds, nil
}

// save writes a checkpoint; in a data-parallel run only rank 0 does.
func (t *trainer) save(path string, epoch, batchesDone int) error {
	if t.rank != 0 {
		return nil
	}
	st := &checkpoint.State{WorldSize: t.world,
		Model: t.h.Model, Weights: t.m.Weights(),
		Epoch: epoch, BatchesDone: batchesDone, BestMAE: t.best, Seed: t.h.Seed,
		RNG: torchx.RNGStateBytes(), Config: t.o.ConfigYAML, TrainMeanAge: t.o.TrainMeanAge,
	}
	t.opt.Save(st) // the moments and the step count
	return checkpoint.Save(path, st)
}

func (t *trainer) restore(st *checkpoint.State) error {
	if err := t.m.SetWeights(st.Weights); err != nil {
		return err
	}
	if st.Seed != t.h.Seed {
		return fmt.Errorf("checkpoint was trained with seed %d, the configuration says %d", st.Seed, t.h.Seed)
	}
	if err := t.opt.Load(st); err != nil {
		return err
	}
	if err := torchx.Catch(func() { torchx.SetRNGStateBytes(st.RNG) }); err != nil {
		return err
	}
	t.best = st.BestMAE
	return nil
}
