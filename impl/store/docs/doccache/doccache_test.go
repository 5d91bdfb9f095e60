package doccache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/docs/doccache"
	"github.com/bun13/bun13/impl/store/docs/pgdocs"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"golang.org/x/sync/errgroup"
)

// counting counts the calls that reach the store; deaf drops its feed
// (every notification lost, none announced as Lost).
type counting struct {
	docs.Store
	gets, revs atomic.Int64
	deaf       bool
}

func (c *counting) Get(ctx context.Context, name string) ([]byte, docs.Rev, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, name)
}

func (c *counting) Revision(ctx context.Context, name string) (docs.Rev, error) {
	c.revs.Add(1)
	return c.Store.Revision(ctx, name)
}

func (c *counting) Subscribe(fn func(docs.Change)) func() {
	if c.deaf {
		return func() {}
	}
	return c.Store.Subscribe(fn)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// backings returns, per backing, a writer store and a second store on the
// same data for the cache (the same FS; a second PostgreSQL connection
// set, as another replica).
func backings(t *testing.T) map[string]func(t *testing.T) (writer, reader docs.Store) {
	return map[string]func(t *testing.T) (docs.Store, docs.Store){
		"fs": func(t *testing.T) (docs.Store, docs.Store) {
			s := docs.NewFS(t.TempDir())
			return s, s
		},
		"postgres": func(t *testing.T) (docs.Store, docs.Store) {
			url := pgtemp.New(t)
			open := func() docs.Store {
				s, err := pgdocs.Open(context.Background(), url, pgdocs.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open()
		},
	}
}

func TestCache(t *testing.T) {
	for name, mk := range backings(t) {
		t.Run(name, func(t *testing.T) {
			if name == "postgres" {
				pgtemp.URL(t)
			}
			t.Run("HitTouchesNothing", func(t *testing.T) {
				w, r := mk(t)
				ctx := context.Background()
				// Let the write's notification pass before the cache
				// exists: a notification during a fill makes the cache
				// revalidate that copy once, by design.
				seen := make(chan struct{}, 1)
				unsub := r.Subscribe(func(docs.Change) { seen <- struct{}{} })
				if _, err := w.Put(ctx, "p", []byte(`{"v":1}`), ""); err != nil {
					t.Fatal(err)
				}
				<-seen
				unsub()
				cs := &counting{Store: r}
				clk := &clock{t: time.Unix(1000, 0)}
				c := doccache.New(cs, doccache.Options{TTL: time.Minute, Now: clk.now})
				defer c.Stop()
				for range 100 {
					if doc, _, err := c.Get(ctx, "p"); err != nil || string(doc) != `{"v":1}` {
						t.Fatalf("Get = %s, %v", doc, err)
					}
				}
				if g, rv := cs.gets.Load(), cs.revs.Load(); g != 1 || rv != 0 {
					t.Fatalf("100 Gets reached the store %d times (+%d revision checks), want once", g, rv)
				}
			})
			t.Run("FeedInvalidates", func(t *testing.T) {
				w, r := mk(t)
				ctx := context.Background()
				rev, err := w.Put(ctx, "p", []byte(`{"v":1}`), "")
				if err != nil {
					t.Fatal(err)
				}
				c := doccache.New(r, doccache.Options{TTL: time.Hour})
				defer c.Stop()
				if _, _, err := c.Get(ctx, "p"); err != nil {
					t.Fatal(err)
				}
				if _, err := w.Put(ctx, "p", []byte(`{"v":2}`), rev); err != nil {
					t.Fatal(err)
				}
				// The TTL is an hour: only the feed can make this pass.
				deadline := time.Now().Add(30 * time.Second)
				for {
					doc, _, err := c.Get(ctx, "p")
					if err != nil {
						t.Fatal(err)
					}
					if string(doc) == `{"v":2}` {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("a write through another store never reached the cache")
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
			t.Run("TTLBoundsLostNotifications", func(t *testing.T) {
				w, r := mk(t)
				ctx := context.Background()
				rev, err := w.Put(ctx, "p", []byte(`{"v":1}`), "")
				if err != nil {
					t.Fatal(err)
				}
				cs := &counting{Store: r, deaf: true}
				clk := &clock{t: time.Unix(1000, 0)}
				c := doccache.New(cs, doccache.Options{TTL: 2 * time.Second, Now: clk.now})
				defer c.Stop()
				c.Get(ctx, "p")
				if _, err := w.Put(ctx, "p", []byte(`{"v":2}`), rev); err != nil {
					t.Fatal(err)
				}
				if doc, _, _ := c.Get(ctx, "p"); string(doc) != `{"v":1}` {
					t.Fatalf("within the TTL with the notification lost: %s, want the cached copy", doc)
				}
				clk.add(2 * time.Second)
				if doc, _, _ := c.Get(ctx, "p"); string(doc) != `{"v":2}` {
					t.Fatalf("past the TTL: %s, want the new document", doc)
				}
				// Unchanged past the TTL: one revision check, no refetch.
				gets := cs.gets.Load()
				clk.add(2 * time.Second)
				if doc, _, _ := c.Get(ctx, "p"); string(doc) != `{"v":2}` || cs.gets.Load() != gets || cs.revs.Load() != 2 {
					t.Fatalf("revalidating an unchanged copy: %s, %d gets, %d revision checks", doc, cs.gets.Load()-gets, cs.revs.Load())
				}
			})
			t.Run("Bounded", func(t *testing.T) {
				w, r := mk(t)
				ctx := context.Background()
				c := doccache.New(r, doccache.Options{Entries: 3})
				defer c.Stop()
				for i := range 5 {
					name := fmt.Sprint("p", i)
					if _, err := w.Put(ctx, name, []byte(`{}`), ""); err != nil {
						t.Fatal(err)
					}
					if _, _, err := c.Get(ctx, name); err != nil {
						t.Fatal(err)
					}
				}
				if n := c.Len(); n != 3 {
					t.Fatalf("Len = %d, want the bound 3", n)
				}
			})
			t.Run("ConcurrentWritersConverge", func(t *testing.T) {
				w, r := mk(t)
				ctx := context.Background()
				c := doccache.New(r, doccache.Options{TTL: time.Hour})
				defer c.Stop()
				if _, err := w.Put(ctx, "p", []byte(`0`), ""); err != nil {
					t.Fatal(err)
				}
				var g errgroup.Group
				for range 4 {
					g.Go(func() error {
						for range 10 {
							_, err := docs.Update(ctx, w, "p", 1000, func(b []byte) ([]byte, error) {
								var n int
								fmt.Sscan(string(b), &n)
								return []byte(fmt.Sprint(n + 1)), nil
							})
							if err != nil {
								return err
							}
							if _, _, err := c.Get(ctx, "p"); err != nil {
								return err
							}
						}
						return nil
					})
				}
				if err := g.Wait(); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(30 * time.Second)
				for {
					doc, _, err := c.Get(ctx, "p")
					if err != nil {
						t.Fatal(err)
					}
					if string(doc) == "40" {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("cache settled on %s after 40 increments, want 40", doc)
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
		})
	}
}

// failing is a store whose calls fail while down is set, as a database
// that is restarting.
type failing struct {
	docs.Store
	down atomic.Bool
}

var errDown = fmt.Errorf("store down")

func (f *failing) Get(ctx context.Context, name string) ([]byte, docs.Rev, error) {
	if f.down.Load() {
		return nil, "", errDown
	}
	return f.Store.Get(ctx, name)
}

func (f *failing) Revision(ctx context.Context, name string) (docs.Rev, error) {
	if f.down.Load() {
		return "", errDown
	}
	return f.Store.Revision(ctx, name)
}

// TestStaleIfError: while the store cannot answer, a cached copy past its
// TTL is served (and checked again only after another TTL); a document
// never cached fails; once the store is back, a moved revision is
// fetched.
func TestStaleIfError(t *testing.T) {
	ctx := context.Background()
	base := docs.NewFS(t.TempDir())
	f := &failing{Store: base}
	clk := &clock{t: time.Unix(1e9, 0)}
	c := doccache.New(f, doccache.Options{TTL: time.Second, Now: clk.now})
	defer c.Stop()
	rev, err := base.Put(ctx, "a", []byte(`{"v":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if b, _, err := c.Get(ctx, "a"); err != nil || string(b) != `{"v":1}` {
		t.Fatalf("Get: %q %v", b, err)
	}
	f.down.Store(true)
	clk.add(2 * time.Second)
	for range 3 {
		b, r, err := c.Get(ctx, "a")
		if err != nil || string(b) != `{"v":1}` || r != rev {
			t.Fatalf("Get of a cached copy while the store is down: %q %q %v", b, r, err)
		}
	}
	if _, _, err := c.Get(ctx, "b"); err == nil {
		t.Fatal("Get of an uncached document while the store is down succeeded")
	}
	f.down.Store(false)
	if _, err := base.Put(ctx, "a", []byte(`{"v":2}`), rev); err != nil {
		t.Fatal(err)
	}
	// The failed check counted as one: the copy is served until its TTL
	// (docs.FS announces the write, so it is dropped at once here).
	clk.add(2 * time.Second)
	if b, _, err := c.Get(ctx, "a"); err != nil || string(b) != `{"v":2}` {
		t.Fatalf("Get after the store is back: %q %v", b, err)
	}
}

// TestCached: Cached answers from memory only: nothing before a Get,
// the copy after it, nothing once the TTL passed or the feed dropped it,
// and it never reaches the store nor allocates.
func TestCached(t *testing.T) {
	ctx := context.Background()
	s := docs.NewFS(t.TempDir())
	rev, err := s.Put(ctx, "p", []byte(`{"v":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	cs := &counting{Store: s}
	clk := &clock{t: time.Unix(1000, 0)}
	c := doccache.New(cs, doccache.Options{TTL: time.Minute, Now: clk.now})
	defer c.Stop()
	if _, _, ok := c.Cached("p"); ok {
		t.Fatal("Cached before any Get")
	}
	if _, _, err := c.Get(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	doc, got, ok := c.Cached("p")
	if !ok || string(doc) != `{"v":1}` || got != rev {
		t.Fatalf("Cached = %s, %s, %v; want the copy at %s", doc, got, ok, rev)
	}
	if n := testing.AllocsPerRun(100, func() { c.Cached("p") }); n != 0 {
		t.Fatalf("Cached allocates %v times", n)
	}
	if g, r := cs.gets.Load(), cs.revs.Load(); g != 1 || r != 0 {
		t.Fatalf("store reached %d times (+%d revision checks), want once (the Get)", g, r)
	}
	clk.add(2 * time.Minute)
	if _, _, ok := c.Cached("p"); ok {
		t.Fatal("Cached past the TTL")
	}
	if _, _, err := c.Get(ctx, "p"); err != nil { // revalidates
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "p", []byte(`{"v":2}`), rev); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.Cached("p"); ok {
		t.Fatal("Cached after the feed announced a new revision")
	}
}

// TestOwnWriteNeedsNoRevalidation: a copy written through the cache
// whose own notification is the only change since is served without a
// revision check; one with another change in between is revalidated.
func TestOwnWriteNeedsNoRevalidation(t *testing.T) {
	ctx := context.Background()
	s := docs.NewFS(t.TempDir())
	cs := &counting{Store: s}
	c := doccache.New(cs, doccache.Options{TTL: time.Hour})
	defer c.Stop()
	rev, err := c.Put(ctx, "p", []byte(`{"v":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if doc, _, err := c.Get(ctx, "p"); err != nil || string(doc) != `{"v":1}` {
		t.Fatalf("Get = %s, %v", doc, err)
	}
	if g, r := cs.gets.Load(), cs.revs.Load(); g != 0 || r != 0 {
		t.Fatalf("Get after the cache's own write reached the store: %d gets, %d revision checks", g, r)
	}
	// Another package's write lands between the snapshot and the put:
	// the copy is revalidated once.
	other := &racing{Store: s, during: func() { _, _ = s.Put(ctx, "q", []byte(`{}`), "") }}
	c2 := doccache.New(other, doccache.Options{TTL: time.Hour})
	defer c2.Stop()
	if _, err := c2.Put(ctx, "p", []byte(`{"v":2}`), rev); err != nil {
		t.Fatal(err)
	}
	if doc, _, err := c2.Get(ctx, "p"); err != nil || string(doc) != `{"v":2}` {
		t.Fatalf("Get = %s, %v", doc, err)
	}
	if r := other.revs.Load(); r != 1 {
		t.Fatalf("%d revision checks after a write with another change in between, want 1", r)
	}
}

// racing runs during inside each Put, before the write itself.
type racing struct {
	docs.Store
	during func()
	revs   atomic.Int64
}

func (r *racing) Put(ctx context.Context, name string, doc []byte, expected docs.Rev) (docs.Rev, error) {
	r.during()
	return r.Store.Put(ctx, name, doc, expected)
}

func (r *racing) Revision(ctx context.Context, name string) (docs.Rev, error) {
	r.revs.Add(1)
	return r.Store.Revision(ctx, name)
}
