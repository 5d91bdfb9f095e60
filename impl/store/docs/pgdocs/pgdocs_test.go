package pgdocs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/docs/docstest"
	"github.com/bun13/bun13/impl/store/docs/pgdocs"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

func open(t *testing.T, url string) *pgdocs.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := pgdocs.Open(ctx, url, pgdocs.Options{ReconnectDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pgtemp.URL(t)
	docstest.Run(t, docstest.Backing{
		New: func(t *testing.T) func(*testing.T) docs.Store {
			url := pgtemp.New(t)
			return func(t *testing.T) docs.Store { return open(t, url) }
		},
		Shared: true,
	})
}

// TestMigrateConcurrently migrates one empty database from several
// goroutines and several processes at once: every one succeeds and the
// schema ends at the embedded version, applied once.
func TestMigrateConcurrently(t *testing.T) {
	if url := os.Getenv("PGDOCS_MIGRATE_CHILD"); url != "" {
		if err := pgdocs.Migrate(context.Background(), url); err != nil {
			t.Fatal(err)
		}
		return
	}
	url := pgtemp.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var g errgroup.Group
	for i := range 4 {
		g.Go(func() error {
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestMigrateConcurrently$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PGDOCS_MIGRATE_CHILD="+url)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("process %d: %v\n%s", i, err, out)
			}
			return nil
		})
	}
	for i := range 6 {
		g.Go(func() error {
			// Half migrate alone, half through Open and then write.
			if i%2 == 0 {
				return pgdocs.Migrate(ctx, url)
			}
			s, err := pgdocs.Open(ctx, url, pgdocs.Options{})
			if err != nil {
				return err
			}
			defer s.Close()
			_, err = s.Put(ctx, fmt.Sprintf("pkg-%d", i), []byte(`{}`), "")
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var (
		version int64
		dirty   bool
		rows    int
	)
	if err := conn.QueryRow(ctx, "SELECT version, dirty, (SELECT count(*) FROM "+pgdocs.MigrationsTable+") FROM "+pgdocs.MigrationsTable).Scan(&version, &dirty, &rows); err != nil {
		t.Fatal(err)
	}
	want, err := pgdocs.SchemaVersion()
	if err != nil {
		t.Fatal(err)
	}
	if uint(version) != want || dirty || rows != 1 {
		t.Fatalf("schema version %d dirty=%v (%d rows); want %d, clean, 1 row", version, dirty, rows, want)
	}
	var triggers int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_trigger WHERE tgname = 'documents_notify'").Scan(&triggers); err != nil || triggers != 1 {
		t.Fatalf("%d notify triggers, %v; want 1", triggers, err)
	}
}

// TestFeedReconnects kills the feed's connection from the server side:
// the store reports the gap (Lost) and goes on delivering changes.
func TestFeedReconnects(t *testing.T) {
	url := pgtemp.New(t)
	s := open(t, url)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := make(chan docs.Change, 100)
	defer s.Subscribe(func(c docs.Change) { got <- c })()

	var killed int
	if err := s.Pool().QueryRow(ctx,
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN "+pgdocs.Channel+"'").Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d feed connections, want 1", killed)
	}
	select {
	case c := <-got:
		if !c.Lost {
			t.Fatalf("first change after the feed died = %+v, want Lost", c)
		}
	case <-ctx.Done():
		t.Fatal("no Lost change after the feed connection was terminated")
	}
	rev, err := s.Put(ctx, "after-reconnect", []byte(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case c := <-got:
			if c.Name == "after-reconnect" && c.Rev == rev {
				return
			}
		case <-ctx.Done():
			t.Fatal("change after reconnecting not delivered")
		}
	}
}

// TestForeignWritesNotify checks a write made outside the store (psql, a
// migration tool) reaches the feed too: the trigger, not the Go code,
// announces changes.
func TestForeignWritesNotify(t *testing.T) {
	url := pgtemp.New(t)
	s := open(t, url)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := make(chan docs.Change, 10)
	defer s.Subscribe(func(c docs.Change) { got <- c })()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO documents (name, rev, doc) VALUES ('by-hand', 7, '{}')"); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c.Name != "by-hand" || c.Rev != "7" {
			t.Fatalf("change %+v, want by-hand at 7", c)
		}
	case <-ctx.Done():
		t.Fatal("foreign write not announced")
	}
	if doc, rev, err := s.Get(ctx, "by-hand"); err != nil || rev != "7" || !strings.EqualFold(string(doc), "{}") {
		t.Fatalf("Get = %s %q %v", doc, rev, err)
	}
}

func TestLoad(t *testing.T) {
	s := open(t, pgtemp.New(t))
	defer s.Close()
	ctx := context.Background()
	rev, err := s.Put(ctx, "kept", []byte(`{"mine":true}`), "")
	if err != nil {
		t.Fatal(err)
	}
	var batch []pgdocs.Doc
	for i := range 1234 {
		batch = append(batch, pgdocs.Doc{Name: fmt.Sprintf("bulk-%04d", i), Doc: []byte(fmt.Sprintf(`{"i":%d}`, i))})
	}
	batch = append(batch, pgdocs.Doc{Name: "kept", Doc: []byte(`{"overwritten":true}`)}, batch[7])
	n, err := s.Load(ctx, batch)
	if err != nil || n != 1234 {
		t.Fatalf("Load = %d, %v; want 1234 inserted", n, err)
	}
	if n, err := s.Load(ctx, batch); err != nil || n != 0 {
		t.Fatalf("second Load = %d, %v; want 0 (idempotent)", n, err)
	}
	if doc, r, err := s.Get(ctx, "kept"); err != nil || r != rev || string(doc) != `{"mine":true}` {
		t.Fatalf("an existing document was touched: %s %q %v", doc, r, err)
	}
	if doc, r, err := s.Get(ctx, "bulk-1000"); err != nil || r != "1" || string(doc) != `{"i":1000}` {
		t.Fatalf("loaded document: %s %q %v", doc, r, err)
	}
	if _, err := s.Load(ctx, []pgdocs.Doc{{Name: "fine-new"}, {Name: "../bad"}}); err == nil {
		t.Fatal("Load with an invalid name succeeded")
	}
	if _, _, err := s.Get(ctx, "fine-new"); err == nil {
		t.Fatal("a Load refused for an invalid name wrote the valid ones")
	}
	if c, err := s.Count(ctx); err != nil || c != 1235 {
		t.Fatalf("Count = %d, %v", c, err)
	}
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	url := pgtemp.New(t)
	s, err := pgdocs.Open(ctx, url, pgdocs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := func(p, v, b int64) {
		t.Helper()
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st != (docs.Stats{Packages: p, Versions: v, Bytes: b}) {
			t.Fatalf("stats %+v, want packages %d versions %d bytes %d", st, p, v, b)
		}
	}
	want(0, 0, 0)
	r1, err := s.Put(ctx, "a", []byte(`{"name":"a","versions":{"1.0.0":{},"1.1.0":{}},"sizes":{"1.0.0":100,"1.1.0":50}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "b", []byte{0xff, 0, 1}, ""); err != nil { // not JSON: counts as nothing
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "c", []byte(`{"versions":{"2.0.0":{}},"sizes":{"2.0.0":7}}`), ""); err != nil {
		t.Fatal(err)
	}
	want(2, 3, 157)
	// Unpublishing every version of a: its document stays as a tombstone.
	if _, err := s.Put(ctx, "a", []byte(`{"name":"a","versions":{},"unpublished":{"time":"x"}}`), r1); err != nil {
		t.Fatal(err)
	}
	want(1, 1, 7)
	// Documents loaded in bulk are measured too.
	if _, err := s.Load(ctx, []pgdocs.Doc{{Name: "d", Doc: []byte(`{"versions":{"1.0.0":{}},"sizes":{"1.0.0":3}}`)}}); err != nil {
		t.Fatal(err)
	}
	want(2, 2, 10)
}

// TestSimilarNames: the SQL form of the look-alike rule agrees with
// pkgname.Similar.
func TestSimilarNames(t *testing.T) {
	ctx := context.Background()
	s, err := pgdocs.Open(ctx, pgtemp.New(t), pgdocs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names := []string{"left-pad", "leftpad", "left.pad", "Left_Pad", "leftpads", "@s/left-pad", "@s/leftpad", "@t/leftpad", "@S/x.y"}
	for _, n := range names {
		if _, err := s.Put(ctx, n, []byte("{}"), ""); err != nil {
			t.Fatal(n, err)
		}
	}
	for _, n := range names {
		form := pkgname.Similar(n)
		got, err := s.SimilarNames(ctx, form)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, m := range names {
			if pkgname.Similar(m) == form {
				want = append(want, m)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("SimilarNames(%q) = %q, want %q", form, got, want)
		}
	}
}
