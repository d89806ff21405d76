package metrics_test

import (
	"fmt"

	"github.com/gaitord/gaitord/internal/metrics"
)

// K = 5 binary tasks "age > 20+k". The CDF at ages 19..25 is
// 0, .125, .25, .5, .75, .875, 1, so the median is exactly 22 and the 90%
// quantile 24 + .025/.125 = 24.2. The 10% quantile interpolates to
// 19 + .1/.125 = 19.8, below the youngest representable age: it is clamped
// to 20.
func Example() {
	p := []float64{0.875, 0.75, 0.5, 0.25, 0.125}
	lo, hi := metrics.Interval80(p, 20)
	fmt.Printf("expected %.3f\n", metrics.ExpectedAge(p, 20))
	fmt.Printf("count    %d\n", metrics.CountAge(p, 20))
	fmt.Printf("median   %.3f\n", metrics.Median(p, 20))
	fmt.Printf("80%%      [%.3f, %.3f]\n", lo, hi)
	// Output:
	// expected 22.500
	// count    22
	// median   22.000
	// 80%      [20.000, 24.200]
}

func ExampleMonotone() {
	fmt.Println(metrics.Monotone([]float64{0.75, 0.25, 0.5, 0.125}))
	fmt.Println(metrics.RankInconsistency([]float64{0.75, 0.25, 0.5, 0.125}))
	// Output:
	// [0.75 0.375 0.375 0.125]
	// 1 3
}
