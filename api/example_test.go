package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gaitord/gaitord/api"
)

// Reading `gaitord predict --json` output from another Go program.
func Example() {
	out := `{"schema":"gaitord.prediction/v1","path":"a.png","source":"gei","age":34.25,"age_median":33.5,"age_interval80":[25.75,43],"gender":"male","p_male":0.875}
{"path":"b.png","age":61,"age_median":60.5,"age_interval80":[50,70.25],"gender":"female","p_male":0.125}
{"schema":"gaitord.prediction/v2","path":"c.png","source":"gei","age":47.5,"age_median":47.5,"age_interval80":null,"gender":"female","p_male":0.25}`
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var p api.Prediction
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			fmt.Println(err)
			return
		}
		interval := "no interval" // a model without a distribution (loss type l1)
		if p.Interval != nil {
			interval = fmt.Sprintf("[%.1f, %.1f]", p.Interval[0], p.Interval[1])
		}
		fmt.Printf("%s: %.1f years %s, %s (%.3f)\n", p.Path, p.Age, interval, p.Gender, p.PGender())
	}
	// Output:
	// a.png: 34.2 years [25.8, 43.0], male (0.875)
	// b.png: 61.0 years [50.0, 70.2], female (0.875)
	// c.png: 47.5 years no interval, female (0.750)
}
