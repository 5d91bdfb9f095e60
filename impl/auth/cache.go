package auth

import (
	"crypto/ed25519"
	"encoding/binary"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
)

// entry is one verified token. The atomic fields record the key set and
// revocation list the token was last checked against.
type entry struct {
	claims    Claims
	notBefore int64 // UnixNano, leeway applied: valid while notBefore <= now < expires
	expires   int64
	kid       string
	pub       ed25519.PublicKey
	keys      atomic.Pointer[keyMap]
	revs      atomic.Pointer[RevocationSet]
}

// perShard is the target number of entries per shard. Shards are copied on
// every insert so that hits take no lock and write no shared memory (and so
// scale across cores); keeping shards this small keeps an insert (which
// follows a ~50µs signature check anyway) to a few microseconds.
const perShard = 64

// cache maps whole token strings to verified entries. Keying by the token
// itself rather than a hash of it rules out collisions at the cost of ~300
// bytes per entry.
type cache struct {
	shards []cacheShard
	max    int  // entries per shard; len(shards)*max <= configured size
	shift  uint // 64 - log2(len(shards))
}

type cacheShard struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]*entry]
	_  [48]byte // keep shards on separate cache lines
}

func newCache(size int) *cache {
	n := 1
	for n*perShard < size && n < 1<<12 {
		n *= 2
	}
	return &cache{
		shards: make([]cacheShard, n),
		max:    max(size/n, 1),
		shift:  uint(64 - bits.TrailingZeros(uint(n))),
	}
}

// shard picks a shard from the token's last 8 bytes, which for a real
// token are signature bytes and so evenly spread; hashing all ~300 bytes
// here would double the cost of a hit, as the map hashes them again. A
// forged tail only chooses which shard a failing lookup reads.
func (c *cache) shard(token string) *cacheShard {
	var tail [8]byte
	copy(tail[:], token[max(len(token)-8, 0):])
	h := binary.LittleEndian.Uint64(tail[:]) * 0x9e3779b97f4a7c15
	return &c.shards[h>>c.shift] // a shift by 64 is 0 in Go
}

func (c *cache) get(token string) *entry {
	if m := c.shard(token).m.Load(); m != nil {
		return (*m)[token]
	}
	return nil
}

// put adds e, first dropping expired entries and then, if the shard is
// still full, random ones (map iteration order is random).
func (c *cache) put(token string, e *entry, now int64) {
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]*entry, c.max)
	if old := s.m.Load(); old != nil {
		for k, x := range *old {
			if x.expires > now && k != token {
				next[k] = x
			}
		}
	}
	for k := range next {
		if len(next) < c.max {
			break
		}
		delete(next, k)
	}
	// Cloned so the cache does not pin the caller's request buffer.
	next[strings.Clone(token)] = e
	s.m.Store(&next)
}

// drop removes token if it still maps to e.
func (c *cache) drop(token string, e *entry) {
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m.Load()
	if old == nil || (*old)[token] != e {
		return
	}
	next := make(map[string]*entry, len(*old))
	for k, x := range *old {
		if k != token {
			next[k] = x
		}
	}
	s.m.Store(&next)
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		if m := c.shards[i].m.Load(); m != nil {
			n += len(*m)
		}
	}
	return n
}
