// Package experiment runs a grid of training runs over several seeds and
// tabulates them (gaitord experiment): is a change better than another, by
// how much, and by more than seed noise?
//
// # Plan
//
// A grid is one or more --grid axes, "key=v1,v2,…" over configuration keys;
// several axes make their product (ParseGrid, Grid.Cells). Every cell runs
// once per seed (--seeds sets train.seed), with the same data and overrides
// as gaitord train, in its own run folder
//
//	OUT/<key=value,key=value…>/seed<N>/
//
// holding train's files (last.ckpt, best.ckpt, metrics.jsonl, config.yaml),
// gaitord eval's report of best.ckpt on the test split in test/, and
// result.json (Result), written last. NewPlan resolves every run's
// configuration before any run starts, so that every mistake (an unknown
// key, a value the configuration refuses, a --baseline that is no cell,
// duplicate seeds) stops the command before it trains anything.
//
// # Resuming
//
// A run's state comes from its own files (Inspect): no last.ckpt is fresh;
// a last.ckpt short of train.epochs is interrupted and resumed exactly as
// gaitord train --resume would; a complete one is finished once result.json
// is there, and is then skipped without touching its files. A checkpoint
// trained under another configuration than the command now gives is an
// error naming the keys that differ, rather than a table mixing two
// experiments. Runs go one after another, in process (Execute with the
// command line's hooks), so a Ctrl-C stops the run in progress as train
// does and a rerun of the same command continues from there.
//
// # Summary
//
// summary.csv, summary.md and summary.json hold one row per cell: its grid
// values, n_seeds, then for each of mae, cs5, gender_acc, coverage80 and
// rank_inconsistency on the test split (metrics.Summary) the mean and the
// sample standard deviation over seeds,
//
//	mean = (1/n) Σ x_i,   std = √( Σ (x_i − mean)² / (n − 1) ),
//
// (undefined, empty or null, for one seed). With --baseline, each cell is
// compared with its reference cell (Baseline.Reference) over the seeds both
// have: mae_diff_mean is the mean of d_i = MAE_i − MAE_ref,i and mae_diff_p
// the two-sided p-value of the paired t-test of those d_i (PairedT: Student's
// t with n − 1 degrees of freedom, from gonum's stat/distuv, a well-kept
// library, rather than a hand-written incomplete beta function). Last come
// val_mae_mean and val_mae_std, the best validation MAE of the runs: choose
// a recipe by these, and let the test columns report the choice. mae.png
// draws each cell's seeds, mean and ± one standard deviation.
package experiment
