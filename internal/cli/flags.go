package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// bindEnv lets every flag of c also come from a GAITORD_* environment
// variable (--batch-size ↔ GAITORD_BATCH_SIZE), through viper; a flag given on
// the command line wins.
func bindEnv(c *cobra.Command) error {
	v := viper.New()
	v.SetEnvPrefix("GAITORD")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	var unset []*pflag.Flag
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Changed && f.Name != "help" && v.IsSet(f.Name) {
			unset = append(unset, f)
		}
	})
	for _, f := range unset {
		val := v.GetString(f.Name)
		items := []string{val}
		if t := f.Value.Type(); t == "stringArray" || t == "stringSlice" {
			items = strings.Split(val, ";")
		}
		for _, item := range items {
			if err := c.Flags().Set(f.Name, item); err != nil {
				return usagef("GAITORD_%s=%q: %v", envName(f.Name), val, err)
			}
		}
	}
	return nil
}

func envName(flag string) string { return strings.ToUpper(strings.ReplaceAll(flag, "-", "_")) }

// withEnv wraps a RunE so that environment variables fill unset flags first.
func withEnv(run func(c *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		if err := bindEnv(c); err != nil {
			return err
		}
		return run(c, args)
	}
}

// overrides turns the shortcut flags that were given into config --set pairs.
type overrides []string

func (o *overrides) add(c *cobra.Command, flag, key string) {
	if f := c.Flags().Lookup(flag); f != nil && f.Changed {
		*o = append(*o, fmt.Sprintf("%s=%s", key, f.Value.String()))
	}
}
