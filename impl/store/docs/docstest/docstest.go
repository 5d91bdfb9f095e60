// Package docstest is the conformance suite every docs.Store passes: the
// local one and the PostgreSQL one run the same tests.
package docstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/docs"
	"golang.org/x/sync/errgroup"
)

// Backing is what the suite runs against.
type Backing struct {
	// New makes a fresh, empty backing (a directory, a database) for one
	// test and returns a function that opens a store on it. It may be
	// called several times; each store is closed by the suite.
	New func(t *testing.T) (open func(t *testing.T) docs.Store)
	// Shared reports whether several stores opened on one backing are one
	// store: compare-and-swap holds across them and each one's feed sees
	// the others' writes (true for a database, false for the single-process
	// local files). When false, the multi-writer tests share one store.
	Shared bool
	// Writers is how many concurrent writers the contention tests run;
	// zero means 16.
	Writers int
}

// Run runs the suite.
func Run(t *testing.T, b Backing) {
	if b.Writers == 0 {
		b.Writers = 16
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Backing)
	}{
		{"NotFound", testNotFound},
		{"RoundTrip", testRoundTrip},
		{"CompareAndSwap", testCAS},
		{"InvalidName", testInvalidName},
		{"DistinctVersionsAllKept", testDistinctVersions},
		{"SameVersionOneWinner", testSameVersion},
		{"AtomicReads", testAtomicReads},
		{"Durable", testDurable},
		{"List", testList},
		{"Feed", testFeed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// stores opens n stores on one fresh backing: n distinct ones when Shared,
// else the same one n times.
func stores(t *testing.T, b Backing, n int) []docs.Store {
	open := b.New(t)
	out := make([]docs.Store, n)
	for i := range out {
		if i == 0 || b.Shared {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			out[i] = s
		} else {
			out[i] = out[0]
		}
	}
	return out
}

func testNotFound(t *testing.T, b Backing) {
	s := stores(t, b, 1)[0]
	c := ctx(t)
	if _, _, err := s.Get(c, "nope"); !errors.Is(err, docs.ErrNotFound) {
		t.Fatalf("Get of a missing document: %v, want ErrNotFound", err)
	}
	if _, err := s.Revision(c, "@scope/nope"); !errors.Is(err, docs.ErrNotFound) {
		t.Fatalf("Revision of a missing document: %v, want ErrNotFound", err)
	}
	if _, err := s.Put(c, "nope", []byte(`{}`), "some-rev"); !errors.Is(err, docs.ErrConflict) {
		t.Fatalf("Put expecting a revision of a missing document: %v, want ErrConflict", err)
	}
	if _, _, err := s.Get(c, "nope"); !errors.Is(err, docs.ErrNotFound) {
		t.Fatalf("a conflicting Put stored something: %v", err)
	}
	if n, err := s.Count(c); err != nil || n != 0 {
		t.Fatalf("Count of an empty store = %d, %v", n, err)
	}
	if l, err := s.List(c, "", 10); err != nil || len(l) != 0 {
		t.Fatalf("List of an empty store = %q, %v", l, err)
	}
}

func testRoundTrip(t *testing.T, b Backing) {
	s := stores(t, b, 1)[0]
	c := ctx(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, tc := range []struct {
		name string
		doc  []byte
	}{
		{"plain", []byte(`{"name":"plain"}`)},
		{"@scope/pkg", []byte(`{"name":"@scope/pkg","description":"caf\u00e9 \"quoted\""}`)},
		{"binary-ish", []byte{0, 1, 2, 0xff, '\n', 0}},
		{"big", big},
		{"empty", []byte{}},
	} {
		rev, err := s.Put(c, tc.name, tc.doc, "")
		if err != nil {
			t.Fatalf("Put %s: %v", tc.name, err)
		}
		if rev == "" {
			t.Fatalf("Put %s returned the empty revision", tc.name)
		}
		got, grev, err := s.Get(c, tc.name)
		if err != nil || !bytes.Equal(got, tc.doc) || grev != rev {
			t.Fatalf("Get %s = %d bytes, rev %q, %v; want %d bytes, rev %q", tc.name, len(got), grev, err, len(tc.doc), rev)
		}
		if r, err := s.Revision(c, tc.name); err != nil || r != rev {
			t.Fatalf("Revision %s = %q, %v; want %q", tc.name, r, err, rev)
		}
	}
}

func testCAS(t *testing.T, b Backing) {
	s := stores(t, b, 1)[0]
	c := ctx(t)
	r1, err := s.Put(c, "cas", []byte(`{"v":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(c, "cas", []byte(`{"v":"create again"}`), ""); !errors.Is(err, docs.ErrConflict) {
		t.Fatalf("creating an existing document: %v, want ErrConflict", err)
	}
	r2, err := s.Put(c, "cas", []byte(`{"v":2}`), r1)
	if err != nil {
		t.Fatal(err)
	}
	if r2 == r1 {
		t.Fatalf("revision did not change on a write of new content: %q", r2)
	}
	if _, err := s.Put(c, "cas", []byte(`{"v":"stale"}`), r1); !errors.Is(err, docs.ErrConflict) {
		t.Fatalf("write with a stale revision: %v, want ErrConflict", err)
	}
	got, rev, err := s.Get(c, "cas")
	if err != nil || string(got) != `{"v":2}` || rev != r2 {
		t.Fatalf("after a conflict: %s %q %v; want {\"v\":2} %q", got, rev, err, r2)
	}
	cancelled, cancel := context.WithCancel(c)
	cancel()
	if _, err := s.Put(cancelled, "cas", []byte(`{"v":"cancelled"}`), r2); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	if got, _, _ := s.Get(c, "cas"); string(got) != `{"v":2}` {
		t.Fatalf("a cancelled Put changed the document: %s", got)
	}
}

func testInvalidName(t *testing.T, b Backing) {
	s := stores(t, b, 1)[0]
	c := ctx(t)
	for _, name := range []string{"", "../etc", "a/b/c", "sp ace", ".hidden", "@scope/../x"} {
		if _, err := s.Put(c, name, []byte(`{}`), ""); err == nil {
			t.Errorf("Put %q succeeded", name)
		}
		if _, _, err := s.Get(c, name); err == nil || errors.Is(err, docs.ErrNotFound) {
			t.Errorf("Get %q: %v, want a validation error", name, err)
		}
	}
	if n, err := s.Count(c); err != nil || n != 0 {
		t.Fatalf("invalid names stored something: Count = %d, %v", n, err)
	}
}

// packument is the part of a package document the contention tests use.
type packument struct {
	Name     string            `json:"name"`
	Versions map[string]string `json:"versions"`
}

var errExists = errors.New("version exists")

// publish adds version v (written by who) to the packument of name through
// docs.Update, the way a publish does.
func publish(c context.Context, s docs.Store, name, v, who string) error {
	_, err := docs.Update(c, s, name, 1000, func(cur []byte) ([]byte, error) {
		p := packument{Name: name, Versions: map[string]string{}}
		if cur != nil {
			if err := json.Unmarshal(cur, &p); err != nil {
				return nil, fmt.Errorf("stored document is not JSON: %w", err)
			}
		}
		if _, ok := p.Versions[v]; ok {
			return nil, errExists
		}
		p.Versions[v] = who
		return json.Marshal(p)
	})
	return err
}

func read(t *testing.T, s docs.Store, name string) packument {
	t.Helper()
	b, _, err := s.Get(ctx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	var p packument
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func testDistinctVersions(t *testing.T, b Backing) {
	ss := stores(t, b, 3)
	c := ctx(t)
	var g errgroup.Group
	for i := range b.Writers {
		g.Go(func() error {
			return publish(c, ss[i%len(ss)], "contended", fmt.Sprintf("1.0.%d", i), fmt.Sprint("writer", i))
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	p := read(t, ss[0], "contended")
	if len(p.Versions) != b.Writers {
		t.Fatalf("%d concurrent publishes of distinct versions kept %d: %v", b.Writers, len(p.Versions), p.Versions)
	}
	for i := range b.Writers {
		if w := p.Versions[fmt.Sprintf("1.0.%d", i)]; w != fmt.Sprint("writer", i) {
			t.Errorf("version 1.0.%d written by %q", i, w)
		}
	}
}

func testSameVersion(t *testing.T, b Backing) {
	ss := stores(t, b, 3)
	c := ctx(t)
	var (
		mu      sync.Mutex
		winners []string
		g       errgroup.Group
	)
	for i := range b.Writers {
		g.Go(func() error {
			who := fmt.Sprint("writer", i)
			err := publish(c, ss[i%len(ss)], "race", "1.0.0", who)
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, who)
				mu.Unlock()
			case !errors.Is(err, errExists):
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(winners) != 1 {
		t.Fatalf("%d concurrent publishes of one version: winners %q, want exactly one", b.Writers, winners)
	}
	if p := read(t, ss[0], "race"); len(p.Versions) != 1 || p.Versions["1.0.0"] != winners[0] {
		t.Fatalf("stored %v, want 1.0.0 by %s", p.Versions, winners[0])
	}
}

// selfChecking returns a document whose length and content both encode i,
// so a torn or mixed write is detected by check.
func selfChecking(i int) []byte {
	pad := bytes.Repeat([]byte{byte('a' + i%26)}, 1000*(i%7+1))
	b, _ := json.Marshal(map[string]any{"i": i, "pad": string(pad)})
	return b
}

func check(doc []byte) (int, error) {
	var v struct {
		I   int    `json:"i"`
		Pad string `json:"pad"`
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		return 0, fmt.Errorf("torn document (%d bytes): %w", len(doc), err)
	}
	if !bytes.Equal(doc, selfChecking(v.I)) {
		return 0, fmt.Errorf("document %d has the wrong content", v.I)
	}
	return v.I, nil
}

func testAtomicReads(t *testing.T, b Backing) {
	ss := stores(t, b, 2)
	c := ctx(t)
	rev, err := ss[0].Put(c, "atomic", selfChecking(0), "")
	if err != nil {
		t.Fatal(err)
	}
	const writes = 60
	done := make(chan struct{})
	var g errgroup.Group
	g.Go(func() error {
		defer close(done)
		for i := 1; i <= writes; i++ {
			r, err := ss[0].Put(c, "atomic", selfChecking(i), rev)
			if err != nil {
				return fmt.Errorf("write %d: %w", i, err)
			}
			rev = r
		}
		return nil
	})
	for range 3 {
		g.Go(func() error {
			last := 0
			for {
				select {
				case <-done:
					return nil
				default:
				}
				doc, _, err := ss[1].Get(c, "atomic")
				if err != nil {
					return err
				}
				i, err := check(doc)
				if err != nil {
					return err
				}
				if i < last {
					return fmt.Errorf("read document %d after %d: went back in time", i, last)
				}
				last = i
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	doc, r, err := ss[1].Get(c, "atomic")
	if err != nil || r != rev {
		t.Fatalf("final revision %q, %v; want %q", r, err, rev)
	}
	if i, err := check(doc); err != nil || i != writes {
		t.Fatalf("final document %d, %v; want %d", i, err, writes)
	}
}

func testDurable(t *testing.T, b Backing) {
	open := b.New(t)
	c := ctx(t)
	s := open(t)
	rev, err := s.Put(c, "durable", []byte(`{"v":1}`), "")
	if err == nil {
		rev, err = s.Put(c, "durable", []byte(`{"v":2}`), rev)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t)
	defer s2.Close()
	got, r, err := s2.Get(c, "durable")
	if err != nil || string(got) != `{"v":2}` || r != rev {
		t.Fatalf("after reopening: %s %q %v; want {\"v\":2} %q", got, r, err, rev)
	}
	if _, err := s2.Put(c, "durable", []byte(`{"v":3}`), rev); err != nil {
		t.Fatalf("the revision read before reopening no longer works: %v", err)
	}
}

func testList(t *testing.T, b Backing) {
	s := stores(t, b, 1)[0]
	c := ctx(t)
	var want []string
	for i := range 23 {
		want = append(want, fmt.Sprintf("pkg-%02d", i))
	}
	want = append(want, "@aa/x", "@zz/y", "a", "z", "0lead")
	for _, n := range want {
		if _, err := s.Put(c, n, []byte(`{}`), ""); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want) // byte order: "0" < "@" < "a"
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > len(want) {
			t.Fatal("List does not end")
		}
		page, err := s.List(c, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List pages =\n%q\nwant\n%q", got, want)
	}
	if n, err := s.Count(c); err != nil || n != int64(len(want)) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(want))
	}
	if page, err := s.List(c, "pkg-05", 2); err != nil || !slices.Equal(page, []string{"pkg-06", "pkg-07"}) {
		t.Fatalf("List after pkg-05 = %q, %v", page, err)
	}
	if page, err := s.List(c, "pkg-055", 1); err != nil || !slices.Equal(page, []string{"pkg-06"}) {
		t.Fatalf("List after a name not stored = %q, %v", page, err)
	}
}

func testFeed(t *testing.T, b Backing) {
	ss := stores(t, b, 2)
	c := ctx(t)
	got := make(chan docs.Change, 100)
	unsub := ss[1].Subscribe(func(ch docs.Change) { got <- ch })
	wait := func(name string, rev docs.Rev) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case ch := <-got:
				if ch.Name == name && ch.Rev == rev {
					return
				}
			case <-timeout:
				t.Fatalf("no change for %s at %q delivered", name, rev)
			}
		}
	}
	r1, err := ss[0].Put(c, "fed", []byte(`{"v":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	wait("fed", r1)
	r2, err := ss[0].Put(c, "@scope/fed", []byte(`{"v":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	wait("@scope/fed", r2)
	r3, err := ss[0].Put(c, "fed", []byte(`{"v":2}`), r1)
	if err != nil {
		t.Fatal(err)
	}
	wait("fed", r3)
	// A failed write is no change.
	if _, err := ss[0].Put(c, "fed", []byte(`{"v":"lost"}`), r1); !errors.Is(err, docs.ErrConflict) {
		t.Fatal(err)
	}
	unsub()
	r4, err := ss[0].Put(c, "after", []byte(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	// The write after unsubscribing must not be delivered. Give a
	// notification in flight time to arrive through a second subscriber
	// that sees the same feed, then check the first one saw nothing.
	marker := make(chan struct{})
	unsub2 := ss[1].Subscribe(func(ch docs.Change) {
		if ch.Name == "marker" {
			close(marker)
		}
	})
	defer unsub2()
	if _, err := ss[0].Put(c, "marker", []byte(`{}`), ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-marker:
	case <-time.After(30 * time.Second):
		t.Fatal("marker change not delivered")
	}
	for len(got) > 0 {
		ch := <-got
		if ch.Name == "after" || ch.Name == "marker" || ch.Rev == r4 {
			t.Fatalf("change %+v delivered after unsubscribing", ch)
		}
		if ch.Name == "fed" && ch.Rev != r3 && ch.Rev != r1 && !ch.Lost {
			t.Fatalf("change %+v for a write that failed", ch)
		}
	}
}
