// Package doccache keeps recently read package documents in memory in
// front of a docs.Store, the way every registry replica must: a hit
// touches neither the network nor the disk, and the copies are dropped by
// the store's change feed when anyone, on any replica, writes.
//
// Notifications can be lost (the feed reconnects and says so with a Lost
// change, or a write races a fill). So every entry is also revalidated
// once it is older than TTL: one cheap Revision call, a full Get only
// when the revision moved. A lost notification therefore keeps a
// document stale for at most TTL; a delivered one, for the feed's
// latency.
package doccache

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bun13/bun13/impl/store/docs"
)

// Defaults for zero Options fields.
const (
	DefaultTTL     = 2 * time.Second
	DefaultEntries = 10_000
)

// Options configure a Cache.
type Options struct {
	// TTL is how long an entry is served without asking the store; zero
	// means DefaultTTL, below zero never (see NewTyped).
	TTL time.Duration
	// Entries bounds the documents kept (least recently used go first).
	Entries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cache is a read-through cache of a docs.Store's documents as bytes.
type Cache = Typed[[]byte]

// Decoder turns a stored document into the value a Typed cache keeps
// (the registry keeps parsed documents with their rendered views).
type Decoder[V any] func(name string, doc []byte) (V, error)

// Typed is a read-through cache of a docs.Store's documents, each kept
// decoded as a V. A V is shared by every reader until the document
// changes: it must be immutable, or safe for concurrent use.
type Typed[V any] struct {
	store   docs.Store
	decode  Decoder[V]
	ttl     time.Duration
	entries int
	now     func() time.Time
	unsub   func()

	mu   sync.Mutex
	m    map[string]*list.Element // of *entry
	lru  list.List                // front: most recently used
	seq  uint64                   // bumped by every change the feed delivers
	last docs.Change              // the change that bumped seq last
}

type entry[V any] struct {
	name    string
	val     V
	rev     docs.Rev
	checked time.Time // zero: revalidate on next use
}

// New returns a cache of s's documents as bytes, subscribed to its feed
// until Stop.
func New(s docs.Store, o Options) *Cache {
	return NewTyped(s, o, func(_ string, b []byte) ([]byte, error) { return b, nil })
}

// NewTyped returns a cache in front of s keeping each document as decode
// makes it, subscribed to s's feed until Stop. A TTL below zero means
// entries are never revalidated: only for a store whose feed is known
// complete (every writer of the store is in this process, as with a
// local docs.FS).
func NewTyped[V any](s docs.Store, o Options, decode Decoder[V]) *Typed[V] {
	c := &Typed[V]{store: s, decode: decode, ttl: o.TTL, entries: o.Entries, now: o.Now, m: map[string]*list.Element{}}
	if c.ttl == 0 {
		c.ttl = DefaultTTL
	}
	if c.entries <= 0 {
		c.entries = DefaultEntries
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.unsub = s.Subscribe(c.change)
	return c
}

// Stop unsubscribes from the feed; the store stays open.
func (c *Typed[V]) Stop() { c.unsub() }

// Len is the number of documents cached.
func (c *Typed[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *Typed[V]) change(ch docs.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.last = ch
	if ch.Lost {
		for el := c.lru.Front(); el != nil; el = el.Next() {
			el.Value.(*entry[V]).checked = time.Time{}
		}
		return
	}
	if el, ok := c.m[ch.Name]; ok && el.Value.(*entry[V]).rev != ch.Rev {
		c.lru.Remove(el)
		delete(c.m, ch.Name)
	}
}

// Get returns the document of name, decoded, and its revision, from
// memory when a copy younger than TTL is there. An older copy is
// revalidated; when the store cannot answer that check, the copy is
// served all the same (stale if error: a cached package stays readable
// while the database restarts). The value is shared: the caller must not
// modify it.
func (c *Typed[V]) Get(ctx context.Context, name string) (V, docs.Rev, error) {
	now := c.now()
	c.mu.Lock()
	var stale *entry[V]
	if el, ok := c.m[name]; ok {
		e := el.Value.(*entry[V])
		if !e.checked.IsZero() && (c.ttl < 0 || now.Sub(e.checked) < c.ttl) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return e.val, e.rev, nil
		}
		stale = e
	}
	seq := c.seq
	c.mu.Unlock()

	if stale != nil {
		rev, err := c.store.Revision(ctx, name)
		// Same revision: the copy is current. The store cannot answer (a
		// database restarting): serve the copy rather than fail a read it
		// can answer, and ask again after another TTL, so that an outage
		// costs each cached document one failed check per TTL. Only a
		// document the store says is gone, or has moved, is fetched.
		if (err == nil && rev == stale.rev) || (err != nil && !errors.Is(err, docs.ErrNotFound)) {
			c.mu.Lock()
			if el, ok := c.m[name]; ok && el.Value.(*entry[V]) == stale {
				stale.checked = now
				c.lru.MoveToFront(el)
			}
			c.mu.Unlock()
			return stale.val, stale.rev, nil
		}
	}
	return c.fetch(ctx, name, now, seq)
}

// Cached returns what Get would return without asking the store: the
// copy of name younger than TTL, if there is one (ok false otherwise).
// It costs no allocation, so a caller can skip preparing a store call
// (a context with a deadline) when the document is in memory.
func (c *Typed[V]) Cached(name string) (v V, rev docs.Rev, ok bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, found := c.m[name]; found {
		e := el.Value.(*entry[V])
		if !e.checked.IsZero() && (c.ttl < 0 || now.Sub(e.checked) < c.ttl) {
			c.lru.MoveToFront(el)
			return e.val, e.rev, true
		}
	}
	return v, "", false
}

// Fresh reads name from the store whatever is cached (a writer whose
// compare-and-swap failed must see the newest revision) and caches it.
func (c *Typed[V]) Fresh(ctx context.Context, name string) (V, docs.Rev, error) {
	c.mu.Lock()
	seq := c.seq
	c.mu.Unlock()
	return c.fetch(ctx, name, c.now(), seq)
}

func (c *Typed[V]) fetch(ctx context.Context, name string, now time.Time, seq uint64) (V, docs.Rev, error) {
	var zero V
	doc, rev, err := c.store.Get(ctx, name)
	if err != nil {
		return zero, "", err
	}
	v, err := c.decode(name, doc)
	if err != nil {
		return zero, "", err
	}
	c.put(name, v, rev, now, seq)
	return v, rev, nil
}

// Put writes through to the store (compare-and-swap as docs.Store.Put)
// and caches what it wrote.
func (c *Typed[V]) Put(ctx context.Context, name string, doc []byte, expected docs.Rev) (docs.Rev, error) {
	v, err := c.decode(name, doc)
	if err != nil {
		return "", err
	}
	return c.PutValue(ctx, name, doc, v, expected)
}

// PutValue is Put for a writer that already holds the decoded value of
// doc: v is cached as is.
func (c *Typed[V]) PutValue(ctx context.Context, name string, doc []byte, v V, expected docs.Rev) (docs.Rev, error) {
	c.mu.Lock()
	seq := c.seq
	c.mu.Unlock()
	rev, err := c.store.Put(ctx, name, doc, expected)
	if err != nil {
		return "", err
	}
	c.put(name, v, rev, c.now(), seq)
	return rev, nil
}

// Drop forgets name's copy.
func (c *Typed[V]) Drop(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[name]; ok {
		c.lru.Remove(el)
		delete(c.m, name)
	}
}

// put caches v at rev as read (or written) when the feed had delivered
// seq changes. If changes arrived since, one of them may be a newer write
// of name whose notification came before this copy: the entry is then
// kept but revalidated on its next use; unless the one change since is
// name at rev itself (the notification of this very copy, as a local
// store delivers it inside Put), which says nothing newer.
func (c *Typed[V]) put(name string, v V, rev docs.Rev, now time.Time, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	checked := now
	own := c.seq == seq+1 && !c.last.Lost && c.last.Name == name && c.last.Rev == rev
	if c.seq != seq && !own {
		checked = time.Time{}
	}
	e := &entry[V]{name: name, val: v, rev: rev, checked: checked}
	if el, ok := c.m[name]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.m[name] = c.lru.PushFront(e)
	for len(c.m) > c.entries {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.m, last.Value.(*entry[V]).name)
	}
}
