package serve

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium is Debian's browser, installed by scripts/install_test_deps.sh.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: run scripts/install_test_deps.sh (make test does)")
	return ""
}

// The web page in a real browser: it asks for the token once, then a GEI
// is uploaded and the age it shows is the one `predict --json` prints; then
// a folder of silhouette frames. With GAITORD_SERVE_SCREENSHOT=FILE.png
// (and GAITORD_SERVE_CHECKPOINT for a trained model) it also saves a
// screenshot of the page, as in the README.
func TestWebPageInBrowser(t *testing.T) {
	f := setup(t)
	ckpt := f.weightsA
	if c := os.Getenv("GAITORD_SERVE_CHECKPOINT"); c != "" {
		ckpt = c
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("page-token"), 0o600)
	s := start(t, "--checkpoint", ckpt, "--token-file", tokenFile)
	want := predictJSON(t, "--checkpoint", ckpt, f.geis[1], f.frames)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.WindowSize(960, 820), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 120*time.Second)
	defer cancelT()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		must(err)
		return v
	}
	shownAge := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".result .age").firstChild.textContent`))
		must(err)
		return v
	}
	must(chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.ID("token-form")),
		chromedp.SendKeys(chromedp.ID("token"), "page-token"),
		chromedp.Click(chromedp.CSS("#token-form button")),
		chromedp.WaitNotVisible(chromedp.ID("token-form")),
	))
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("model").textContent.includes("K=100")`, chromedp.WithPollingTimeout(30*time.Second)))
	must(err)
	model := text("#model")
	must(chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.ID("pick-gei"), []string{f.geis[1]}),
		chromedp.WaitVisible(chromedp.CSS(".result .age")),
	))
	age, interval, gender, path := shownAge(), text(".result .interval"), text(".result .gender"), text(".result .path")
	t.Logf("page shows: %s | age %s | %s | %s | %s", model, age, interval, gender, path)
	p := want[0]
	if age != strconv.FormatFloat(p.Age, 'f', 1, 64) {
		t.Fatalf("page shows age %q, predict --json %v", age, p.Age)
	}
	wantIv := fmt.Sprintf("80%% interval %.1f – %.1f, median %.1f", p.Interval[0], p.Interval[1], p.Median)
	wantG := fmt.Sprintf("%s (p %.2f)", p.Gender, p.PGender())
	if interval != wantIv || !strings.EqualFold(gender, wantG) || path != filepath.Base(f.geis[1]) {
		t.Fatalf("page shows %q, %q, %q; want %q, %q, %q", interval, gender, path, wantIv, wantG, filepath.Base(f.geis[1]))
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".result svg.chart rect.bar").length`))
	must(err)
	imgOK, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const i = document.querySelector(".result img"); return i.complete && i.naturalWidth === 44 && i.naturalHeight === 64; })()`))
	must(err)
	if bars != 101 || !imgOK {
		t.Fatalf("chart has %d bars (want 101), input image loaded as 44×64: %v", bars, imgOK)
	}

	if shot := os.Getenv("GAITORD_SERVE_SCREENSHOT"); shot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		must(err)
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s (%d bytes)", shot, len(png))
	}

	// a folder of frames: one prediction, the one predict gives for the folder
	must(chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("pick-frames"), []string{f.frames})))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const p = document.querySelector(".result .path"); return p !== null && p.textContent !== `+strconv.Quote(path)+`; })()`, chromedp.WithPollingTimeout(30*time.Second)))
	must(err)
	age, path = shownAge(), text(".result .path")
	if age != strconv.FormatFloat(want[1].Age, 'f', 1, 64) || path != filepath.Base(f.frames) {
		t.Fatalf("frames: page shows age %q path %q; predict %v for the folder", age, path, want[1].Age)
	}

	// the GEIs of one person: one fused prediction, predict --fuse's
	person := personFolder(t, f)
	fused := predictJSON(t, "--checkpoint", ckpt, "--fuse", person)[0]
	var members []string
	for _, g := range f.geis[:3] {
		members = append(members, filepath.Join(person, filepath.Base(g)))
	}
	must(chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("pick-set"), members)))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector(".result .fused") !== null`, chromedp.WithPollingTimeout(30*time.Second)))
	must(err)
	if age, note := shownAge(), text(".result .fused"); age != strconv.FormatFloat(fused.Age, 'f', 1, 64) || note != "3 GEIs fused into one prediction" {
		t.Fatalf("set: page shows age %q (%q); predict --fuse %v", age, note, fused.Age)
	}

	// a video: a card per walker, predict's records
	footage(t)
	walkers := predictJSON(t, "--checkpoint", ckpt, media.walk)
	must(chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("pick-video"), []string{media.walk})))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector(".result .track") !== null`, chromedp.WithPollingTimeout(60*time.Second)))
	must(err)
	cards, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".result").length`))
	must(err)
	w := walkers[0]
	wantTrack := fmt.Sprintf("walker #%d, frames %d–%d, %d gait cycle(s), %s", w.Track, w.Frames[0], w.Frames[1], w.Cycles, w.ViewHint)
	if age, track := shownAge(), text(".result .track"); cards != len(walkers) || age != strconv.FormatFloat(w.Age, 'f', 1, 64) || track != wantTrack ||
		text(".result .path") != "walk.mp4" {
		t.Fatalf("video: %d cards, age %q, %q; predict: %d walkers, %v, %q", cards, age, track, len(walkers), w.Age, wantTrack)
	}
}
