package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteCreate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := Create(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Create(p, []byte("two"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file: %v", err)
	}
	if err := Write(p, []byte("three"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != "three" || st.Mode().Perm() != 0o600 {
		t.Errorf("content %q mode %v: want the new content and the old mode", b, st.Mode().Perm())
	}
	// A write that cannot land leaves the old file and no temp file.
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if os.Geteuid() != 0 {
		if err := Write(p, []byte("four"), 0o644); err == nil {
			t.Fatal("write into a read-only directory succeeded")
		}
	}
	os.Chmod(dir, 0o700)
	if err := Write(filepath.Join(dir, "missing", "x"), []byte("x"), 0o644); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "three" {
		t.Errorf("a failed write changed the file to %q", b)
	}
}

func TestLockExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	unlock, err := Lock(p)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		u, err := Lock(p)
		if err == nil {
			u()
		}
		close(got)
	}()
	// The second Lock must still be waiting a while later.
	select {
	case <-got:
		t.Fatal("a second Lock succeeded while the first was held")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	<-got
}

func TestRemoveTempsAndSweep(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "bun.lockb")
	mk := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk(target)
	mk(filepath.Join(dir, ".bun.lockb.tmp-123"))
	mk(filepath.Join(dir, ".bun.lockb.tmp-9"))
	mk(filepath.Join(dir, ".bun.lockb.tmp-x1"))        // not CreateTemp's: kept
	mk(filepath.Join(dir, ".bun.lockb.history.tmp-4")) // another target's: kept
	mk(filepath.Join(dir, "sub", ".doc.json.tmp-77"))
	n, err := RemoveTemps(target)
	if err != nil || n != 2 {
		t.Fatalf("RemoveTemps: %d %v", n, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".bun.lockb.tmp-*"))
	if len(left) != 1 || filepath.Base(left[0]) != ".bun.lockb.tmp-x1" {
		t.Errorf("left %v", left)
	}
	removed, err := SweepTemps(dir, 0)
	if err != nil || len(removed) != 2 {
		t.Fatalf("SweepTemps: %v %v", removed, err)
	}
	for _, p := range []string{target, filepath.Join(dir, ".bun.lockb.tmp-x1")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	// A young temp survives a sweep with a minimum age.
	mk(filepath.Join(dir, ".a.tmp-1"))
	if removed, _ := SweepTemps(dir, time.Hour); len(removed) != 0 {
		t.Errorf("swept a fresh temp: %v", removed)
	}
}
