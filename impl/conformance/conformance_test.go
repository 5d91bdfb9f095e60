package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/conformance/cases"
	"github.com/bun13/bun13/impl/conformance/difffuzz"
	"github.com/bun13/bun13/impl/conformance/runner"
)

// The binaries the tests drive, built once per test binary by TestMain:
// bun13 itself and the wrong implementations (one program, the defect
// chosen by a flag).
var bun13Bin, wrongBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "conformance-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bun13Bin = filepath.Join(dir, "bun13")
	wrongBin = filepath.Join(dir, "wrongimpl")
	for bin, pkg := range map[string]string{bun13Bin: "../cmd/bun13", wrongBin: "./testdata/wrongimpl"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv is the environment the implementations run with: no
// BUN_CONFIG_* variable of the machine's leaks into config validate.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BUN_") {
			out = append(out, kv)
		}
	}
	return out
}

func mainIn(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), &Env{Stdout: &out, Stderr: &errb, Environ: cleanEnv()}, args)
	return out.String(), errb.String(), code
}

// The kit run against bun13 itself, through `bun13 conformance run`,
// agrees on every case of every area.
func TestBun13AgreesWithItself(t *testing.T) {
	cmd := exec.Command(bun13Bin, "conformance", "run", "--impl", bun13Bin, "--count", "10", "--seed", "11", "--format", "json")
	cmd.Env = cleanEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("conformance run against bun13: %v\n%s", err, out)
	}
	var rep Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Disagreements) > 0 {
		t.Errorf("%d disagreements, first: %+v", len(rep.Disagreements), rep.Disagreements[0])
	}
	total := 0
	for _, a := range rep.Areas {
		total += a.Valid + a.Errors
		if a.ValidAgree != a.Valid || a.ErrorsAgree != a.Errors || a.Valid == 0 || a.Errors == 0 {
			t.Errorf("%s: %+v", a.Area, a)
		}
	}
	if len(rep.Areas) != len(cases.Areas) || total != rep.Cases {
		t.Errorf("%d areas, %d cases summed, %d run", len(rep.Areas), total, rep.Cases)
	}
	t.Logf("%d cases in %.1fs", rep.Cases, rep.Seconds)
}

// wrongs are the wrong implementations: each defect, the area whose cases
// catch it, and one case that must be named among the disagreements.
var wrongs = []struct {
	defect string
	area   cases.Area
	named  string
}{
	{"rows-offset", cases.ConfigValidate, "config-validate/mut/terminal-size-cols"},
	{"crc8-init", cases.FrameDecode, "frame-decode/vector/seed-set-terminal-raw"},
	{"header-upper-hex", cases.HeadersValidate, "headers-validate/registry-hash-upper-case-hex"},
	{"unsorted-deps", cases.LockfileDecode, "lockfile-decode/mut/record0/deps-descending"},
	{"flags-unsorted", cases.LockfileDecode, "lockfile-decode/edge/package-every-flag-set"},
	{"trailing-accepted", cases.LockfileDecode, "lockfile-decode/mut/trailing-data-one-byte"},
	{"version-255", cases.LockfileDecode, "lockfile-decode/edge/version-256-bytes"},
	{"body-crc-no-count", cases.LockfileDecode, "lockfile-decode/vector/two-packages"},
	{"hash-before-version", cases.ConfigValidate, "config-validate/mut/order-version-before-registry-hash"},
	{"header-missing-last", cases.HeadersValidate, "headers-validate/missing-two-first-wins"},
	{"snapshot-value", cases.FrameDecode, "frame-decode/snapshot-value"},
	{"depsfirst-zero", cases.LockfileEncode, "lockfile-encode/edge/dependencies-none-between"},
	{"terminal-255", cases.ConfigValidate, "config-validate/edge/config-mode-raw-255x255"},
	{"header-tabs-kept", cases.HeadersValidate, "headers-validate/values-surrounded-by-spaces-and-tabs"},
	{"encode-no-string-dedup", cases.LockfileEncode, "lockfile-encode/edge/shared-strings-across-records-and-fields"},
	{"trusts-package-count", cases.LockfileDecode, "lockfile-decode/mut/package-count-huge"},
}

func wrongImpl(defect string) *runner.Impl {
	return &runner.Impl{Argv: []string{wrongBin, "-defect", defect}, Env: cleanEnv()}
}

// The wrong implementation without a defect prints everything in other
// words than bun13 (compact JSON with keys in another order, "error: CODE
// (offset 0xNN)", header names in lower case) and agrees on every case:
// the kit compares values, not text.
func TestOtherWordsAgree(t *testing.T) {
	all, _ := cases.ParseOnly("")
	cs, err := cases.Generate(cases.Options{Seed: 5, Count: 5, Areas: all})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), wrongImpl("none"), cs, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Disagreements {
		t.Errorf("%s: %s", d.Case, d.Why)
	}
}

// An encoder that refuses unsorted input, as the SPEC lets it, agrees.
func TestRefusingUnsortedAgrees(t *testing.T) {
	cs, err := cases.Generate(cases.Options{Seed: 5, Count: 20, Areas: map[cases.Area]bool{cases.LockfileEncode: true}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), wrongImpl("refuses-unsorted"), cs, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Disagreements {
		t.Errorf("%s: %s", d.Case, d.Why)
	}
	refused := 0
	for _, c := range cs {
		if c.Unsorted {
			refused++
		}
	}
	if refused < 5 {
		t.Errorf("only %d unsorted cases", refused)
	}
}

// Every wrong implementation is caught by run, with the case that shows
// its defect named among the disagreements, and no disagreement outside
// the area the defect lives in... beyond those it explains.
func TestRunCatchesWrongImplementations(t *testing.T) {
	for _, w := range wrongs {
		t.Run(w.defect, func(t *testing.T) {
			t.Parallel()
			cs, err := cases.Generate(cases.Options{Seed: 1, Count: 0, Areas: map[cases.Area]bool{w.area: true}})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), wrongImpl(w.defect), cs, t.TempDir(), 2)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range rep.Disagreements {
				names = append(names, d.Case)
				if d.Input == "" || d.Spec == "" || d.Expected == "" || d.Why == "" {
					t.Errorf("%s: incomplete report %+v", d.Case, d)
				}
				if _, err := os.Stat(d.Input); err != nil {
					t.Errorf("%s: input not saved: %v", d.Case, err)
				}
			}
			if !slices.Contains(names, w.named) {
				t.Errorf("%s not among the %d disagreements: %q", w.named, len(names), names)
			}
		})
	}
}

// Every wrong implementation is caught by fuzz within its budget (600
// iterations of seed 1, and 60 s as a bound for a slow machine, not a
// speed claim: each run stops at its first finding), and the finding is
// shrunk and lies in the defect's area.
func TestFuzzCatchesWrongImplementations(t *testing.T) {
	for _, w := range wrongs {
		t.Run(w.defect, func(t *testing.T) {
			t.Parallel()
			st, found, err := difffuzz.Fuzz(context.Background(), difffuzz.Options{
				Impl: wrongImpl(w.defect), Seed: 1, Duration: 60 * time.Second, MaxIterations: 600, Jobs: 1, Dir: t.TempDir(),
				MaxFindings: 1, MaxShrinkSteps: 60,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(found) == 0 {
				t.Fatalf("not found in %d iterations (%s)", st.Iterations, st.Elapsed)
			}
			f := found[0]
			if f.ShrunkSize > f.InputSize {
				t.Errorf("shrinking grew the input from %d to %d", f.InputSize, f.ShrunkSize)
			}
			area := f.Outcome.Case.Area
			ok := area == w.area || (w.area == cases.ConfigValidate && area == cases.LockfileDecode) ||
				(w.area == cases.LockfileDecode && area == cases.ConfigValidate)
			if !ok {
				t.Errorf("found in %s (%s), want %s", area, f.Signature, w.area)
			}
			t.Logf("iteration %d after %d iterations, %s; %s; shrunk %d -> %d in %d steps", f.Iteration, st.Iterations, st.Elapsed.Round(time.Millisecond), f.Signature, f.InputSize, f.ShrunkSize, f.Steps)
		})
	}
}

// Fuzzing bun13 against itself finds nothing: no false positives.
func TestFuzzBun13FindsNothing(t *testing.T) {
	st, found, err := difffuzz.Fuzz(context.Background(), difffuzz.Options{
		Impl: &runner.Impl{Argv: []string{bun13Bin}, Env: cleanEnv()}, Seed: 99, Duration: 2 * time.Second, Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("iteration %d: %s: %s", f.Iteration, f.Signature, f.Outcome.Why)
	}
	if st.Iterations < 10 {
		t.Errorf("only %d iterations", st.Iterations)
	}
}

// The CLI's exit statuses: 1 on a disagreement, 2 on bad flags or an
// implementation that cannot be run.
func TestExitStatus(t *testing.T) {
	keep := t.TempDir()
	out, _, code := mainIn(t, "run", "--impl", wrongBin+" -defect snapshot-value", "--only", "frame", "--count", "0", "--keep", keep)
	if code != ExitDisagree || !strings.Contains(out, "frame-decode/snapshot-value") || !strings.Contains(out, keep) {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(keep, "frame-decode", "snapshot-value", "input.hex")); err != nil {
		t.Error(err)
	}
	for _, args := range [][]string{
		{"run", "--impl", filepath.Join(t.TempDir(), "no-such-impl"), "--only", "frame"},
		{"run", "--impl", "/dev/null", "--only", "frame"},
		{"run"},
		{"run", "--impl", bun13Bin, "--format", "xml"},
		{"run", "--impl", bun13Bin, "--only", "lockfiles"},
		{"run", "--impl", "'unterminated"},
		{"fuzz", "--impl", bun13Bin, "--time", "soon"},
		{"nonsense"},
	} {
		if _, errs, code := mainIn(t, args...); code != ExitUsage || errs == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errs)
		}
	}
	if out, _, code := mainIn(t, "run", "--impl", bun13Bin, "--only", "headers", "--count", "5"); code != ExitAgree {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// fuzz through the CLI: reports, shrinks and saves a finding, exit 1.
func TestFuzzCommand(t *testing.T) {
	keep := t.TempDir()
	out, errs, code := mainIn(t, "fuzz", "--impl", wrongBin+" -defect crc8-init", "--time", "20s", "--seed", "3", "--max-findings", "1", "--keep", keep)
	if code != ExitDisagree || !strings.Contains(out, "seed 3") || !strings.Contains(out, "frame-checksum") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	ents, err := os.ReadDir(keep)
	if err != nil || len(ents) != 1 {
		t.Fatalf("%v, %d entries", err, len(ents))
	}
	for _, f := range []string{"input.hex", "expected.json", "found.txt", "why.txt"} {
		if _, err := os.Stat(filepath.Join(keep, ents[0].Name(), f)); err != nil {
			t.Error(err)
		}
	}
}

// export writes every case and a manifest whose commands, run against
// bun13, give the expected results.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := mainIn(t, "export", "--count", "3", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man map[string]ManifestEntry
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	all, _ := cases.ParseOnly("")
	cs, _ := cases.Generate(cases.Options{Seed: 1, Count: 3, Areas: all})
	if len(man) != len(cs) {
		t.Fatalf("%d manifest entries, %d cases", len(man), len(cs))
	}
	// Drive bun13 from the manifest alone, as an implementation without
	// a command line of its own would (one case in ten, to keep it short).
	k := 0
	for name, e := range man {
		if k++; k%10 != 0 {
			continue
		}
		in := filepath.Join(dir, filepath.FromSlash(e.Input))
		if _, err := os.Stat(in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		args := slices.Clone(e.Command)
		outFile := filepath.Join(t.TempDir(), "out.lockb")
		for i, a := range args {
			switch a {
			case "{input}":
				args[i] = in
			case "{output}":
				args[i] = outFile
			}
		}
		cmd := exec.Command(bun13Bin, args...)
		cmd.Env = cleanEnv()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Run()
		if got := cmd.ProcessState.ExitCode(); got != e.Expected.Exit {
			t.Errorf("%s: exit %d, manifest says %d (%s)", name, got, e.Expected.Exit, stderr.String())
			continue
		}
		if e.Expected.Error != "" && e.Area != string(cases.ConfigValidate) && !strings.HasPrefix(stderr.String(), "error: "+e.Expected.Error) {
			t.Errorf("%s: stderr %q, manifest says %s", name, stderr.String(), e.Expected.Error)
		}
		if e.Expected.Output != "" {
			want, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Expected.Output)))
			got, _ := os.ReadFile(outFile)
			if !bytes.Equal(got, want) {
				t.Errorf("%s: output differs from %s", name, e.Expected.Output)
			}
		}
	}
}

// --iterations bounds a fuzz run; bun13 against itself finds nothing.
func TestFuzzIterations(t *testing.T) {
	out, errs, code := mainIn(t, "fuzz", "--impl", bun13Bin, "--time", "60s", "--seed", "8", "--iterations", "20")
	if code != ExitAgree || !strings.Contains(out, "20 iterations") || !strings.Contains(out, "no disagreement found") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
}
