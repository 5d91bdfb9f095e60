// Package docs keeps package documents with revisions.
//
// [Store] is the interface the registry's write path and caches need: a
// document is read with its revision, and written only if its revision is
// still the one the writer read (compare-and-swap), so writers are
// serialized by the store rather than by a lock in one process. Two
// implementations pass the same conformance suite (package docstest):
//
//   - [FS], the embedded default: the registry's data directory as it is
//     today (DIR/NAME/package.json), one process; revisions are content
//     hashes, so an existing data directory needs no conversion.
//   - pgdocs.Store: PostgreSQL, shared by any number of processes, with a
//     change feed through LISTEN/NOTIFY.
//
// Every Put is durable and atomic when it returns: a reader, or a restart
// after a crash at any instant, sees the old document or the new one.
package docs

import (
	"context"
	"errors"
)

var (
	// ErrNotFound is returned by Get and Revision for a name with no
	// document.
	ErrNotFound = errors.New("docs: not found")
	// ErrConflict is returned by Put when the stored revision is not the
	// expected one: someone else wrote first. Re-read, re-apply, retry.
	ErrConflict = errors.New("docs: revision conflict")
)

// Rev is a document revision: opaque, compared only for equality. The
// empty Rev stands for "no document".
type Rev string

// Store keeps one document per package name. Names reaching a store have
// passed pkgname.Validate; stores check again before using them.
type Store interface {
	// Get returns the document of name and its revision, or ErrNotFound.
	Get(ctx context.Context, name string) ([]byte, Rev, error)
	// Revision returns the current revision of name without its document
	// (a cheap check that a cached copy is current), or ErrNotFound.
	Revision(ctx context.Context, name string) (Rev, error)
	// Put stores doc as the document of name if its current revision is
	// expected (the empty Rev: if there is none), and returns the new
	// revision; otherwise it stores nothing and returns ErrConflict.
	Put(ctx context.Context, name string, doc []byte, expected Rev) (Rev, error)
	// List returns up to limit names greater than after, in byte order:
	// after "" starts at the beginning, a short page is the last, and a
	// limit of zero or less means no limit.
	List(ctx context.Context, after string, limit int) ([]string, error)
	// Count returns the number of documents.
	Count(ctx context.Context) (int64, error)
	// Subscribe calls fn for each change committed after Subscribe
	// returns, until the returned function is called. Calls are never
	// concurrent and come in commit order per name; fn must return quickly
	// and must not call Subscribe or an unsubscribe function. A Change with
	// Lost set means changes may have been missed (the feed reconnected):
	// drop or revalidate every cached document.
	Subscribe(fn func(Change)) (unsubscribe func())
	// Close releases the store's connections and stops its feed.
	Close() error
}

// Change is one committed write, or a gap in the feed.
type Change struct {
	// Name is the package written; empty when Lost.
	Name string
	// Rev is its revision after the write.
	Rev Rev
	// Lost reports that changes may have been missed.
	Lost bool
}

// Update reads name, applies fn to its document (nil when there is none)
// and writes the result with compare-and-swap, retrying from the read
// when another writer got there first, at most attempts times (at least
// once). fn must be a pure function of its input: it runs once per
// attempt. An error from fn is returned as is, without writing.
func Update(ctx context.Context, s Store, name string, attempts int, fn func(doc []byte) ([]byte, error)) (Rev, error) {
	for i := 0; ; i++ {
		cur, rev, err := s.Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			cur, rev, err = nil, "", nil
		}
		if err != nil {
			return "", err
		}
		next, err := fn(cur)
		if err != nil {
			return "", err
		}
		newRev, err := s.Put(ctx, name, next, rev)
		if !errors.Is(err, ErrConflict) || i+1 >= attempts {
			return newRev, err
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
	}
}

// Stats are the totals a registry's gauges show: packages with live
// versions, those versions, and their tarball bytes.
type Stats struct {
	Packages, Versions, Bytes int64
}

// StatsReader is a Store that keeps Stats itself, so that they cost one
// read instead of reading every document (pgdocs maintains them with
// triggers). A Store without it is measured by its user as it writes.
type StatsReader interface {
	Stats(ctx context.Context) (Stats, error)
}

// SimilarFinder is a Store that finds the stored names whose
// pkgname.Similar form is form, without reading every name (the
// look-alike rule of a registry whose documents it does not all hold).
type SimilarFinder interface {
	SimilarNames(ctx context.Context, form string) ([]string, error)
}
