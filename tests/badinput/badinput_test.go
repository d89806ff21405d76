// Package badinput runs the real gaitord binary on a matrix of bad inputs
// (images, labels and manifests, configurations, checkpoints, devices,
// export targets, a full disk) and checks that each is refused cleanly: the
// documented exit status, one "gaitord: " error line naming the file and the
// problem, no Go panic or C++ exception text, no partial output left behind
// and, for lying safetensors headers, no large allocation. A few good-but-odd
// inputs (16-bit, RGB, RGBA, paletted and 3000×3000 PNGs; CRLF, BOM, blank
// lines and padded fields in CSVs) must be accepted.
package badinput

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/safetensors"
	"github.com/gaitord/gaitord/tests/gaitordtest"
)

var bin string

func TestMain(m *testing.M) {
	os.Exit(gaitordtest.Main(m, &bin, func() {
		if fx.dir != "" {
			os.RemoveAll(fx.dir)
		}
	}))
}

type result struct {
	code           int
	stdout, stderr string
	maxRSSKB       int64
}

func run(t *testing.T, args ...string) result { t.Helper(); return runRSS(t, false, args...) }

// timeBin measures a child's peak RSS. The test process cannot: Go starts
// children with vfork, so a child's ru_maxrss starts at this (large,
// libtorch-loaded) process's high-water mark.
const timeBin = "/usr/bin/time"

// runRSS runs gaitord; with measure (and /usr/bin/time present) it also
// records the process's peak RSS in maxRSSKB, else maxRSSKB is -1.
func runRSS(t *testing.T, measure bool, args ...string) result {
	t.Helper()
	name, argv, rssFile := bin, args, ""
	if _, err := os.Stat(timeBin); measure && err == nil {
		rssFile = filepath.Join(t.TempDir(), "rss")
		name, argv = timeBin, append([]string{"-f", "%M", "-o", rssFile, bin}, args...)
	}
	x := gaitordtest.Exec(t, name, argv...)
	r := result{code: x.Code, stdout: x.Stdout, stderr: x.Stderr, maxRSSKB: -1}
	if rssFile != "" {
		b, err := os.ReadFile(rssFile)
		if err != nil {
			t.Fatalf("%s: %v", timeBin, err)
		}
		// time(1) adds "Command exited with non-zero status N" before %M
		f := strings.Fields(string(b))
		if len(f) == 0 {
			t.Fatalf("%s wrote %q", timeBin, b)
		}
		if r.maxRSSKB, err = strconv.ParseInt(f[len(f)-1], 10, 64); err != nil {
			t.Fatalf("%s wrote %q", timeBin, b)
		}
	}
	return r
}

// fixtures are built once and shared by every case.
type fixtures struct {
	dir       string // everything below lives here
	data      string // synth --subjects 8 --views 90
	weights   string // 64×44, K=100 export
	weights88 string // 128×88 export (a valid other configuration)
	gei       string // one GEI of the dataset
	man       string // manifest folder holding a.png and b.png
	config    string // ../../configs/default.yaml, absolute
}

var (
	fx     fixtures
	fxOnce sync.Once
	fxErr  error
)

func setup(t *testing.T) *fixtures {
	t.Helper()
	fxOnce.Do(func() { fxErr = buildFixtures() })
	if fxErr != nil {
		t.Fatal(fxErr)
	}
	return &fx
}

func buildFixtures() error {
	dir, err := os.MkdirTemp("", "gaitord-badinput-fx")
	if err != nil {
		return err
	}
	fx.dir = dir
	fx.config, _ = filepath.Abs("../../configs/default.yaml")
	fx.data = filepath.Join(dir, "synth")
	cmd := exec.Command(bin, "synth", "--out", fx.data, "--subjects", "8", "--views", "90", "--seed", "3")
	cmd.Env = append(os.Environ(), "GAITORD_CACHE="+filepath.Join(dir, "cache"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("synth: %v\n%s", err, out)
	}
	fx.gei = filepath.Join(fx.data, "GEI", "090-00", "00001.png")
	fx.weights = filepath.Join(dir, "w.safetensors")
	if err := saveWeights(fx.weights, model.DefaultConfig(), nil); err != nil {
		return err
	}
	big := model.DefaultConfig()
	big.InputH, big.InputW = 128, 88
	fx.weights88 = filepath.Join(dir, "w88.safetensors")
	if err := saveWeights(fx.weights88, big, nil); err != nil {
		return err
	}
	fx.man = filepath.Join(dir, "man")
	if err := os.MkdirAll(fx.man, 0o755); err != nil {
		return err
	}
	for i, name := range []string{"a.png", "b.png"} {
		b, err := os.ReadFile(filepath.Join(fx.data, "GEI", "090-00", fmt.Sprintf("%05d.png", i+1)))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(fx.man, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// saveWeights writes freshly initialised weights of c. With md non-nil the
// tensors are written as they are under that metadata instead (a file whose
// metadata lies about its shapes); an empty md writes no metadata at all.
func saveWeights(path string, c model.Config, md map[string]string) error {
	m, err := model.New(c, 1, "cpu")
	if err != nil {
		return err
	}
	w := m.Weights()
	if md == nil {
		return checkpoint.SaveWeights(path, c, w, 40)
	}
	var ts []safetensors.Tensor
	for name, v := range w {
		ts = append(ts, safetensors.FromFloat32(name, v.Shape, v.Data))
	}
	return safetensors.Write(path, ts, md)
}

// ---- the checks every case shares ----------------------------------------

var crashText = []string{"goroutine ", "panic:", "terminate called", "what():", "SIGSEGV", "runtime error", "[recovered]"}

// problemLine is how data check prints a problem: file:line: msg.
var problemLine = regexp.MustCompile(`^\S+:\d+: `)

type tc struct {
	name string
	args []string
	code int // expected exit status
	// errLines is the number of "gaitord: " lines on stderr (default 1 when
	// code != 0, 0 when code == 0); predict adds "N of M inputs failed".
	errLines int
	err      []string // substrings of the first error line
	out      []string // substrings of stdout
	noFile   []string // must not exist afterwards
	noTemp   []string // folders that must hold no ".tmp" file afterwards
	rssKB    int64    // >0: the max RSS may exceed the baseline by at most this
	check    func(t *testing.T, r result)
	env      []string       // extra environment (PATH=… replaces PATH)
	noteLine *regexp.Regexp // other stderr lines allowed (a video's notes)
}

var baselineRSS struct {
	once sync.Once
	kb   int64
}

func (c tc) run(t *testing.T) {
	t.Helper()
	var r result
	if c.env != nil {
		x := gaitordtest.ExecEnv(t, c.env, bin, c.args...)
		r = result{code: x.Code, stdout: x.Stdout, stderr: x.Stderr, maxRSSKB: -1}
	} else {
		r = runRSS(t, c.rssKB > 0, c.args...)
	}
	all := r.stdout + r.stderr
	for _, s := range crashText {
		if strings.Contains(all, s) {
			t.Fatalf("gaitord %s: output contains %q:\n%s", strings.Join(c.args, " "), s, all)
		}
	}
	if r.code != c.code {
		t.Fatalf("gaitord %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(c.args, " "), r.code, c.code, r.stdout, r.stderr)
	}
	var errs []string
	for _, ln := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
		switch {
		case ln == "":
		case strings.HasPrefix(ln, "gaitord: "):
			errs = append(errs, ln)
		case c.code == 2 && ln == "Run 'gaitord --help' for usage.":
		case c.code == 0 || strings.HasPrefix(ln, "warning: ") || strings.HasPrefix(ln, "skipped samples: "):
		case c.noteLine != nil && c.noteLine.MatchString(ln):
		default:
			t.Errorf("stray stderr line %q", ln)
		}
	}
	want := c.errLines
	if want == 0 && c.code != 0 {
		want = 1
	}
	if len(errs) != want {
		t.Fatalf("%d error lines on stderr, want %d:\n%s", len(errs), want, r.stderr)
	}
	for _, s := range c.err {
		if len(errs) == 0 || !strings.Contains(errs[0], s) {
			t.Errorf("error line lacks %q:\n%s", s, r.stderr)
		}
	}
	for _, s := range c.out {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, p := range c.noFile {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was left behind", p)
		}
	}
	for _, d := range c.noTemp {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.Contains(e.Name(), ".tmp") {
				t.Errorf("temp file %s left in %s", e.Name(), d)
			}
		}
	}
	if c.rssKB > 0 && r.maxRSSKB < 0 {
		t.Logf("no %s: peak RSS not checked", timeBin)
	}
	if c.rssKB > 0 && r.maxRSSKB >= 0 {
		base := baseline(t)
		t.Logf("max RSS %d KiB (baseline %d KiB)", r.maxRSSKB, base)
		if r.maxRSSKB > base+c.rssKB {
			t.Errorf("max RSS %d KiB, more than %d KiB over the %d KiB baseline: the header's claims were allocated", r.maxRSSKB, c.rssKB, base)
		}
	}
	if c.check != nil {
		c.check(t, r)
	}
}

// baseline is the max RSS of a predict that fails on a missing checkpoint:
// libtorch loaded, nothing read.
func baseline(t *testing.T) int64 {
	baselineRSS.once.Do(func() {
		r := runRSS(t, true, "predict", "--checkpoint", filepath.Join(t.TempDir(), "none.safetensors"), fx.gei)
		baselineRSS.kb = r.maxRSSKB
	})
	return baselineRSS.kb
}

func runCases(t *testing.T, cases []tc) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case %s", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

// ---- images ---------------------------------------------------------------

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pngChunk is one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// bombPNG declares a w×h 8-bit gray image with valid CRCs but (almost) no
// pixel data: decoding it naively would allocate w·h bytes.
func bombPNG(w, h uint32) []byte {
	var ihdr bytes.Buffer
	binary.Write(&ihdr, binary.BigEndian, w)
	binary.Write(&ihdr, binary.BigEndian, h)
	ihdr.Write([]byte{8, 0, 0, 0, 0}) // depth 8, gray, deflate, filter 0, no interlace
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr.Bytes())...)
	out = append(out, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, pngChunk("IEND", nil)...)
}

// predicted parses the AGE column of predict's table for path.
func predicted(t *testing.T, out, path string) float64 {
	t.Helper()
	for _, ln := range strings.Split(out, "\n") {
		f := strings.Fields(ln)
		if len(f) >= 2 && f[0] == path {
			a, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("age %q: %v", f[1], err)
			}
			return a
		}
	}
	t.Fatalf("no prediction for %s in:\n%s", path, out)
	return 0
}

func TestImages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	src, err := os.ReadFile(f.gei)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p("truncated.png"), src[:len(src)/2], 0o644)
	os.WriteFile(p("text.png"), []byte("this is a text file, not an image\n"), 0o644)
	os.WriteFile(p("short.png"), []byte("hello\n"), 0o644)
	os.WriteFile(p("jpeg.png"), append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0}, make([]byte, 100)...), 0o644)
	os.WriteFile(p("zero.png"), nil, 0o644)
	os.WriteFile(p("bomb.png"), bombPNG(100000, 100000), 0o644)
	writePNG(t, p("one.png"), image.NewGray(image.Rect(0, 0, 1, 1)))
	writePNG(t, p("black.png"), image.NewGray(image.Rect(0, 0, 44, 64)))
	os.Mkdir(p("folder.png"), 0o755)

	// accepted: the same GEI as 16-bit gray, RGB, RGBA and paletted PNGs,
	// and blown up to 3000×3000 (nearest neighbour, centred on a black field)
	g := gaitordtest.ReadGray(t, f.gei)
	b := g.Bounds()
	g16 := image.NewGray16(b)
	rgb := image.NewRGBA(b) // alpha 255 everywhere: png writes it as RGB
	nrgba := image.NewNRGBA(b)
	pal := image.NewPaletted(b, grays())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := g.GrayAt(x, y).Y
			g16.SetGray16(x, y, color.Gray16{Y: uint16(v) * 257})
			rgb.SetRGBA(x, y, color.RGBA{v, v, v, 255})
			a := uint8(255) // transparent background: composited over black, the same image
			if v == 0 {
				a = 0
			}
			nrgba.SetNRGBA(x, y, color.NRGBA{v, v, v, a})
			pal.SetColorIndex(x, y, v)
		}
	}
	// RGBA with a real alpha channel: a transparent margin.
	rgbaAlpha := image.NewNRGBA(image.Rect(0, 0, b.Dx()+8, b.Dy()+8))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := g.GrayAt(x, y).Y
			rgbaAlpha.SetNRGBA(x+4, y+4, color.NRGBA{v, v, v, 255})
		}
	}
	huge := image.NewGray(image.Rect(0, 0, 3000, 3000))
	scale := 3000 / b.Dy()
	x0 := (3000 - b.Dx()*scale) / 2
	for y := 0; y < b.Dy()*scale; y++ {
		for x := 0; x < b.Dx()*scale; x++ {
			huge.Pix[y*3000+x0+x] = g.GrayAt(b.Min.X+x/scale, b.Min.Y+y/scale).Y
		}
	}
	writePNG(t, p("gray16.png"), g16)
	writePNG(t, p("rgb.png"), rgb)
	writePNG(t, p("rgba.png"), nrgba)
	writePNG(t, p("rgba-margin.png"), rgbaAlpha)
	writePNG(t, p("paletted.png"), pal)
	writePNG(t, p("3000x3000.png"), huge)
	wantModel(t, p("rgb.png"), color.RGBAModel)
	wantModel(t, p("gray16.png"), color.Gray16Model)
	wantModel(t, p("rgba.png"), color.NRGBAModel)

	bad := func(name, file string, want ...string) tc {
		return tc{name: name, args: []string{"predict", "--checkpoint", f.weights, p(file)}, code: 1, errLines: 2,
			err: append([]string{"gaitord: read GEI " + p(file) + ": "}, want...),
			check: func(t *testing.T, r result) {
				if !strings.Contains(r.stderr, "gaitord: 1 of 1 inputs failed") {
					t.Errorf("no summary line:\n%s", r.stderr)
				}
			}}
	}
	// Every bad file alone (exit status, one error line, the summary) ...
	t.Run("alone", func(t *testing.T) {
		t.Parallel()
		runCases(t, []tc{
			bad("zero-byte", "zero.png", "empty file"),
			bad("bomb-100000x100000", "bomb.png", "image too large", "100000x100000"),
			bad("truncated", "truncated.png", "decode PNG"),
		})
	})

	// ... and all of them in one predict run next to a good GEI, as a user
	// predicting a folder would: each fails alone with its own line, naming
	// the file, and the good one is still predicted. (One run instead of
	// ten: each gaitord start costs about a CPU second of libtorch set-up.)
	badFiles := []struct{ name, file, want string }{
		{"truncated", "truncated.png", "read GEI " + p("truncated.png") + ": decode PNG: png: invalid format: not enough pixel data"},
		{"text-as-png", "text.png", "read GEI " + p("text.png") + ": decode PNG header: not a PNG file"},
		{"6-byte-text-as-png", "short.png", "read GEI " + p("short.png") + ": decode PNG header: not a PNG file"},
		{"jpeg-as-png", "jpeg.png", "read GEI " + p("jpeg.png") + ": decode PNG header: not a PNG file"},
		{"zero-byte", "zero.png", "read GEI " + p("zero.png") + ": empty file"},
		{"1x1", "one.png", "read GEI " + p("one.png") + ": image too small to hold a silhouette: 1x1"},
		{"bomb-100000x100000", "bomb.png", "read GEI " + p("bomb.png") + ": image too large: header declares 100000x100000"},
		{"all-black", "black.png", "read GEI " + p("black.png") + ": all-black image, no silhouette"},
		{"directory-named-png", "folder.png", p("folder.png") + ": folder holds no .png or .pkl files"},
		{"missing-file", "absent.png", p("absent.png") + ": no such file or directory"},
	}
	badArgs := []string{"predict", "--checkpoint", f.weights, f.gei}
	for _, b := range badFiles {
		badArgs = append(badArgs, p(b.file))
	}
	var mixed result
	t.Run("batch", func(t *testing.T) {
		t.Parallel()
		c := tc{name: "batch", args: badArgs, code: 1, errLines: len(badFiles) + 1,
			check: func(t *testing.T, r result) {
				mixed = r
				if want := fmt.Sprintf("gaitord: %d of %d inputs failed", len(badFiles), len(badFiles)+1); !strings.Contains(r.stderr, want) {
					t.Errorf("no %q line:\n%s", want, r.stderr)
				}
				if a := predicted(t, r.stdout, f.gei); !(a >= 0 && a <= 100) {
					t.Errorf("the good GEI next to bad ones: age %v", a)
				}
			}}
		c.run(t)
		for _, b := range badFiles {
			t.Run(b.name, func(t *testing.T) {
				n := 0
				for _, ln := range strings.Split(mixed.stderr, "\n") {
					if strings.Contains(ln, p(b.file)+":") {
						n++
						if !strings.HasPrefix(ln, "gaitord: "+b.want) {
							t.Errorf("error line %q, want %q", ln, "gaitord: "+b.want+"…")
						}
					}
				}
				if n != 1 {
					t.Errorf("%d error lines name %s, want 1:\n%s", n, b.file, mixed.stderr)
				}
			})
		}
	})

	// accepted, in one run: the original first, then the same GEI in other
	// encodings (which must give the same age) and two that are rescaled
	goodFiles := []struct {
		name, file string
		tol        float64 // max |age − original's age|; 0: only a sane age
	}{
		{"gray16", "gray16.png", 0.05}, {"rgb", "rgb.png", 0.05}, {"rgba", "rgba.png", 0.05},
		{"paletted", "paletted.png", 0.05}, {"rgba-transparent-margin", "rgba-margin.png", 0}, {"3000x3000", "3000x3000.png", 0},
	}
	goodArgs := []string{"predict", "--checkpoint", f.weights, f.gei}
	for _, g := range goodFiles {
		goodArgs = append(goodArgs, p(g.file))
	}
	var ok result
	t.Run("accepted", func(t *testing.T) {
		t.Parallel()
		c := tc{name: "accepted", args: goodArgs, code: 0, check: func(t *testing.T, r result) { ok = r }}
		c.run(t)
		refAge := predicted(t, ok.stdout, f.gei)
		for _, g := range goodFiles {
			t.Run(g.name, func(t *testing.T) {
				age := predicted(t, ok.stdout, p(g.file))
				if !(age >= 0 && age <= 100) {
					t.Fatalf("age %v outside [min_age, min_age+K] = [0, 100]", age)
				}
				if g.tol > 0 && math.Abs(age-refAge) > g.tol {
					t.Errorf("age %.2f, the 8-bit gray original gives %.2f", age, refAge)
				}
			})
		}
	})
}

// wantModel checks the encoder really wrote the colour model we meant.
func wantModel(t *testing.T, path string, m color.Model) {
	t.Helper()
	fh, _ := os.Open(path)
	defer fh.Close()
	cfg, err := png.DecodeConfig(fh)
	if err != nil || cfg.ColorModel != m {
		t.Fatalf("%s: colour model %v, %v", path, cfg.ColorModel, err)
	}
}

func grays() color.Palette {
	p := make(color.Palette, 256)
	for i := range p {
		p[i] = color.Gray{uint8(i)}
	}
	return p
}

// ---- labels and manifests -------------------------------------------------

func TestLabelsAndManifests(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	// Each manifest lives in the shared folder that holds a.png and b.png.
	manifest := func(name, body string) string {
		path := filepath.Join(f.man, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	check := func(extra ...string) []string {
		return append([]string{"data", "check", "--config", f.config}, extra...)
	}
	mcase := func(name, body string, code int, err []string, out ...string) tc {
		path := manifest(name+".csv", body)
		var want []string
		for _, o := range out {
			want = append(want, path+":"+o)
		}
		return tc{name: "manifest/" + name, args: check("--format", "manifest", "--data", path), code: code, err: err, out: want,
			check: func(t *testing.T, r result) { checkProblems(t, r, len(out)) }}
	}
	outside := "../synth/GEI/090-00/00003.png"
	hdr := "path,age,gender\n"
	escape := manifest("escape-allowed.csv", hdr+"a.png,30,M\n"+outside+",40,F\n")

	// OU-MVLP roots: the dataset's GEI folder, each with its own labels.
	oumvlp := func(name, labels string) string {
		root := filepath.Join(dir, name)
		os.MkdirAll(root, 0o755)
		if err := os.Symlink(filepath.Join(f.data, "GEI"), filepath.Join(root, "GEI")); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, "labels.csv"), []byte(labels), 0o644)
		return root
	}
	rows := func(first string, rest ...string) string {
		// subjects 1…8; rest replaces rows from subject 1 on
		var b strings.Builder
		b.WriteString(first)
		for i := 1; i <= 8; i++ {
			if i <= len(rest) {
				b.WriteString(rest[i-1])
				continue
			}
			fmt.Fprintf(&b, "%d,%s,%d\n", i, "MF"[i%2:i%2+1], 20+i)
		}
		return b.String()
	}
	ocase := func(name, labels string, code int, err []string, out ...string) tc {
		root := oumvlp(name, labels)
		lp := filepath.Join(root, "labels.csv")
		var want []string
		for _, o := range out {
			want = append(want, lp+":"+o)
		}
		return tc{name: "oumvlp/" + name, args: check("--format", "oumvlp", "--data", root), code: code, err: err, out: want,
			check: func(t *testing.T, r result) { checkProblems(t, r, len(out)) }}
	}
	lh := "ID,gender,age\n"
	probs := func(n int) []string { return []string{fmt.Sprintf("gaitord: dataset has %d problem", n)} }
	nohdr := filepath.Join(f.man, "no-header.csv")
	wrong := filepath.Join(f.man, "wrong-columns.csv")

	// The bad rows, one manifest with a row per case (data check reports
	// every row on its own file:line: line, so one run shows them all; each
	// gaitord start costs about a CPU second of libtorch set-up).
	badRows := []struct{ name, row, want string }{
		{"non-numeric-age", "c1.png,thirty,M", `age "thirty" is not an integer`},
		{"negative-age", "c2.png,-3,M", "age -3 is negative"},
		{"absurd-age", "c3.png,500,M", "age 500 is absurd (over 120)"},
		{"unknown-gender", "c4.png,30,X", `gender "X" is not M or F`},
		{"duplicate-path", "./a.png,31,M", `duplicate path "./a.png" (first at line 2)`},
		{"missing-file", "nope.png,30,M", "file " + filepath.Join(f.man, "nope.png") + ": does not exist"},
		{"escaping-root", outside + ",40,F", `path "` + outside + `" is outside the manifest folder (set data.allow_outside_root=true to accept it)`},
		{"short-record", "c5.png,30", "record has 2 fields, header has 3"},
		{"unterminated-quote", `"c6.png,40,F`, "malformed CSV record"}, // last: it swallows the rest
	}
	// An absolute path is the user's explicit choice: it is read, and refused
	// only when the file is not a usable image (data check decodes it).
	notImage := filepath.Join(dir, "not-an-image.png")
	os.WriteFile(notImage, []byte("plain text"), 0o644)
	body := hdr + "a.png,30,M\nb.png,40,F\n" + notImage + ",50,M\n"
	var want []string
	for i, b := range badRows {
		body += b.row + "\n"
		want = append(want, fmt.Sprintf("%d: %s", i+5, b.want))
	}
	manyBad := mcase("bad-rows", body, 1, probs(len(badRows)+1), want...)
	manyBad.out = append(manyBad.out, notImage+": cannot decode: read GEI "+notImage+": decode PNG header: not a PNG file")
	absGEIs := []string{filepath.Join(f.data, "GEI", "090-00", "00001.png"), filepath.Join(f.data, "GEI", "090-00", "00002.png")}
	absolute := manifest("absolute-paths.csv", hdr+absGEIs[0]+",30,M\n"+absGEIs[1]+",40,F\n")

	badLabels := []struct{ name, row, want string }{
		{"non-numeric-age", "1,F,abc", `age "abc" is not an integer`},
		{"negative-age", "2,M,-1", "age -1 is negative"},
		{"absurd-age", "3,F,500", "age 500 is absurd (over 120)"},
		{"unknown-gender", "4,Q,30", `gender "Q" is not M or F`},
	}
	var lrows []string
	want = nil
	for i, b := range badLabels {
		lrows = append(lrows, b.row+"\n")
		want = append(want, fmt.Sprintf("%d: %s", i+2, b.want))
	}
	lbody := rows(lh, lrows...) + "0005,M,33\nx9,M,33\n"
	want = append(want, `10: duplicate ID 5 (first at line 6)`, `11: ID "x9" is not an integer`)
	manyLabels := ocase("bad-rows", lbody, 1, probs(len(want)), want...)

	runCases(t, []tc{
		mcase("no-header", "a.png,30,M\n", 1, []string{nohdr + ":1: missing columns", `"path", "age", "gender"`}),
		mcase("wrong-columns", "file,years,sex\na.png,30,M\n", 1, []string{wrong + ":1: missing columns"}),
		mcase("empty-file", "", 1, []string{filepath.Join(f.man, "empty-file.csv") + ": no header line"}),
		manyBad,
		mcase("crlf-bom-blank-spaces", "\xef\xbb\xbf Path , AGE , gender \r\n a.png , 30 , M \r\nb.png,40,F\r\n\r\n\r\n", 0, nil),
		{name: "manifest/escaping-root-allowed", args: check("--format", "manifest", "--data", escape, "--set", "data.allow_outside_root=true"), code: 0,
			out: []string{"samples          2"}},
		{name: "manifest/absolute-paths", args: check("--format", "manifest", "--data", absolute), code: 0,
			out: []string{"samples          2"}},
		{name: "manifest/not-there", args: check("--format", "manifest", "--data", filepath.Join(dir, "none.csv")), code: 1,
			err: []string{filepath.Join(dir, "none.csv"), "no such file or directory"}},
		ocase("no-header", "1,F,80\n", 1, []string{"labels.csv:1: missing columns", `"id", "gender", "age"`}),
		ocase("wrong-columns", "ID,sex,years\n1,F,80\n", 1, []string{"labels.csv:1: missing columns", `"gender", "age"`}),
		manyLabels,
		ocase("crlf-bom-blank-spaces", strings.ReplaceAll(rows("\xef\xbb\xbf Id , Gender , AGE \n", " 1 , F , 21 \n"), "\n", "\r\n")+"\r\n\r\n", 0, nil),
		{name: "oumvlp/root-missing", args: check("--format", "oumvlp", "--data", filepath.Join(dir, "none")), code: 1,
			err: []string{filepath.Join(dir, "none"), "no such file or directory"}},
	})
}

// Evaluation refuses a test split with missing images (a benchmark number
// over a silently smaller set misleads) unless --allow-missing, which prints
// the count beside the metrics; rows without an age stay skipped and counted.
// A manifest whose rows all fail names itself and the commonest reason.
func TestEvalMissingImages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	gei := func(i int) string { return filepath.Join(f.data, "GEI", "090-00", fmt.Sprintf("%05d.png", i)) }
	gone := filepath.Join(dir, "gone.png")
	man := filepath.Join(dir, "test.csv")
	os.WriteFile(man, []byte("path,age,gender,split\n"+
		gei(1)+",30,M,test\n"+gei(2)+",40,F,test\n"+gei(3)+",50,M,test\n"+gone+",60,F,test\n"+gei(4)+",-,F,test\n"), 0o644)
	trainOnly := filepath.Join(dir, "train-only.csv")
	os.WriteFile(trainOnly, []byte("path,age,gender,split\n"+gei(1)+",30,M,train\n"), 0o644)
	allGone := filepath.Join(dir, "all-gone.csv")
	os.WriteFile(allGone, []byte("path,age,gender,split\n/nonexistent/a.png,30,M,test\n/nonexistent/b.png,40,F,test\n"+gei(5)+",-,F,test\n"), 0o644)
	eval := func(data string, extra ...string) []string {
		return append([]string{"eval", "--checkpoint", f.weights, "--data", data}, extra...)
	}
	skipped := func(t *testing.T, r result) {
		if !strings.Contains(r.stderr, "skipped samples: ") || !strings.Contains(r.stderr, "unknown age: 1") {
			t.Errorf("the unlabelled row is not counted on stderr:\n%s", r.stderr)
		}
	}
	runCases(t, []tc{
		{name: "eval/missing-image", args: eval(man), code: 1,
			err:   []string{"gaitord: manifest " + man + ": 1 of the 4 labelled test images are missing (first: " + gone + ")", "--allow-missing"},
			check: skipped},
		{name: "eval/missing-image-allowed", args: eval(man, "--allow-missing"), code: 0,
			out: []string{"test split of " + man + " (3 GEIs)", "samples                         3", "missing images (not evaluated)  1"}, check: skipped},
		{name: "eval/missing-image-allowed-json", args: eval(man, "--allow-missing", "--json"), code: 0,
			out: []string{`"n":3,`, `"mae":`, `"missing_images":1`}},
		{name: "eval/no-test-samples", args: eval(trainOnly), code: 1,
			err: []string{"gaitord: manifest " + trainOnly + " has no test samples: its 1 samples are in other splits (train: 1)"}},
		{name: "eval/all-missing-allowed", args: eval(allGone, "--allow-missing"), code: 1,
			err: []string{"gaitord: manifest " + allGone + ` has no test samples: 3 rows skipped, most (2) for "missing file"; first problem: ` + allGone + ":2: file /nonexistent/a.png: does not exist"}},
	})
}

// checkProblems asserts that stdout holds exactly n file:line: problem lines.
func checkProblems(t *testing.T, r result, n int) {
	t.Helper()
	got := 0
	for _, ln := range strings.Split(r.stdout, "\n") {
		if problemLine.MatchString(ln) {
			got++
		}
	}
	if got != n {
		t.Errorf("%d problem lines on stdout, want %d:\n%s", got, n, r.stdout)
	}
}

// ---- configurations -------------------------------------------------------

func TestConfigs(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	cfg := func(name, body string) string {
		path := filepath.Join(dir, name+".yaml")
		os.WriteFile(path, []byte(body), 0o644)
		return path
	}
	c := func(name, body string, want ...string) tc {
		path := cfg(name, body)
		if body == "" && name == "missing" {
			os.Remove(path)
		}
		out := filepath.Join(dir, "run-"+name)
		return tc{name: name, args: []string{"train", "--config", path, "--data", f.data, "--format", "synthetic", "--out", out, "--epochs", "1"},
			code: 1, err: append([]string{"gaitord: config " + path + ": "}, want...), noFile: []string{out}}
	}
	flag := func(name string, extra []string, want ...string) tc {
		out := filepath.Join(dir, "run-"+name)
		args := append([]string{"train", "--config", f.config, "--data", f.data, "--format", "synthetic", "--out", out, "--epochs", "1"}, extra...)
		return tc{name: name, args: args, code: 1, err: want, noFile: []string{out}}
	}
	runCases(t, []tc{
		c("unknown-key", "train:\n  batch_sise: 4\n", `unknown key "train.batch_sise"`),
		c("wrong-type-string", "train:\n  batch_size: abc\n", `key "train.batch_size"`, `"abc"`),
		c("wrong-type-float-for-int", "train:\n  seed: 2.5\n", `key "train.seed": want an integer, got 2.5`),
		c("zero-batch", "train:\n  batch_size: 0\n", `key "train.batch_size": got 0, want ≥ 1`),
		c("negative-batch", "train:\n  batch_size: -8\n", `key "train.batch_size": got -8, want ≥ 1`),
		c("zero-lr", "optim:\n  lr: 0\n", `key "optim.lr": got 0`),
		c("negative-lr", "optim:\n  lr: -0.001\n", `key "optim.lr": got -0.001`),
		c("input-100x50", "model:\n  input_height: 100\n  input_width: 50\n", `key "model.input_height/input_width": 100×50 not supported`),
		c("not-yaml", "train: [unclosed\n", "not valid YAML"),
		c("unknown-loss-type", "loss:\n  type: softmax\n", `key "loss.type": got "softmax", want odl, ranking, coral, corn, dldl, mean-variance or l1`),
		c("dldl-sigma-zero", "loss:\n  type: dldl\n  sigma: 0\n", `key "loss.sigma": got 0, want > 0`),
		c("missing", "", "no such file or directory"),
		flag("set-zero-batch", []string{"--set", "train.batch_size=0"}, `key "train.batch_size" (from --set train.batch_size=0): got 0, want ≥ 1`),
		flag("flag-negative-batch", []string{"--batch-size", "-1"}, `key "train.batch_size" (from --set train.batch_size=-1): got -1`),
		flag("set-loss-type-case", []string{"--set", "loss.type=CORAL"}, `key "loss.type" (from --set loss.type=CORAL): got "CORAL"`),
		{name: "config-is-a-folder", args: []string{"train", "--config", dir, "--out", filepath.Join(dir, "run-folder"), "--epochs", "1"}, code: 1,
			err: []string{"gaitord: config " + dir + ": ", "is a directory"}, noFile: []string{filepath.Join(dir, "run-folder")}},
	})
}

// ---- experiments: every mistake stops the command before any run ---------

func TestExperiment(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	c := func(name string, code int, extra []string, want ...string) tc {
		out := filepath.Join(dir, name)
		args := append([]string{"experiment", "--config", f.config, "--data", f.data, "--format", "synthetic", "--out", out, "--epochs", "1"}, extra...)
		return tc{name: "experiment/" + name, args: args, code: code, err: want, noFile: []string{out}}
	}
	grid := []string{"--grid", "loss.lambda=0,1"}
	runCases(t, []tc{
		c("no-grid", 2, nil, "gaitord: --grid missing: give at least one key=v1,v2"),
		c("unknown-key", 2, []string{"--grid", "loss.lamda=0,1"}, `gaitord: --grid "loss.lamda=0,1": unknown key "loss.lamda" (known: `),
		c("seed-in-grid", 2, []string{"--grid", "train.seed=1,2"}, "the seeds are --seeds's"),
		c("refused-value", 1, []string{"--grid", "loss.lambda=0,-0.5"},
			`gaitord: cell loss.lambda=-0.5: config `+f.config+`: key "loss.lambda" (from --set loss.lambda=-0.5)`),
		c("wrong-type", 1, []string{"--grid", "train.batch_size=8,eight"}, `gaitord: cell train.batch_size=eight: config `, `"train.batch_size"`),
		c("slash-in-value", 2, []string{"--grid", "data.labels=a/b.csv,c.csv"}, `value "a/b.csv" cannot be part of a run folder's name`),
		c("same-cell-twice", 2, []string{"--grid", "optim.lr=0.001,1e-3"}, "cells optim.lr=0.001 and optim.lr=1e-3 give the same configuration"),
		c("baseline-not-a-cell", 2, append(grid, "--baseline", "loss.lambda=0.5"),
			`gaitord: --baseline "loss.lambda=0.5": not a cell of the grid: loss.lambda takes 0, 1`),
		c("baseline-not-a-key", 2, append(grid, "--baseline", "loss.mu=1"), `"loss.mu" is not a --grid key`),
		c("duplicate-seeds", 2, append(grid, "--seeds", "1,2,2"), "gaitord: --seeds seed 2 given twice"),
		c("seeds-not-numbers", 2, append(grid, "--seeds", "1,two"), `invalid argument "1,two" for "--seeds"`),
		c("grid-key-also-flag", 2, []string{"--grid", "train.epochs=1,2"}, `key "train.epochs" is also overridden by "train.epochs=1"`),
		c("seed-also-set", 2, append(grid, "--seeds", "1,2", "--set", "train.seed=3"), `"train.seed=3"`),
	})
}

// ---- checkpoints and exports ----------------------------------------------

func TestCheckpoints(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	w, err := os.ReadFile(f.weights)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p("truncated.safetensors"), w[:len(w)/2], 0o644)
	os.WriteFile(p("empty.safetensors"), nil, 0o644)
	rnd := make([]byte, 64<<10)
	for i := range rnd {
		rnd[i] = byte(i*7919 + i>>3)
	}
	os.WriteFile(p("random.safetensors"), rnd, 0o644)
	png, _ := os.ReadFile(f.gei)
	os.WriteFile(p("image.ckpt"), png, 0o644)
	// lying headers
	lie := func(name, header string, dataLen int) {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		b = append(b, header...)
		os.WriteFile(p(name), append(b, make([]byte, dataLen)...), 0o644)
	}
	lie("offsets-past-end.safetensors", `{"linear_age.bias":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}`, 16)
	lie("shape-overflow.safetensors", `{"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}`, 16)
	lie("huge-metadata-count.safetensors", `{"__metadata__":{"k":"100000000000"},"linear_age.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 16)
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	os.WriteFile(p("header-length-2^62.safetensors"), append(huge, []byte(`{"a":1}`)...), 0o644)
	maxHdr := binary.LittleEndian.AppendUint64(nil, 200_000_000)
	os.WriteFile(p("header-length-over-limit.safetensors"), append(maxHdr, make([]byte, 1<<10)...), 0o644)
	// other model configurations
	k80 := model.DefaultConfig()
	k80.K = 80
	md := checkpoint.ModelMetadata(model.DefaultConfig()) // claims K=100
	if err := saveWeights(p("k80-claims-k100.safetensors"), k80, md); err != nil {
		t.Fatal(err)
	}
	big := model.DefaultConfig()
	big.InputH, big.InputW = 128, 88
	if err := saveWeights(p("128x88-no-metadata.safetensors"), big, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if err := saveWeights(p("128x88-claims-64x44.safetensors"), big, md); err != nil {
		t.Fatal(err)
	}
	badMD := checkpoint.ModelMetadata(model.DefaultConfig())
	badMD["k"] = "lots"
	if err := saveWeights(p("metadata-k-not-int.safetensors"), model.DefaultConfig(), badMD); err != nil {
		t.Fatal(err)
	}
	lossMD := checkpoint.ModelMetadata(model.DefaultConfig())
	lossMD["loss_type"] = "softmax"
	if err := saveWeights(p("unknown-loss-type.safetensors"), model.DefaultConfig(), lossMD); err != nil {
		t.Fatal(err)
	}
	lossMD["loss_type"] = "corn" // odl's linear_age under a corn label
	if err := saveWeights(p("odl-labelled-corn.safetensors"), model.DefaultConfig(), lossMD); err != nil {
		t.Fatal(err)
	}
	ckMD := checkpoint.ModelMetadata(model.DefaultConfig())
	ckMD["gaitord.kind"] = checkpoint.KindCheckpoint
	if err := saveWeights(p("checkpoint-without-state.ckpt"), model.DefaultConfig(), ckMD); err != nil {
		t.Fatal(err)
	}

	var cases []tc
	// Every file goes through predict; those in evalToo through eval as well
	// (the same checkpoint.Load, so not every case is worth a second run).
	evalToo := map[string]bool{"truncated": true, "header-length-2^62": true, "k80-claims-k100": true}
	both := func(name, file string, rss int64, want ...string) {
		path := p(file)
		if file == "" {
			path = dir // a folder
		}
		e := append([]string{"gaitord: load " + path + ": "}, want...)
		cases = append(cases, tc{name: "predict/" + name, args: []string{"predict", "--checkpoint", path, f.gei}, code: 1, err: e, rssKB: rss})
		if evalToo[name] {
			cases = append(cases, tc{name: "eval/" + name, args: []string{"eval", "--checkpoint", path}, code: 1, err: e, rssKB: rss})
		}
	}
	const small = 64 << 10 // KiB over the baseline: far below what any lie claims
	both("truncated", "truncated.safetensors", small, "data_offsets end", "past the data section")
	both("empty", "empty.safetensors", small, "0 bytes")
	both("random-bytes", "random.safetensors", small, "header length")
	both("png-as-checkpoint", "image.ckpt", small, "header length")
	both("lying-offsets", "offsets-past-end.safetensors", small, `tensor "linear_age.bias": data_offsets end 4000000000 past the data section's 16 bytes`)
	both("lying-shape-overflow", "shape-overflow.safetensors", small, `tensor "x"`, "overflows")
	both("header-length-2^62", "header-length-2^62.safetensors", small, "header length 4611686018427387904 exceeds")
	both("header-length-over-limit", "header-length-over-limit.safetensors", small, "header length 200000000 exceeds")
	both("absurd-k-in-metadata", "huge-metadata-count.safetensors", small, "K = 100000000000 ordinal tasks: want 2…1000")
	both("k80-claims-k100", "k80-claims-k100.safetensors", 0, "linear_age.bias has shape [80]", "K=100")
	both("128x88-no-metadata", "128x88-no-metadata.safetensors", 0, "model (64×44, K=100) needs")
	both("128x88-claims-64x44", "128x88-claims-64x44.safetensors", 0, "model (64×44, K=100) needs")
	both("metadata-k-not-an-integer", "metadata-k-not-int.safetensors", small, `metadata k = "lots" is not an integer`)
	both("checkpoint-lacking-state", "checkpoint-without-state.ckpt", 0, "checkpoint metadata lacks")
	both("unknown-loss-type", "unknown-loss-type.safetensors", small, `metadata loss_type: loss type "softmax": want odl, ranking, coral, corn, dldl, mean-variance or l1`)
	both("odl-weights-labelled-corn", "odl-labelled-corn.safetensors", 0, "missing corn_age.weight (shape [100 1024])", "unexpected linear_age.weight")
	both("folder", "", small, "not a regular file")
	both("missing", "absent.ckpt", small, "no such file or directory")
	cases = append(cases,
		tc{name: "predict/128x88-export-accepted", args: []string{"predict", "--checkpoint", f.weights88, f.gei}, code: 0,
			check: func(t *testing.T, r result) {
				if a := predicted(t, r.stdout, f.gei); !(a >= 0 && a <= 100) {
					t.Fatalf("age %v", a)
				}
			}},
		tc{name: "export/bad-checkpoint", args: []string{"export", "--checkpoint", p("truncated.safetensors"), "--out", p("out.safetensors")}, code: 1,
			err: []string{"gaitord: load " + p("truncated.safetensors") + ": "}, noFile: []string{p("out.safetensors")}, noTemp: []string{dir}},
	)
	runCases(t, cases)
}

// ---- devices --------------------------------------------------------------

func TestDevices(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	var cases []tc
	for _, d := range []struct{ dev, trainErr, otherErr string }{
		{"cuda", `device "cuda": CUDA is not available`, `device "cuda": CUDA is not available`},
		{"tpu", `key "train.device" (from --set train.device=tpu): got "tpu", want cpu, cuda or cuda:N`, `unknown device "tpu"`},
	} {
		out := filepath.Join(dir, "run-"+d.dev)
		cases = append(cases,
			tc{name: "train/" + d.dev, args: []string{"train", "--config", f.config, "--data", f.data, "--format", "synthetic", "--out", out, "--epochs", "1", "--device", d.dev},
				code: 1, err: []string{d.trainErr}, noFile: []string{out}},
			tc{name: "eval/" + d.dev, args: []string{"eval", "--checkpoint", f.weights, "--device", d.dev}, code: 1, err: []string{d.otherErr}},
			tc{name: "predict/" + d.dev, args: []string{"predict", "--checkpoint", f.weights, "--device", d.dev, f.gei}, code: 1, err: []string{d.otherErr}},
		)
	}
	if v := os.Getenv("CUDA_VISIBLE_DEVICES"); v != "" {
		t.Logf("CUDA_VISIBLE_DEVICES=%s", v)
	}
	if r := run(t, "version"); !strings.Contains(r.stdout, "CUDA      not available") {
		t.Skip("this machine has CUDA: the device refusals are not testable here")
	}
	runCases(t, cases)
}

// ---- OpenGait pickles and fused sets --------------------------------------

// le8 is n as 8 little-endian bytes.
func le8(n uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n)
	return string(b[:])
}

// TestOpenGaitPickles: predict, predict --fuse and gei --tree --format
// opengait refuse hostile and broken pickles with one line naming the file
// (and predict's summary line), never running what a pickle names: the
// os.system payloads would create a file, which must not exist afterwards.
// A claim of 2^60 bytes is refused by the length check (an allocation of
// that size would crash the process; the opengait package's tests check
// that the refusal comes before the pickle library allocates).
func TestOpenGaitPickles(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	pwned := p("pwned")
	cmd := "touch " + pwned
	// protocol 2, GLOBAL + REDUCE: posix.system(cmd)
	os.WriteFile(p("reduce.pkl"), []byte("\x80\x02cposix\nsystem\nX"+string([]byte{byte(len(cmd))})+"\x00\x00\x00"+cmd+"\x85R."), 0o644)
	// protocol 4, STACK_GLOBAL + REDUCE: os.system(cmd), named walk.bin (sniffed as a pickle)
	os.WriteFile(p("walk.bin"), []byte("\x80\x04\x8c\x02os\x8c\x06system\x93\x8c"+string([]byte{byte(len(cmd))})+cmd+"\x85R."), 0o644)
	// BINBYTES8 claiming 2^60 bytes, 4 present
	os.WriteFile(p("exabytes.pkl"), []byte("\x80\x04\x8e"+le8(1<<60)+"abcd."), 0o644)
	os.WriteFile(p("one-byte.pkl"), []byte("\x80"), 0o644)
	// a real NumPy pickle, cut in half
	if out, err := exec.Command("/usr/bin/python3", "-c", `
import numpy as np, pickle, sys
a = np.zeros((4, 64, 64), np.uint8); a[:, 8:56, 24:40] = 255
open(sys.argv[1], 'wb').write(pickle.dumps(a, protocol=4))
`, p("good.pkl")).CombinedOutput(); err != nil {
		t.Skipf("/usr/bin/python3 with NumPy is needed (scripts/install_test_deps.sh): %v %s", err, out)
	}
	good, _ := os.ReadFile(p("good.pkl"))
	os.WriteFile(p("truncated.pkl"), good[:len(good)/2], 0o644)

	notRun := func(t *testing.T, r result) {
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("a pickle's payload ran: %s exists", pwned)
		}
	}
	pred := func(name, file string, want ...string) tc {
		return tc{name: name, args: []string{"predict", "--checkpoint", f.weights, p(file)}, code: 1, errLines: 2,
			err: append([]string{"gaitord: read OpenGait pickle " + p(file) + ": "}, want...), noFile: []string{pwned},
			check: func(t *testing.T, r result) {
				notRun(t, r)
				if !strings.Contains(r.stderr, "gaitord: 1 of 1 inputs failed") {
					t.Errorf("no summary line:\n%s", r.stderr)
				}
			}}
	}
	// a person folder holding one good and one hostile pickle: the set fails
	person := p("person")
	os.MkdirAll(filepath.Join(person, "nm-01", "090"), 0o755)
	os.WriteFile(filepath.Join(person, "nm-01", "090", "090.pkl"), good, 0o644)
	os.MkdirAll(filepath.Join(person, "nm-02", "090"), 0o755)
	b, _ := os.ReadFile(p("reduce.pkl"))
	os.WriteFile(filepath.Join(person, "nm-02", "090", "090.pkl"), b, 0o644)
	// an OpenGait tree (OU-MVLP form) with the hostile pickle in one walk
	tree := p("tree")
	for _, w := range []string{"00001/00/090", "00002/00/090"} {
		os.MkdirAll(filepath.Join(tree, w), 0o755)
	}
	os.WriteFile(filepath.Join(tree, "00001/00/090/090.pkl"), good, 0o644)
	os.WriteFile(filepath.Join(tree, "00002/00/090/090.pkl"), b, 0o644)
	geis := p("geis")

	runCases(t, []tc{
		pred("reduce-os-system", "reduce.pkl", `callable not on the NumPy array allow-list: "posix.system"`),
		pred("stack-global-os-system-no-extension", "walk.bin", `callable not on the NumPy array allow-list: "os.system"`),
		pred("length-2^60", "exabytes.pkl", "malformed pickle: BINBYTES8 at offset 2 claims 1152921504606846976 bytes"),
		pred("truncated", "truncated.pkl", "malformed pickle"),
		pred("one-byte", "one-byte.pkl", "malformed pickle"),
		{name: "fuse-with-a-hostile-member", args: []string{"predict", "--checkpoint", f.weights, "--fuse", person}, code: 1, errLines: 2,
			err: []string{"gaitord: read OpenGait pickle " + filepath.Join(person, "nm-02", "090", "090.pkl") + ": callable not on the NumPy array allow-list"},
			check: func(t *testing.T, r result) {
				notRun(t, r)
				if !strings.Contains(r.stderr, "gaitord: 1 of 1 inputs failed") || strings.TrimSpace(r.stdout) != "PATH  GEIS  AGE  80% INTERVAL  GENDER  P" {
					t.Errorf("the set must fail whole:\nstdout %q\nstderr %s", r.stdout, r.stderr)
				}
			}},
		{name: "fuse-missing-folder", args: []string{"predict", "--checkpoint", f.weights, "--fuse", p("nobody")}, code: 1, errLines: 2,
			err: []string{"gaitord: " + p("nobody") + ": no such file or directory"}},
		{name: "gei-tree-opengait", args: []string{"gei", "--tree", tree, "--format", "opengait", "--out", geis}, code: 1, errLines: 2,
			err: []string{"gaitord: " + filepath.Join(tree, "00002/00/090") + ": read OpenGait pickle " + filepath.Join(tree, "00002/00/090/090.pkl") + `: callable not on the NumPy array allow-list: "posix.system"`},
			check: func(t *testing.T, r result) {
				notRun(t, r)
				if !strings.Contains(r.stderr, "gaitord: 1 walk folders gave no GEI") {
					t.Errorf("no summary line:\n%s", r.stderr)
				}
				if _, err := os.Stat(filepath.Join(geis, "GEI", "090-00", "00001.png")); err != nil {
					t.Errorf("the good walk was not converted: %v", err)
				}
			}},
	})
}

// ---- export ---------------------------------------------------------------

func TestExport(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "folder")
	cases := []tc{
		{name: "missing-folder", args: []string{"export", "--checkpoint", f.weights, "--out", filepath.Join(missing, "w.safetensors")}, code: 1,
			err: []string{"gaitord: export " + filepath.Join(missing, "w.safetensors") + ": ", "no such file or directory"}, noFile: []string{filepath.Join(dir, "no")}},
		{name: "unknown-format", args: []string{"export", "--checkpoint", f.weights, "--format", "torchscript", "--out", filepath.Join(dir, "w.pt")}, code: 2,
			err: []string{`gaitord: --format "torchscript": want safetensors or onnx`}, noFile: []string{filepath.Join(dir, "w.pt")}},
		{name: "out-is-a-folder", args: []string{"export", "--checkpoint", f.weights, "--out", dir}, code: 1,
			err: []string{"gaitord: export " + dir + ": "}, noTemp: []string{filepath.Dir(dir)}},
	}
	runCases(t, cases)
}

// mountTmpfs mounts a tmpfs with opts on a new folder, or skips the test
// when this process may not mount (not root, no CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, opts); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): needs root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

// TestExportReadOnlyFolder: a read-only file system (root ignores mode bits,
// so a chmod 0555 folder would not do).
func TestExportReadOnlyFolder(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var mnt string
	if os.Geteuid() == 0 {
		mnt = mountTmpfs(t, "size=1m")
		if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, "size=1m"); err != nil {
			t.Skipf("remount read-only: %v", err)
		}
	} else {
		mnt = t.TempDir()
		os.Chmod(mnt, 0o555)
		t.Cleanup(func() { os.Chmod(mnt, 0o755) })
	}
	for _, format := range []string{"safetensors", "onnx"} {
		out := filepath.Join(mnt, "w."+format)
		c := tc{name: format, args: []string{"export", "--checkpoint", f.weights, "--format", format, "--out", out}, code: 1,
			err: []string{"gaitord: export " + out + ": "}, noFile: []string{out}, noTemp: []string{mnt}}
		t.Run(format, c.run)
	}
}

// TestExportFullDisk exports onto a 1 MiB tmpfs that already holds an older
// file at the output path: the export fails with ENOSPC, the older file is
// byte-identical and no temp file is left.
func TestExportFullDisk(t *testing.T) {
	t.Parallel()
	f := setup(t)
	mnt := mountTmpfs(t, "size=1m")
	prev := make([]byte, 300<<10)
	for i := range prev {
		prev[i] = byte(i % 251)
	}
	for _, format := range []string{"safetensors", "onnx"} {
		out := filepath.Join(mnt, "w."+format)
		if err := os.WriteFile(out, prev, 0o644); err != nil {
			t.Fatal(err)
		}
		c := tc{name: format, args: []string{"export", "--checkpoint", f.weights, "--format", format, "--out", out}, code: 1,
			err: []string{"gaitord: export " + out + ": ", "no space left on device"}, noTemp: []string{mnt},
			check: func(t *testing.T, r result) {
				got, err := os.ReadFile(out)
				if err != nil || !bytes.Equal(got, prev) {
					t.Fatalf("previous %s not intact after a failed export (%d bytes, %v)", out, len(got), err)
				}
			}}
		t.Run(format, c.run)
		os.Remove(out)
	}
	// a training run whose checkpoint cannot be written: the run folder on
	// the full tmpfs; last.ckpt (84 MB with optimiser state) never fits.
	run := filepath.Join(mnt, "run")
	c := tc{name: "train-checkpoint", args: []string{"train", "-q", "--config", f.config, "--data", f.data, "--format", "synthetic",
		"--out", run, "--epochs", "1", "--batch-size", "4", "--set", "schedule.type=none", "--set", "train.val_fraction=0.2"}, code: 1,
		err: []string{"no space left on device"}, noTemp: []string{run},
		check: func(t *testing.T, r result) {
			for _, name := range []string{"last.ckpt", "best.ckpt"} {
				if _, err := os.Stat(filepath.Join(run, name)); err == nil {
					t.Errorf("%s written on a full disk", name)
				}
			}
		}}
	t.Run("train-checkpoint", c.run)
}
