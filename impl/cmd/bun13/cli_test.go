package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/confighistory"
	"github.com/bun13/bun13/impl/lockfile"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

const vectorDir = "../../../fixtures/vectors"

// cliRun runs bun13 in-process in dir with the given environment.
func cliRun(t *testing.T, dir string, envs map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		lookup: func(k string) (string, bool) { v, ok := envs[k]; return v, ok },
		ctx:    context.Background(),
	}
	// Relative paths in args are relative to dir.
	if dir != "" {
		for i, a := range args {
			if a == "--file" && i+1 < len(args) && !filepath.IsAbs(args[i+1]) {
				args[i+1] = filepath.Join(dir, args[i+1])
			}
		}
		if _, ok := envs[config.EnvLockfile]; !ok {
			if envs == nil {
				envs = map[string]string{}
			}
			envs[config.EnvLockfile] = filepath.Join(dir, "bun.lockb")
			e.lookup = func(k string) (string, bool) { v, ok := envs[k]; return v, ok }
		}
	}
	code = e.main(args)
	return out.String(), errb.String(), code
}

// golden compares got, with the temp dir written as $DIR, to testdata/name.
func golden(t *testing.T, name, got, dir string) {
	t.Helper()
	if dir != "" {
		got = strings.ReplaceAll(got, dir, "$DIR")
	}
	path := filepath.Join("testdata", name)
	if *updateGolden {
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, d)
	}
}

func TestConfigWorkflow(t *testing.T) {
	dir := t.TempDir()
	var transcript strings.Builder
	step := func(wantCode int, envs map[string]string, args ...string) {
		t.Helper()
		out, errs, code := cliRun(t, dir, envs, "", args...)
		fmt.Fprintf(&transcript, "$ bun13 %s\n%s", strings.Join(args, " "), out)
		if errs != "" {
			fmt.Fprintf(&transcript, "[stderr] %s", errs)
		}
		fmt.Fprintf(&transcript, "[exit %d]\n", code)
		if code != wantCode {
			t.Errorf("bun13 %v: exit %d, want %d; stderr %s", args, code, wantCode, errs)
		}
	}
	step(0, nil, "config", "init")
	step(2, nil, "config", "init")
	step(0, nil, "config", "validate", "--json")
	step(0, nil, "config", "get", "terminal")
	step(0, nil, "config", "set", "terminal.mode", "raw")
	step(0, nil, "config", "set", "terminal.size", "50x132")
	step(1, nil, "config", "set", "terminal.size", "0x80")
	step(1, nil, "config", "set", "terminal.mode", "fancy")
	step(0, nil, "config", "set", "registry", "HTTP://LocalHost:4873/")
	step(1, nil, "config", "set", "registry", "ftp://x")
	step(1, nil, "config", "feature", "enable", "OFFLINE")
	step(0, nil, "config", "set", "version", "2")
	step(0, nil, "config", "feature", "enable", "OFFLINE", "DEBUG")
	step(0, nil, "config", "feature", "disable", "DEBUG")
	step(0, nil, "config", "feature", "list")
	step(1, nil, "config", "migrate", "--to", "1")
	step(0, nil, "config", "feature", "disable", "OFFLINE")
	step(0, nil, "config", "migrate", "--to", "1")
	step(0, nil, "config", "get")
	step(0, map[string]string{config.EnvTerminal: "none;10x10"}, "config", "get", "terminal")
	step(1, map[string]string{config.EnvVersion: "7"}, "config", "get")
	step(0, nil, "config", "env", "export", "--format", "dotenv")
	step(0, nil, "config", "env", "export", "--format", "json")
	step(2, nil, "config", "env", "export", "--format", "xml")
	step(0, nil, "config", "dump", "--hex")
	step(0, nil, "config", "repair")
	step(2, nil, "config", "frobnicate")
	golden(t, "config_workflow.golden", transcript.String(), dir)
}

func TestValidateVectors(t *testing.T) {
	var transcript strings.Builder
	files, _ := filepath.Glob(filepath.Join(vectorDir, "*.lockb"))
	for _, f := range files {
		out, errs, code := cliRun(t, "", nil, "", "config", "validate", "--json", "--file", f)
		fmt.Fprintf(&transcript, "%s: %s%s[exit %d]\n", filepath.Base(f), out, errs, code)
		out, errs, code = cliRun(t, "", nil, "", "config", "validate", "--file", f)
		fmt.Fprintf(&transcript, "%s: %s%s[exit %d]\n", filepath.Base(f), out, errs, code)
	}
	golden(t, "validate_vectors.golden", transcript.String(), "")
}

func TestLockfileCommands(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"seed-empty", "two-packages", "forty-packages"} {
		want, _ := os.ReadFile(filepath.Join(vectorDir, name+".json"))
		out, errs, code := cliRun(t, "", nil, "", "lockfile", "decode", filepath.Join(vectorDir, name+".lockb"))
		if code != 0 || out != string(want) {
			t.Errorf("decode %s: exit %d, %s, output differs: %v", name, code, errs, out != string(want))
		}
		target := filepath.Join(dir, name+".lockb")
		_, errs, code = cliRun(t, "", nil, string(want), "lockfile", "encode", "-o", target, "-")
		got, _ := os.ReadFile(target)
		wantB, _ := os.ReadFile(filepath.Join(vectorDir, name+".lockb"))
		if code != 0 || !bytes.Equal(got, wantB) {
			t.Errorf("encode %s: exit %d %s, bytes equal %v", name, code, errs, bytes.Equal(got, wantB))
		}
	}
	_, errs, code := cliRun(t, "", nil, "", "lockfile", "decode", filepath.Join(vectorDir, "corrupt-reserved.lockb"))
	if code != 1 || !strings.HasPrefix(errs, "error: reserved") {
		t.Errorf("decode corrupt: exit %d, %q", code, errs)
	}
	_, errs, code = cliRun(t, "", nil, "{", "lockfile", "encode", "-o", filepath.Join(dir, "x.lockb"))
	if code != 2 {
		t.Errorf("encode of broken JSON: exit %d, %q", code, errs)
	}
	_, errs, code = cliRun(t, "", nil, `{"config":{"version":1,"registryHash":"0x1","featureFlags":"0x0","terminalMode":"raw","rows":1,"cols":1},"packages":[{"name":".bad","version":"1.0.0","resolved":"http://x","integrity":"sha1-AAECAwQFBgcICQoLDA0ODxAREhM=","dependencies":[],"flags":[]}]}`,
		"lockfile", "encode", "-o", filepath.Join(dir, "x.lockb"))
	if code != 1 || !strings.HasPrefix(errs, "error: package") {
		t.Errorf("encode of a bad name: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.lockb")); err == nil {
		t.Errorf("a refused encode wrote a file")
	}
	_, _, code = cliRun(t, "", nil, "", "lockfile", "decode", filepath.Join(dir, "missing.lockb"))
	if code != 2 {
		t.Errorf("decode of a missing file: exit %d, want 2", code)
	}
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := cliRun(t, dir, nil, "", "lockfile", "import", "-o", filepath.Join(dir, "bun.lockb"), "testdata/package-lock.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	dec, _, _ := cliRun(t, dir, nil, "", "lockfile", "decode", filepath.Join(dir, "bun.lockb"))
	golden(t, "import.golden", out+dec, dir)
}

func TestRepairCommand(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("../../../fixtures/corrupt/terminal-mode-ff.lockb")
	path := filepath.Join(dir, "bun.lockb")
	os.WriteFile(path, src, 0o644)
	out, _, code := cliRun(t, dir, nil, "", "config", "repair", "--dry-run")
	if code != 0 || !strings.Contains(out, "terminalMode") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, src) {
		t.Fatal("dry run wrote the file")
	}
	out, _, code = cliRun(t, dir, nil, "", "config", "repair")
	if code != 0 {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
	if _, _, code := cliRun(t, dir, nil, "", "config", "validate"); code != 0 {
		t.Fatal("repaired file does not validate")
	}
	body, _ := os.ReadFile("../../../fixtures/corrupt/crc-mismatch-zeroed-page.lockb")
	os.WriteFile(path, body, 0o644)
	_, errs, code := cliRun(t, dir, nil, "", "config", "repair")
	if code != 1 || !strings.HasPrefix(errs, "error: body-checksum") {
		t.Fatalf("repair of a damaged body: exit %d, %q", code, errs)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, body) {
		t.Fatal("a refused repair changed the file")
	}
}

func TestLive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bun.lockb")
	if err := lockfile.Create(path, config.Default(), false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: out, stderr: out, ctx: ctx,
		lookup: func(k string) (string, bool) { return "", false }}
	done := make(chan int)
	go func() { done <- e.main([]string{"config", "live", "--file", path}) }()
	waitFor(t, out, "watching")
	// Replace the file by rename, as every writer here does.
	if _, _, code := cliRun(t, dir, nil, "", "config", "set", "terminal.mode", "raw"); code != 0 {
		t.Fatal("set failed")
	}
	waitFor(t, out, "terminal.mode: cooked -> raw")
	if _, _, code := cliRun(t, dir, nil, "", "config", "feature", "enable", "DEBUG"); code != 0 {
		t.Fatal("enable failed")
	}
	waitFor(t, out, "enabled DEBUG")
	// An in-place torn write is reported, then the next good write.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:30], 0o644)
	waitFor(t, out, "invalid: truncated")
	os.WriteFile(path, b, 0o644)
	waitFor(t, out, "valid again")
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("live exited %d", code)
	}
}

// TestKillDuringWrites kills a child process with SIGKILL while it
// rewrites the config over and over, 200 times at random moments, and
// checks the file is always valid and holds one of the two states the
// child alternates, the history stays readable, and the temp files the
// killed writers leave are swept by the next writer under the lock: at
// most 2 strays remain at the end.
func TestKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "bun.lockb")
	if err := lockfile.Create(path, config.Default(), false); err != nil {
		t.Fatal(err)
	}
	a := config.Default()
	b := a
	b.Rows, b.Cols, b.TerminalMode = 50, 132, config.Raw
	rng := rand.New(rand.NewPCG(13, 200))
	killed := 0
	for i := range 200 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriterChild$")
		cmd.Env = append(os.Environ(), "BUN13_WRITER_CHILD="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the child is writing, then kill it at a random
		// moment of its loop (a write takes about a millisecond).
		line := make([]byte, len("writing\n"))
		if _, err := io.ReadFull(out, line); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child did not start writing: %v (stderr: %s)", i, err, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(8000)) * time.Microsecond)
		if cmd.Process.Signal(syscall.SIGKILL) == nil {
			killed++
		}
		cmd.Wait()
		lf, err := lockfile.ReadFile(path)
		if err != nil {
			t.Fatalf("kill %d: file invalid after SIGKILL: %v (child stderr: %s)", i, err, stderr.String())
		}
		if lf.Config != a && lf.Config != b {
			t.Fatalf("kill %d: file holds %+v, neither old nor new state", i, lf.Config)
		}
	}
	if _, torn, err := confighistory.Read(confighistory.PathFor(path)); err != nil {
		t.Errorf("history unreadable after the kills: %v", err)
	} else if torn != nil {
		t.Logf("history: %v (dropped, as designed)", torn)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if len(matches) > 2 {
		t.Errorf("%d temp files left by %d killed writers, want at most 2: %v", len(matches), killed, matches)
	}
	t.Logf("%d SIGKILLs, %d temp files left", killed, len(matches))
}

// TestWriterChild is the child of TestKillDuringWrites: it alternates the
// config between two states through the real CLI path until killed.
func TestWriterChild(t *testing.T) {
	path := os.Getenv("BUN13_WRITER_CHILD")
	if path == "" {
		t.Skip("child of TestKillDuringWrites")
	}
	for i := 0; i < 100000; i++ {
		// One set writes mode and size together, so the file only ever
		// holds one of the two whole states.
		e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: os.Stderr, ctx: context.Background(),
			lookup: func(string) (string, bool) { return "", false }}
		want := "raw"
		size := "50x132"
		if i%2 == 1 {
			want, size = "cooked", "24x80"
		}
		if code := e.main([]string{"config", "set", "--file", path, "terminal", want + ";" + size}); code != 0 {
			t.Fatalf("set failed with %d", code)
		}
		if i == 0 {
			os.Stdout.WriteString("writing\n")
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one poller.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func waitFor(t *testing.T, b *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(b.String(), s) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %q in output:\n%s", s, b.String())
}
