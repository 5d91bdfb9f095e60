package registry

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/store/docs"
)

// conflicting answers the next `lose` Puts with docs.ErrConflict, as if
// other replicas had written the document each time in between.
type conflicting struct {
	docs.Store
	lose atomic.Int64
}

func (c *conflicting) Put(ctx context.Context, name string, doc []byte, expected docs.Rev) (docs.Rev, error) {
	if c.lose.Add(-1) >= 0 {
		return "", docs.ErrConflict
	}
	return c.Store.Put(ctx, name, doc, expected)
}

// TestWriteConflictsRetriedByTime: a publisher that loses the
// compare-and-swap more than writeAttempts times in a row (found with
// 100 concurrent publishes over three replicas, impl/registry/replicatest)
// still lands while within the store timeout; one that keeps losing past
// it gets 503 with Retry-After, not a 500.
func TestWriteConflictsRetriedByTime(t *testing.T) {
	var store *conflicting
	e := newEnv(t, 0, func(o *Options) {
		store = &conflicting{Store: o.Docs}
		o.Docs = store
		o.StoreTimeout = 2 * time.Second
	})
	store.lose.Store(writeAttempts + 4)
	tgz := tarball("contended", "1.0.0")
	if r := e.do("PUT", "/contended", "tok-alice", publishDoc("contended", "1.0.0", tgz)); r.status != http.StatusCreated {
		t.Fatalf("publish after %d conflicts: %d %s", writeAttempts+4, r.status, r.body)
	}
	store.lose.Store(1 << 40)
	tgz = tarball("contended", "1.0.1")
	r := e.do("PUT", "/contended", "tok-alice", publishDoc("contended", "1.0.1", tgz))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("publish that always loses: %d (Retry-After %q) %s, want 503 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
}
