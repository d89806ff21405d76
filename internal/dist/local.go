package dist

import (
	"errors"
	"fmt"

	"github.com/gaitord/gaitord/internal/torchx"
)

// Local is the group of one process: rank 0 of 1. Its collectives are what
// c10d's are over a single rank, computed without communicating: the mean
// or sum over one rank is the value itself and a broadcast from rank 0
// leaves it as it is. It makes no collective calls, so its Stats count
// AverageGrads steps but no calls and no time.
type Local struct {
	stats Stats
}

// NewLocal returns the group of this process alone.
func NewLocal() *Local { return &Local{} }

// Rank is 0.
func (*Local) Rank() int { return 0 }

// Size is 1.
func (*Local) Size() int { return 1 }

// Stats returns the counters: Steps counts AverageGrads calls, Calls and
// Elapsed stay zero.
func (l *Local) Stats() Stats { return l.stats }

// AverageGrads leaves the gradients and extra as they are (their mean and
// sum over one rank).
func (l *Local) AverageGrads(params []torchx.Tensor, _ int64, _ []float64) error {
	if len(params) == 0 {
		return errors.New("rank 0: no parameters to all-reduce")
	}
	l.stats.Steps++
	return nil
}

// Broadcast from rank 0 leaves ts as they are; another root does not exist.
func (*Local) Broadcast(_ []torchx.Tensor, root int) error { return checkRoot(root) }

// BroadcastJSON from rank 0 leaves v as it is; another root does not exist.
func (*Local) BroadcastJSON(_ any, root int) error { return checkRoot(root) }

// SumFloat64 leaves v as it is (its sum over one rank).
func (*Local) SumFloat64([]float64) error { return nil }

func checkRoot(root int) error {
	if root != 0 {
		return fmt.Errorf("broadcast from rank %d in a group of one process (rank 0)", root)
	}
	return nil
}
