// Package blobstest is the conformance suite every blobs.Store passes.
package blobstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/blobs"
	"golang.org/x/sync/errgroup"
)

// New makes a fresh, empty backing for one test and returns a function
// that opens a store on it; it may be called several times (reopening
// after Close, or several stores at once on one backing).
type New func(t *testing.T) (open func(t *testing.T) blobs.Store)

// Run runs the suite. known maps a subtest name to the reason a store
// is known to fail it; those subtests are skipped with that reason, which
// is for documenting third-party drivers, never the stores this project
// ships.
func Run(t *testing.T, newBacking New, known map[string]string) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, New)
	}{
		{"NotFound", testNotFound},
		{"RoundTrip", testRoundTrip},
		{"Seek", testSeek},
		{"InvalidKeys", testInvalid},
		{"List", testList},
		{"Delete", testDelete},
		{"AtomicOverwrite", testAtomic},
		{"Durable", testDurable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if why, ok := known[tc.name]; ok {
				t.Skip("known to fail: " + why)
			}
			tc.fn(t, newBacking)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func one(t *testing.T, n New) blobs.Store {
	s := n(t)(t)
	t.Cleanup(func() { s.Close() })
	return s
}

func readAll(t *testing.T, s blobs.Store, name, file string) []byte {
	t.Helper()
	b, err := s.Open(ctx(t), name, file)
	if err != nil {
		t.Fatalf("Open %s %s: %v", name, file, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if b.Size() != int64(len(data)) {
		t.Fatalf("Size %d, read %d bytes", b.Size(), len(data))
	}
	return data
}

func testNotFound(t *testing.T, n New) {
	s := one(t, n)
	c := ctx(t)
	if err := s.Ping(c); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := s.Open(c, "nope", "nope-1.0.0.tgz"); !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("Open of a missing tarball: %v, want ErrNotFound", err)
	}
	if err := s.Delete(c, "nope", "nope-1.0.0.tgz"); err != nil {
		t.Fatalf("Delete of a missing tarball: %v", err)
	}
	if l, err := s.List(c, "@scope/nope"); err != nil || len(l) != 0 {
		t.Fatalf("List of an unknown package = %q, %v", l, err)
	}
}

func testRoundTrip(t *testing.T, n New) {
	s := one(t, n)
	c := ctx(t)
	big := make([]byte, 3<<20+17)
	for i := range big {
		big[i] = byte(i*7 + i>>11)
	}
	for _, tc := range []struct{ name, file string }{
		{"plain", "plain-1.0.0.tgz"},
		{"@scope/pkg", "pkg-2.0.0-beta.1.tgz"},
		{"big", "big-1.0.0.tgz"},
		{"empty", "empty-0.0.1.tgz"},
	} {
		data := []byte("tarball of " + tc.name)
		switch tc.name {
		case "big":
			data = big
		case "empty":
			data = []byte{}
		}
		if err := s.Put(c, tc.name, tc.file, data); err != nil {
			t.Fatalf("Put %s: %v", tc.name, err)
		}
		if got := readAll(t, s, tc.name, tc.file); !bytes.Equal(got, data) {
			t.Fatalf("%s: read %d bytes, want the %d written", tc.name, len(got), len(data))
		}
	}
}

func testSeek(t *testing.T, n New) {
	s := one(t, n)
	c := ctx(t)
	data := []byte("0123456789abcdefghij")
	if err := s.Put(c, "seek", "seek-1.0.0.tgz", data); err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(c, "seek", "seek-1.0.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != int64(len(data)) {
		t.Fatalf("Size = %d", b.Size())
	}
	if off, err := b.Seek(10, io.SeekStart); err != nil || off != 10 {
		t.Fatalf("Seek = %d, %v", off, err)
	}
	rest, err := io.ReadAll(b)
	if err != nil || string(rest) != "abcdefghij" {
		t.Fatalf("after Seek(10): %q, %v", rest, err)
	}
	if off, err := b.Seek(-3, io.SeekEnd); err != nil || off != 17 {
		t.Fatalf("Seek from end = %d, %v", off, err)
	}
	tail, err := io.ReadAll(b)
	if err != nil || string(tail) != "hij" {
		t.Fatalf("after Seek(-3, end): %q, %v", tail, err)
	}
}

func testInvalid(t *testing.T, n New) {
	s := one(t, n)
	c := ctx(t)
	for _, k := range []struct{ name, file string }{
		{"../etc", "passwd"},
		{"pkg", "../../etc/passwd"},
		{"pkg", "other-1.0.0.tgz"},
		{"pkg", "pkg-1.0.0.tar"},
		{"pkg", "pkg-notaversion.tgz"},
		{"@s/pkg", "@s/pkg-1.0.0.tgz"},
		{"", "-1.0.0.tgz"},
	} {
		if err := s.Put(c, k.name, k.file, []byte("x")); err == nil {
			t.Errorf("Put %q %q succeeded", k.name, k.file)
		}
		if _, err := s.Open(c, k.name, k.file); err == nil || errors.Is(err, blobs.ErrNotFound) {
			t.Errorf("Open %q %q: %v, want a validation error", k.name, k.file, err)
		}
		if err := s.Delete(c, k.name, k.file); err == nil {
			t.Errorf("Delete %q %q succeeded", k.name, k.file)
		}
	}
	if _, err := s.List(c, "../x"); err == nil {
		t.Error("List of an invalid name succeeded")
	}
}

func testList(t *testing.T, n New) {
	s := one(t, n)
	c := ctx(t)
	put := func(name, file string) {
		if err := s.Put(c, name, file, []byte(name+file)); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "a-1.0.0.tgz")
	put("a", "a-1.10.0.tgz")
	put("a", "a-1.2.0.tgz")
	put("a-b", "a-b-1.0.0.tgz") // shares a's prefix
	put("@a/a", "a-3.0.0.tgz")  // same bare name, scoped
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"a", []string{"a-1.0.0.tgz", "a-1.10.0.tgz", "a-1.2.0.tgz"}},
		{"a-b", []string{"a-b-1.0.0.tgz"}},
		{"@a/a", []string{"a-3.0.0.tgz"}},
	} {
		got, err := s.List(c, tc.name)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("List %s = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func testDelete(t *testing.T, n New) {
	s := one(t, n)
	c := ctx(t)
	if err := s.Put(c, "del", "del-1.0.0.tgz", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(c, "del", "del-1.0.1.tgz", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(c, "del", "del-1.0.0.tgz"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(c, "del", "del-1.0.0.tgz"); !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("Open after Delete: %v", err)
	}
	if got := readAll(t, s, "del", "del-1.0.1.tgz"); string(got) != "y" {
		t.Fatalf("the other tarball reads %q", got)
	}
	if l, err := s.List(c, "del"); err != nil || !slices.Equal(l, []string{"del-1.0.1.tgz"}) {
		t.Fatalf("List after Delete = %q, %v", l, err)
	}
	if err := s.Delete(c, "del", "del-1.0.0.tgz"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
}

// content returns a blob whose length and bytes both encode i.
func content(i int) []byte {
	b := bytes.Repeat([]byte{byte(i)}, 64<<10+i*4096)
	copy(b, fmt.Sprintf("%08d", i))
	return b
}

func testAtomic(t *testing.T, n New) {
	open := n(t)
	w, r := open(t), open(t)
	defer w.Close()
	defer r.Close()
	c := ctx(t)
	const writes = 20
	if err := w.Put(c, "atomic", "atomic-1.0.0.tgz", content(0)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var g errgroup.Group
	g.Go(func() error {
		defer close(done)
		for i := 1; i <= writes; i++ {
			if err := w.Put(c, "atomic", "atomic-1.0.0.tgz", content(i)); err != nil {
				return err
			}
		}
		return nil
	})
	for range 2 {
		g.Go(func() error {
			for {
				select {
				case <-done:
					return nil
				default:
				}
				b, err := r.Open(c, "atomic", "atomic-1.0.0.tgz")
				if err != nil {
					return err
				}
				data, err := io.ReadAll(b)
				b.Close()
				if err != nil {
					return err
				}
				var i int
				if _, err := fmt.Sscanf(string(data[:8]), "%08d", &i); err != nil || !bytes.Equal(data, content(i)) {
					return fmt.Errorf("read a torn or mixed blob of %d bytes", len(data))
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r, "atomic", "atomic-1.0.0.tgz"); !bytes.Equal(got, content(writes)) {
		t.Fatal("the last write is not what is stored")
	}
}

func testDurable(t *testing.T, n New) {
	open := n(t)
	c := ctx(t)
	s := open(t)
	if err := s.Put(c, "@d/durable", "durable-1.0.0.tgz", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t)
	defer s2.Close()
	if got := readAll(t, s2, "@d/durable", "durable-1.0.0.tgz"); string(got) != "kept" {
		t.Fatalf("after reopening: %q", got)
	}
}
