package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tinyRepo makes a committed one-benchmark module and changes the current
// directory to it (so no t.Parallel).
func tinyRepo(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not in PATH", tool)
		}
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":       "module example.com/tiny\n\ngo 1.24\n",
		"work.go":      work(1),
		"work_test.go": "package tiny\n\nimport \"testing\"\n\nfunc BenchmarkWork(b *testing.B) {\n\tfor b.Loop() {\n\t\tWork(3)\n\t}\n}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-q", "-m", "base"}} {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	t.Chdir(dir)
	return dir
}

func work(factor int) string {
	return strings.ReplaceAll("package tiny\n\nfunc Work(n int) int {\n\tx := n\n\tfor i := 0; i < 200*F; i++ {\n\t\tx = x*31 + i\n\t}\n\treturn x\n}\n", "F", string(rune('0'+factor)))
}

func TestRunSubcommand(t *testing.T) {
	dir := tinyRepo(t)
	if err := os.WriteFile(filepath.Join(dir, "work.go"), []byte(work(9)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "perf")
	var stdout, stderr bytes.Buffer
	code := run(&stdout, &stderr, []string{"run", "--base", "HEAD", "--count", "6", "--bench", ".", "--benchtime", "10000x", "--out", out, "--format", "json", "."})
	if code != exitRegression {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitRegression, stdout.String(), stderr.String())
	}
	var rep struct {
		Failed      bool
		Regressions int
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if d := cmp.Diff(struct {
		Failed      bool
		Regressions int
	}{true, 1}, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	for _, f := range []string{"base.txt", "head.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestRunSubcommandUsage(t *testing.T) {
	tinyRepo(t)
	for name, args := range map[string][]string{
		"no base":     {"run", "--count", "4", "--bench", ".", "."},
		"no packages": {"run", "--base", "HEAD", "--bench", "."},
		"no bench":    {"run", "--base", "HEAD", "."},
		"bad ref":     {"run", "--base", "nope", "--bench", ".", "--count", "4", "--out", t.TempDir(), "."},
		"bad flag":    {"run", "--bogus"},
		"aa no pkgs":  {"aa", "--bench", "."},
		"power no fx": {"power", "--bench", ".", "."},
		"power label": {"power", "--effect", "k=1=KNOB_EXTRA_INSTR=1", "--bench", ".", "."},
		"bad measure": {"run", "--base", "HEAD", "--bench", ".", "--measure", "cycles", "."},
		"bad order":   {"run", "--base", "HEAD", "--bench", ".", "--order", "sorted", "."},
		"one repeat":  {"run", "--base", "HEAD", "--bench", ".", "--measure", "instructions", "--repeat", "1", "--out", t.TempDir(), "."},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(&stdout, &stderr, args); code != exitUsage {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, exitUsage, stderr.String())
			}
		})
	}
}

func TestAASubcommand(t *testing.T) {
	tinyRepo(t)
	var stdout, stderr bytes.Buffer
	code := run(&stdout, &stderr, []string{"aa", "--count", "4", "--runs", "2", "--bench", ".", "--benchtime", "2000x", "."})
	// Two A/A runs may legitimately trip once; only a crash is a failure.
	if code == exitUsage {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "false positives: ") || !strings.Contains(stdout.String(), "A/A: 2 runs of 1 benchmarks") {
		t.Errorf("unexpected output:\n%s", stdout.String())
	}
}

func TestPowerSubcommand(t *testing.T) {
	tinyRepo(t)
	var stdout, stderr bytes.Buffer
	code := run(&stdout, &stderr, []string{"power", "--effect", "none=UNUSED_KNOB=1", "--counts", "4", "--trials", "1", "--bench", ".", "--benchtime", "2000x", "."})
	if code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "none") || !strings.Contains(stdout.String(), "UNUSED_KNOB=1") {
		t.Errorf("unexpected output:\n%s", stdout.String())
	}
}
