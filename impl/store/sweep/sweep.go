// Package sweep removes tarballs that no document refers to: what a
// publish leaves in the blob store when its replica dies between storing
// the tarball and committing the document, or when the loser of a race
// for one version stored its (content-addressed) tarball before losing,
// or when deleting an unpublished version's tarball failed.
//
// A blob is an orphan when its package's document does not list it. A
// publish stores its tarball before its document, so a blob can look
// orphaned for the moment a publish is in flight; Run therefore deletes
// only blobs that were orphans at a first pass and still are at a second
// one, Grace later (far longer than a publish's store calls may take).
package sweep

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/transfer"
)

// DefaultGrace is the wait between the two passes.
const DefaultGrace = 10 * time.Minute

// Options configure Run.
type Options struct {
	// Grace is the wait between the passes; zero means DefaultGrace.
	Grace time.Duration
	// DryRun finds the orphans of the first pass and deletes nothing.
	DryRun bool
	// Sleep waits d or until ctx ends; nil means a timer. Tests pass
	// their own.
	Sleep func(ctx context.Context, d time.Duration) error
	// Waiting, when not nil, is told before the wait between the passes
	// (a command says so to its user).
	Waiting func(d time.Duration)
}

// Orphan is one blob no document refers to.
type Orphan struct {
	Name, File string
}

// Result says what Run found and did.
type Result struct {
	Packages  int      // packages looked at
	Found     []Orphan // orphans at the first pass
	Deleted   []Orphan // deleted at the second
	StillUsed int      // found orphaned, then referenced by the second pass
}

// Orphans returns the blobs of package name that its document does not
// refer to (all of them when it has no document).
func Orphans(ctx context.Context, d docs.Store, b blobs.Store, name string) ([]string, error) {
	files, err := b.List(ctx, name)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	var used []string
	raw, _, err := d.Get(ctx, name)
	switch {
	case err == nil:
		if used, err = transfer.Files(name, raw); err != nil {
			return nil, fmt.Errorf("sweep: %s: document is not JSON: %w", name, err)
		}
	case !errors.Is(err, docs.ErrNotFound):
		return nil, err
	}
	var out []string
	for _, f := range files {
		if !slices.Contains(used, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Run sweeps every package of d: one pass finding orphans, a wait of
// Grace, a second pass deleting those still orphaned.
func Run(ctx context.Context, d docs.Store, b blobs.Store, o Options) (Result, error) {
	var res Result
	after := ""
	for {
		names, err := d.List(ctx, after, 500)
		if err != nil {
			return res, fmt.Errorf("sweep: list: %w", err)
		}
		for _, n := range names {
			res.Packages++
			files, err := Orphans(ctx, d, b, n)
			if err != nil {
				return res, err
			}
			for _, f := range files {
				res.Found = append(res.Found, Orphan{n, f})
			}
		}
		if len(names) < 500 {
			break
		}
		after = names[len(names)-1]
	}
	if o.DryRun || len(res.Found) == 0 {
		return res, nil
	}
	grace := o.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	sleep := o.Sleep
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if o.Waiting != nil {
		o.Waiting(grace)
	}
	if err := sleep(ctx, grace); err != nil {
		return res, err
	}
	checked := map[string][]string{}
	for _, or := range res.Found {
		still, ok := checked[or.Name]
		if !ok {
			var err error
			if still, err = Orphans(ctx, d, b, or.Name); err != nil {
				return res, err
			}
			checked[or.Name] = still
		}
		if !slices.Contains(still, or.File) {
			res.StillUsed++
			continue
		}
		if err := b.Delete(ctx, or.Name, or.File); err != nil {
			return res, fmt.Errorf("sweep: delete %s/%s: %w", or.Name, or.File, err)
		}
		res.Deleted = append(res.Deleted, or)
	}
	return res, nil
}
