// Command bun13-bulkload fills a registry's stores with generated packages
// (impl/registry/bulkload): the distributed stores (PostgreSQL documents
// and search entries, tarballs in a blob store) and/or a single-node data
// directory.
//
//	bun13-bulkload -n 100000 \
//	  --database "$BUN13_TEST_POSTGRES" --blobs "$BUN13_TEST_S3" \
//	  --data /tmp/scale-data
//
// S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. A
// package whose document the database already has is left as it is, so a
// load can be resumed or extended (--from).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/bun13/bun13/impl/registry/bulkload"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs/pgdocs"
	"github.com/bun13/bun13/impl/store/search/pgsearch"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bun13-bulkload:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bun13-bulkload", flag.ContinueOnError)
	n := fs.Int("n", 100000, "packages to write")
	from := fs.Int("from", 0, "index of the first package (bulkload.SpecOf)")
	versions := fs.Int("versions", bulkload.Versions, "versions per package (each with its tarball)")
	database := fs.String("database", "", "PostgreSQL URL: documents (pgdocs) and search entries (pgsearch); needs --blobs")
	blobURL := fs.String("blobs", "", "tarball store: s3://BUCKET?endpoint=URL&region=R&use_path_style=true or file:///DIR; needs --database")
	tarballs := fs.Bool("tarballs", true, "put the tarballs into --blobs (false: documents and search entries only, faster)")
	data := fs.String("data", "", "single-node data directory to write the same packages into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (*database == "") != (*blobURL == "") {
		return errors.New("--database and --blobs go together")
	}
	if *database == "" && *data == "" {
		return errors.New("nothing to write: give --database and --blobs, or --data, or both")
	}
	if *n < 0 || *from < 0 {
		return errors.New("-n and --from must not be negative")
	}
	g, err := bulkload.NewGenerator(ctx, *versions)
	if err != nil {
		return err
	}
	t := bulkload.Targets{Dir: *data, SkipTarballs: !*tarballs}
	if *database != "" {
		st, closeAll, err := openShared(ctx, *database, *blobURL)
		if err != nil {
			return err
		}
		defer closeAll()
		t.Shared = &st
	}
	t0 := time.Now()
	s, err := g.Load(ctx, t, *from, *n, progress(*n))
	if err != nil {
		return err
	}
	fmt.Printf("%d packages, %d tarballs, %d bytes in %v: generate %v", s.Packages, s.Tarballs, s.Bytes,
		time.Since(t0).Round(time.Millisecond), s.Generate.Round(time.Millisecond))
	if t.Shared != nil {
		fmt.Printf(", tarballs into --blobs %v, documents %v, search %v", s.Blobs.Round(time.Millisecond),
			s.Docs.Round(time.Millisecond), s.Search.Round(time.Millisecond))
	}
	if t.Dir != "" {
		fmt.Printf(", files into --data %v", s.Files.Round(time.Millisecond))
	}
	fmt.Println()
	if t.Shared != nil {
		if _, err := t.Shared.Docs.Pool().Exec(ctx, "VACUUM ANALYZE documents, search_entries"); err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
	}
	return nil
}

// openShared opens the document store (applying its migrations and the
// search index's), the search index and the blob store.
func openShared(ctx context.Context, database, blobURL string) (bulkload.Shared, func(), error) {
	pg, err := pgdocs.Open(ctx, database, pgdocs.Options{})
	if err != nil {
		return bulkload.Shared{}, nil, fmt.Errorf("--database: %w", err)
	}
	if err := pgsearch.Migrate(ctx, database); err != nil {
		pg.Close()
		return bulkload.Shared{}, nil, fmt.Errorf("--database: %w", err)
	}
	b, err := blobs.OpenURL(ctx, blobURL)
	if err != nil {
		pg.Close()
		return bulkload.Shared{}, nil, fmt.Errorf("--blobs: %w", err)
	}
	return bulkload.Shared{Docs: pg, Search: pgsearch.New(pg.Pool()), Blobs: b},
		func() { b.Close(); pg.Close() }, nil
}

// progress prints a line every 10,000 packages.
func progress(n int) func(int) {
	t0 := time.Now()
	return func(done int) {
		if done%10000 == 0 || done == n {
			fmt.Fprintf(os.Stderr, "%d/%d packages (%v)\n", done, n, time.Since(t0).Round(time.Second))
		}
	}
}
