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
	// TTL is how long an entry is served without asking the store.
	TTL time.Duration
	// Entries bounds the documents kept (least recently used go first).
	Entries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cache is a read-through cache of a docs.Store's documents.
type Cache struct {
	store   docs.Store
	ttl     time.Duration
	entries int
	now     func() time.Time
	unsub   func()

	mu  sync.Mutex
	m   map[string]*list.Element // of *entry
	lru list.List                // front: most recently used
	seq uint64                   // bumped by every change the feed delivers
}

type entry struct {
	name    string
	doc     []byte
	rev     docs.Rev
	checked time.Time // zero: revalidate on next use
}

// New returns a cache in front of s, subscribed to its feed until Stop.
func New(s docs.Store, o Options) *Cache {
	c := &Cache{store: s, ttl: o.TTL, entries: o.Entries, now: o.Now, m: map[string]*list.Element{}}
	if c.ttl <= 0 {
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
func (c *Cache) Stop() { c.unsub() }

// Len is the number of documents cached.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *Cache) change(ch docs.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if ch.Lost {
		for el := c.lru.Front(); el != nil; el = el.Next() {
			el.Value.(*entry).checked = time.Time{}
		}
		return
	}
	if el, ok := c.m[ch.Name]; ok && el.Value.(*entry).rev != ch.Rev {
		c.lru.Remove(el)
		delete(c.m, ch.Name)
	}
}

// Get returns the document of name and its revision, from memory when a
// copy younger than TTL is there. The returned bytes are shared: the
// caller must not modify them.
func (c *Cache) Get(ctx context.Context, name string) ([]byte, docs.Rev, error) {
	now := c.now()
	c.mu.Lock()
	var stale *entry
	if el, ok := c.m[name]; ok {
		e := el.Value.(*entry)
		if !e.checked.IsZero() && now.Sub(e.checked) < c.ttl {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return e.doc, e.rev, nil
		}
		stale = e
	}
	seq := c.seq
	c.mu.Unlock()

	if stale != nil {
		rev, err := c.store.Revision(ctx, name)
		if err == nil && rev == stale.rev {
			c.mu.Lock()
			if el, ok := c.m[name]; ok && el.Value.(*entry) == stale {
				stale.checked = now
				c.lru.MoveToFront(el)
			}
			c.mu.Unlock()
			return stale.doc, stale.rev, nil
		}
	}
	doc, rev, err := c.store.Get(ctx, name)
	if err != nil {
		return nil, "", err
	}
	c.put(name, doc, rev, now, seq)
	return doc, rev, nil
}

// Put writes through to the store (compare-and-swap as docs.Store.Put)
// and caches what it wrote.
func (c *Cache) Put(ctx context.Context, name string, doc []byte, expected docs.Rev) (docs.Rev, error) {
	c.mu.Lock()
	seq := c.seq
	c.mu.Unlock()
	rev, err := c.store.Put(ctx, name, doc, expected)
	if err != nil {
		return "", err
	}
	c.put(name, doc, rev, c.now(), seq)
	return rev, nil
}

// put caches doc at rev as read (or written) when the feed had delivered
// seq changes. If changes arrived since, one of them may be a newer write
// of name whose notification came before this copy: the entry is then
// kept but revalidated on its next use.
func (c *Cache) put(name string, doc []byte, rev docs.Rev, now time.Time, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	checked := now
	if c.seq != seq {
		checked = time.Time{}
	}
	e := &entry{name: name, doc: doc, rev: rev, checked: checked}
	if el, ok := c.m[name]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.m[name] = c.lru.PushFront(e)
	for len(c.m) > c.entries {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.m, last.Value.(*entry).name)
	}
}
