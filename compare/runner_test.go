package compare

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tinyRepo creates a git repository holding a module with one cheap and one
// to-be-deleted benchmark, committed once. It returns the repository dir.
func tinyRepo(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not in PATH", tool)
		}
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"go.mod":  "module example.com/tiny\n\ngo 1.24\n",
		"work.go": workSource(1),
		"work_test.go": `package tiny

import "testing"

func BenchmarkWork(b *testing.B) {
	for b.Loop() {
		Work(3)
	}
}

func BenchmarkGone(b *testing.B) {
	for b.Loop() {
		Work(1)
	}
}
`,
		"nobench/nobench.go": "package nobench\n",
	})
	git(t, dir, "init", "-q")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "base")
	return dir
}

// workSource is a Work function whose cost scales with factor.
func workSource(factor int) string {
	return strings.ReplaceAll(`package tiny

// Work spins for a while; FACTOR scales its cost.
func Work(n int) int {
	x := n
	for i := 0; i < 200*FACTOR; i++ {
		x = x*31 + i
	}
	return x
}
`, "FACTOR", string(rune('0'+factor)))
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// fastBench keeps each binary run to a few tens of milliseconds. Six
// samples, not the minimum four: on a loaded machine one preempted sample
// must not be able to hide a 9x slowdown (with 4+4 only complete
// separation is significant).
func fastBench() BenchConfig { return BenchConfig{Bench: ".", Benchtime: "10000x", Count: 6} }

func TestRunWorkingTreeAgainstBase(t *testing.T) {
	repo := tinyRepo(t)
	// The PR: Work gets 9x slower and BenchmarkGone is deleted, left
	// uncommitted: head defaults to the working tree.
	writeFiles(t, repo, map[string]string{"work.go": workSource(9)})
	src, err := os.ReadFile(filepath.Join(repo, "work_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	gone := string(src[strings.Index(string(src), "func BenchmarkGone"):])
	writeFiles(t, repo, map[string]string{"work_test.go": strings.Replace(string(src), gone, "", 1)})

	out := filepath.Join(t.TempDir(), "out")
	var log bytes.Buffer
	tc := Toolchain{Log: &log}
	rep, err := tc.Run(context.Background(), RunOptions{
		Dir: repo, Base: "HEAD", Packages: []string{"./..."}, Bench: fastBench(), OutDir: out,
	}, DefaultOptions())
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	got := map[string]string{}
	for _, b := range rep.Benchmarks {
		got[b.Name] = b.Status
	}
	if d := cmp.Diff(map[string]string{"Work": StatusRegression, "Gone": StatusMissing}, got); d != "" {
		t.Errorf("statuses (-want +got):\n%s\nlog:\n%s", d, log.String())
	}
	if !rep.Failed {
		t.Error("gate passed a 9x slowdown")
	}
	for _, f := range []string{"base.txt", "head.txt"} {
		data, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(data), "BenchmarkWork"); n != fastBench().Count {
			t.Errorf("%s has %d BenchmarkWork lines, want %d (one per round)", f, n, fastBench().Count)
		}
	}
	assertNoWorktrees(t, repo)
}

func TestRunTwoRefs(t *testing.T) {
	repo := tinyRepo(t)
	git(t, repo, "tag", "base")
	writeFiles(t, repo, map[string]string{"work.go": workSource(9)})
	git(t, repo, "commit", "-q", "-am", "slower")
	// Dirty the working tree the other way: --head HEAD must ignore it.
	writeFiles(t, repo, map[string]string{"work.go": workSource(1)})

	var log bytes.Buffer
	tc := Toolchain{Log: &log}
	opts := DefaultOptions()
	opts.AllowMissing = true
	rep, err := tc.Run(context.Background(), RunOptions{
		Dir: repo, Base: "base", Head: "HEAD", Packages: []string{"."}, Bench: fastBench(), OutDir: t.TempDir(),
	}, opts)
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	got := map[string]string{}
	for _, b := range rep.Benchmarks {
		got[b.Name] = b.Status
	}
	// Both benchmarks call Work, so both regress.
	if d := cmp.Diff(map[string]string{"Work": StatusRegression, "Gone": StatusRegression}, got); d != "" || !rep.Failed {
		t.Errorf("failed = %v, statuses (-want +got):\n%s\nlog:\n%s", rep.Failed, d, log.String())
	}
	assertNoWorktrees(t, repo)
}

// The PR that adds the benchmark suite: the base has no bench directory,
// which "go list ./bench/..." alone would reject.
func TestRunBaseWithoutPackages(t *testing.T) {
	repo := tinyRepo(t)
	writeFiles(t, repo, map[string]string{
		"bench/b_test.go": "package bench\n\nimport (\n\t\"testing\"\n\n\t\"example.com/tiny\"\n)\n\nfunc BenchmarkSuite(b *testing.B) {\n\tfor b.Loop() {\n\t\ttiny.Work(2)\n\t}\n}\n",
	})
	var log bytes.Buffer
	rep, err := Toolchain{Log: &log}.Run(context.Background(), RunOptions{
		Dir: repo, Base: "HEAD", Packages: []string{"./bench/..."}, Bench: fastBench(), OutDir: t.TempDir(),
	}, DefaultOptions())
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if rep.New != 1 || rep.Failed {
		t.Errorf("new = %d, failed = %v; want 1, false", rep.New, rep.Failed)
	}
	// With the suite in neither tree there is nothing to compare.
	_, err = Toolchain{}.Run(context.Background(), RunOptions{
		Dir: repo, Base: "HEAD", Packages: []string{"./nothing/..."}, Bench: fastBench(), OutDir: t.TempDir(),
	}, DefaultOptions())
	if !errors.Is(err, ErrNoResults) {
		t.Errorf("err = %v, want ErrNoResults", err)
	}
	assertNoWorktrees(t, repo)
}

func TestRunBadRefCleansUp(t *testing.T) {
	repo := tinyRepo(t)
	tc := Toolchain{}
	_, err := tc.Run(context.Background(), RunOptions{
		Dir: repo, Base: "HEAD", Head: "no-such-ref", Packages: []string{"."}, Bench: fastBench(), OutDir: t.TempDir(),
	}, DefaultOptions())
	if err == nil || !strings.Contains(err.Error(), "no-such-ref") {
		t.Fatalf("err = %v, want an unknown ref error", err)
	}
	assertNoWorktrees(t, repo)
}

func assertNoWorktrees(t *testing.T, repo string) {
	t.Helper()
	if n := strings.Count(git(t, repo, "worktree", "list"), "\n"); n != 1 {
		t.Errorf("worktrees left behind:\n%s", git(t, repo, "worktree", "list"))
	}
}

func TestRepeatAA(t *testing.T) {
	repo := tinyRepo(t)
	tc := Toolchain{}
	bins, err := tc.Build(context.Background(), repo, []string{"./..."}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) != 1 || bins[0].ImportPath != "example.com/tiny" {
		t.Fatalf("built %+v, want only example.com/tiny (nobench has no tests)", bins)
	}
	res, err := tc.Repeat(context.Background(), bins, RepeatOptions{Runs: 2, Bench: fastBench()}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if res.Runs != 2 || len(res.Reports) != 2 {
		t.Fatalf("runs = %d, reports = %d; want 2, 2", res.Runs, len(res.Reports))
	}
	for _, rep := range res.Reports {
		if len(rep.Benchmarks) != 2 {
			t.Errorf("A/A compared %d benchmarks, want 2", len(rep.Benchmarks))
		}
	}
}

func TestInterleaveOrder(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	// Fake test binaries that append their side to a shared log: the
	// order of the log is the order of the runs.
	dir := t.TempDir()
	logPath := filepath.Join(dir, "order")
	mk := func(side string) TestBinary {
		path := filepath.Join(dir, side+".test")
		script := "#!/bin/sh\nprintf " + side + " >> " + logPath + "\necho 'BenchmarkX 1 1 ns/op'\n"
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return TestBinary{ImportPath: "p", Dir: dir, Path: path}
	}
	var a, b bytes.Buffer
	err := Toolchain{}.Interleave(context.Background(),
		Arm{Binaries: []TestBinary{mk("A")}}, Arm{Binaries: []TestBinary{mk("B")}},
		BenchConfig{Bench: ".", Count: 6}, &a, &b)
	if err != nil {
		t.Fatal(err)
	}
	order, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff("ABBAABBAABBA", string(order)); d != "" {
		t.Errorf("run order (-want +got):\n%s", d)
	}
	if strings.Count(a.String(), "BenchmarkX") != 6 || strings.Count(b.String(), "BenchmarkX") != 6 {
		t.Errorf("outputs: A %q, B %q", a.String(), b.String())
	}
}
