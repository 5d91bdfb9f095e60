package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bun13/bun13/impl/registry/packument"
	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
)

// DefaultStoreTimeout bounds one call to the document or blob store.
const DefaultStoreTimeout = 5 * time.Second

// storeRetryAfter is the Retry-After (seconds) of a 503 for a store that
// cannot answer.
const storeRetryAfter = 2

// statsEvery is how often a Shared server reads the package statistics.
const statsEvery = 5 * time.Second

// unavailable is a store failure: the request gets 503 with Retry-After,
// since the store (a database restarting, a bucket unreachable) is
// expected back.
type unavailable struct{ err error }

func (u *unavailable) Error() string { return "storage unavailable: " + u.err.Error() }
func (u *unavailable) Unwrap() error { return u.err }

// storeErr classifies an error from a store: not-found, conflicts and
// bad names pass as they are, anything else is unavailable.
func (s *Server) storeErr(err error) error {
	var u *unavailable
	var ae *packument.Error
	switch {
	case err == nil, errors.Is(err, docs.ErrNotFound), errors.Is(err, blobs.ErrNotFound),
		errors.Is(err, docs.ErrConflict), errors.As(err, &u), errors.As(err, &ae):
		return err
	}
	if errors.Is(err, pkgname.ErrInvalid) {
		return packument.Errorf(http.StatusBadRequest, "%s", err.Error())
	}
	return &unavailable{err}
}

// storeCtx bounds one store call.
func (s *Server) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.storeWait)
}

// decodeEntry is the document cache's decoder: a parsed document whose
// views are rendered on first use.
func decodeEntry(name string, b []byte) (*entry, error) {
	d, err := packument.ParseDoc(b)
	if err != nil {
		return nil, fmt.Errorf("document of %s: %w", name, err)
	}
	return &entry{doc: d}, nil
}

// wrote brings what this process keeps beside the documents up to date
// with a write of d (old is the document before, nil if none).
func (s *Server) wrote(old, d *packument.Doc) {
	if s.mem != nil {
		s.indexSearch(d)
	}
	s.similar.update(d)
	if !s.shared {
		s.account(old, d)
	}
}

// refreshStats sets the package gauges from a shared store's totals.
func (s *Server) refreshStats(ctx context.Context) error {
	sr, ok := s.docStore.(docs.StatsReader)
	if !ok {
		return errors.New("the document store keeps no statistics")
	}
	ctx, cancel := s.storeCtx(ctx)
	defer cancel()
	st, err := sr.Stats(ctx)
	if err != nil {
		return err
	}
	s.metrics.SetStored(st.Packages, st.Versions, st.Bytes)
	return nil
}

// statsLoop refreshes the gauges until ctx ends, logging once per outage.
func (s *Server) statsLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.refreshStats(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			s.log.Warn("package statistics unavailable", "error", err)
		case err == nil && failing:
			s.log.Info("package statistics available again")
		}
		failing = err != nil
	}
}

// similarFromStore brings the look-alike index up to date with the
// stored packages whose names look like name, when the store is shared
// (this process never read them all). A look-alike created at the same
// moment through another replica can still pass: the index serializes
// claims within one process only.
func (s *Server) similarFromStore(name string) error {
	f, ok := s.docStore.(docs.SimilarFinder)
	if !s.shared || !ok {
		return nil
	}
	ctx, cancel := s.storeCtx(context.Background())
	defer cancel()
	names, err := f.SimilarNames(ctx, pkgname.Similar(name))
	if err != nil {
		return s.storeErr(err)
	}
	for _, n := range names {
		if n == name {
			continue
		}
		e, _, err := s.docs.Get(ctx, n)
		if errors.Is(err, docs.ErrNotFound) {
			continue
		}
		if err != nil {
			return s.storeErr(err)
		}
		s.similar.update(e.doc)
	}
	return nil
}
