package registry

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/bun13/bun13/impl/registry/packument"
)

// keyLocks serializes work per key (package name). Entries live only while
// someone holds or waits for them, so the map stays as small as the set of
// packages being written.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyLock)
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// view is one serialized packument: a kind (full or abbreviated) for one
// base URL, with its ETag, and its gzip form made on first demand.
type view struct {
	body []byte
	etag string

	gzOnce sync.Once
	gz     []byte
	gzEtag string
}

func newView(body []byte) *view {
	return &view{body: body, etag: etagOf(body, "")}
}

// gzipped returns the gzip bytes and their ETag, compressing once.
func (v *view) gzipped() ([]byte, string) {
	v.gzOnce.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		zw.Write(v.body)
		zw.Close()
		v.gz = b.Bytes()
		v.gzEtag = etagOf(v.body, "-gz")
	})
	return v.gz, v.gzEtag
}

// etagOf is a strong ETag naming the bytes (and their encoding, so a
// gzip and an identity response never share one).
func etagOf(b []byte, suffix string) string {
	h := sha256.Sum256(b)
	return `"` + base64.RawURLEncoding.EncodeToString(h[:18]) + suffix + `"`
}

// maxViewsPerEntry bounds the base URLs cached per package, so clients
// sending many Host headers cannot grow memory; past it views are rendered
// without being kept.
const maxViewsPerEntry = 8

type viewKey struct {
	base   string
	abbrev bool
}

// entry is a cached package: its parsed document, immutable once cached
// (writers replace the entry), and views rendered from it.
type entry struct {
	doc *packument.Doc

	etagOnce sync.Once
	etags    map[string]string // version -> tarball ETag

	views atomic.Pointer[map[viewKey]*view] // copy on write
	mu    sync.Mutex                        // serializes view additions
}

func (e *entry) view(base string, abbrev bool) *view {
	k := viewKey{base, abbrev}
	if m := e.views.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.views.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	var body []byte
	if abbrev {
		body = e.doc.RenderAbbreviated(base)
	} else {
		body = e.doc.RenderFull(base)
	}
	v := newView(body)
	if old != nil && len(*old) >= maxViewsPerEntry {
		return v
	}
	m := make(map[viewKey]*view, 1+lenOf(old))
	if old != nil {
		for k, x := range *old {
			m[k] = x
		}
	}
	m[k] = v
	e.views.Store(&m)
	return v
}

func lenOf(m *map[viewKey]*view) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// blobCache keeps small immutable tarballs in memory, up to max bytes in
// all; past that, random entries are dropped.
type blobCache struct {
	mu    sync.RWMutex
	m     map[string][]byte
	size  int64
	max   int64
	limit int64 // largest blob kept
}

func (c *blobCache) get(key string) ([]byte, bool) {
	c.mu.RLock()
	b, ok := c.m[key]
	c.mu.RUnlock()
	return b, ok
}

func (c *blobCache) put(key string, b []byte) {
	if int64(len(b)) > c.limit || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string][]byte)
	}
	if old, ok := c.m[key]; ok {
		c.size -= int64(len(old))
	}
	for k, v := range c.m {
		if c.size+int64(len(b)) <= c.max {
			break
		}
		delete(c.m, k)
		c.size -= int64(len(v))
	}
	c.m[key] = b
	c.size += int64(len(b))
}

func (c *blobCache) drop(key string) {
	c.mu.Lock()
	if old, ok := c.m[key]; ok {
		c.size -= int64(len(old))
		delete(c.m, key)
	}
	c.mu.Unlock()
}

// tarballETag returns the strong ETag of a live version's tarball: its
// sha1 (the dist.shasum the registry computed), which names the bytes.
func (e *entry) tarballETag(version string) (string, bool) {
	e.etagOnce.Do(func() {
		e.etags = make(map[string]string, len(e.doc.Versions))
		for v, m := range e.doc.Versions {
			var dist struct {
				Shasum string `json:"shasum"`
			}
			_ = json.Unmarshal(m["dist"], &dist)
			e.etags[v] = `"` + dist.Shasum + `"`
		}
	})
	t, ok := e.etags[version]
	return t, ok
}
