package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gaitord/gaitord/internal/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Environment variables, one convention (config's package doc has the
// configuration side):
//
//   - A configuration key is read from GAITORD_<SECTION>_<KEY> only
//     (config.EnvVar), by config.Load.
//   - A flag that stands for a key (train's --epochs for train.epochs,
//     --data for data.root) is a --set override: it has no variable of its
//     own, so GAITORD_TRAIN_EPOCHS is the one way to set epochs from the
//     environment, and a flag given on the command line wins over it.
//   - A flag that is not a key reads GAITORD_<FLAG> (--checkpoint from
//     GAITORD_CHECKPOINT) only if it is listed in envFlags: its name means
//     the same thing in every command that has it. --out (a run folder, a
//     file or a dataset folder), --format (data.format or an export format),
//     --device, --threads, --batch-size and --frames differ between commands
//     and have no variable; --set has none (each key has its own).
//   - GAITORD_CACHE (the synthetic-data cache folder), GAITORD_PROGRESS
//     (always draw progress bars) and GAITORD_TRACE (start-up phases on
//     stderr, internal/trace) are read where they apply.
var envFlags = []string{
	"checkpoint", "config", "json", "report", "split", "no-images", "resume", "nproc", "master-port",
	"tree", "height", "width", "workers", "subjects", "views", "seed", "min-age", "max-age",
	"quiet", "verbose",
	// gaitord serve, and predict --server: the server's address and limits, and
	// the token file that both sides of the API read.
	"addr", "token-file", "server", "max-batch", "max-wait", "pad-batches", "max-queue", "max-body", "request-timeout",
	"header-timeout", "read-timeout", "idle-timeout", "grace", "cors-origin", "log-format", "max-frames",
	// the largest video frame accepted, wherever footage is decoded (predict, gei, serve)
	"max-pixels",
	// fp32 or int8, wherever a model predicts (eval, predict, serve) or is
	// exported as ONNX (export)
	"precision",
}

// keyAnnotation marks a flag that stands for a configuration key; its value
// is the key.
const keyAnnotation = "gaitord-config-key"

// keyFlag marks c's flag name as standing for key: given on the command
// line it becomes the override "key=value" (see keySets).
func keyFlag(c *cobra.Command, name, key string) {
	if err := c.Flags().SetAnnotation(name, keyAnnotation, []string{key}); err != nil {
		panic(err) // a flag this package declares just before
	}
}

// keySets returns the overrides of c's key flags that were given (by flag
// name; each names a different key), followed by sets, so that an explicit --set
// wins. --data naming a .csv without --format (or a data.format override)
// also sets data.format=manifest: a CSV is a manifest.
func keySets(c *cobra.Command, sets []string) []string {
	var out []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if key := f.Annotations[keyAnnotation]; f.Changed && len(key) == 1 {
			out = append(out, fmt.Sprintf("%s=%s", key[0], f.Value.String()))
		}
	})
	data, format := c.Flags().Lookup("data"), c.Flags().Lookup("format")
	if data != nil && data.Changed && format != nil && !format.Changed && !hasSet(sets, "data.format") &&
		strings.HasSuffix(strings.ToLower(data.Value.String()), ".csv") {
		out = append([]string{"data.format=manifest"}, out...)
	}
	return append(out, sets...)
}

func hasSet(sets []string, key string) bool {
	for _, s := range sets {
		if k, _, _ := strings.Cut(s, "="); strings.TrimSpace(k) == key {
			return true
		}
	}
	return false
}

// bindEnv fills each of c's envFlags that the command line left unset from
// its GAITORD_<FLAG> variable (an empty variable counts as unset).
func bindEnv(c *cobra.Command) error {
	var err error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || !slices.Contains(envFlags, f.Name) {
			return
		}
		name := envName(f.Name)
		val := os.Getenv(name)
		if val == "" {
			return
		}
		if serr := c.Flags().Set(f.Name, val); serr != nil {
			err = usagef("%s=%q: %v", name, val, serr)
		}
	})
	return err
}

// envName is the variable of a flag: "master-port" → "GAITORD_MASTER_PORT".
func envName(flag string) string {
	return config.EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envHook is the root's PersistentPreRunE: every command's flags are filled
// from the environment before cobra checks the required ones, so
// GAITORD_CHECKPOINT satisfies a required --checkpoint.
func envHook(c *cobra.Command, _ []string) error { return bindEnv(c) }
