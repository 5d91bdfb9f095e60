package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/registry/pkgname"
)

// Packument is a package document from the upstream, its tarball URLs
// rewritten through TarballURL.
type Packument struct {
	// Body is the JSON document. It is shared with the cache: do not
	// modify it.
	Body []byte
	// ETag is the upstream's entity tag of the document Body was
	// rewritten from ("" if it sent none).
	ETag string
	// Fetched is when the upstream last sent or confirmed Body.
	Fetched time.Time
	// Stale is nil for a copy within PackumentTTL of Fetched. Otherwise
	// the copy is older and Stale says why the upstream was not asked:
	// ErrOffline, or the error of the failed request.
	Stale error
}

// packEntry is replaced, never modified, except for lastUsed.
type packEntry struct {
	pk       Packument
	files    map[string]string // tarball file -> integrity, for Tarball
	expires  time.Time
	retryAt  time.Time // after a failure, served stale without asking until then
	lastUsed atomic.Int64
}

func newEntry(pk Packument, files map[string]string, expires, retryAt, now time.Time) *packEntry {
	e := &packEntry{pk: pk, files: files, expires: expires, retryAt: retryAt}
	e.lastUsed.Store(now.UnixMilli())
	return e
}

// Packument returns the packument of name, from the cache when it is
// fresh, else from the upstream (revalidating a cached copy with
// If-None-Match). Concurrent calls for one name make one request. When the
// upstream cannot be asked and a copy is cached, the copy is returned with
// Stale set and a nil error. An upstream 404 is ErrNotFound.
func (u *Upstream) Packument(ctx context.Context, name string) (Packument, error) {
	now := u.now()
	e := u.cachedPack(name, now)
	if e != nil && now.Before(e.expires) {
		u.cacheHits.Add(1)
		return e.pk, nil
	}
	// Only valid names are cached, so a hit needs no check (and a check
	// costs a hit an allocation).
	if err := pkgname.Validate(name); err != nil {
		return Packument{}, err
	}
	if u.enabled(config.Offline) {
		if e == nil {
			return Packument{}, ErrOffline
		}
		return u.stale(e.pk, ErrOffline), nil
	}
	if e != nil && e.pk.Stale != nil && now.Before(e.retryAt) {
		return u.stale(e.pk, e.pk.Stale), nil
	}
	u.once.Do(u.setup)
	u.misses.Add(1)
	pk, err := flight(u, ctx, "p:"+name, func(ctx context.Context) (Packument, error) {
		return u.fetchPackument(ctx, name)
	})
	if err == nil && pk.Stale != nil {
		u.staleServed.Add(1)
	}
	return pk, err
}

func (u *Upstream) stale(pk Packument, why error) Packument {
	u.staleServed.Add(1)
	pk.Stale = why
	return pk
}

func (u *Upstream) fetchPackument(ctx context.Context, name string) (Packument, error) {
	now := u.now()
	e := u.cachedPack(name, now)
	if e != nil && now.Before(e.expires) {
		return e.pk, nil // a flight that ended as this one began filled it
	}
	req, err := u.get(ctx, "/"+escapeName(name))
	if err != nil {
		return Packument{}, err
	}
	req.Header.Set("Accept", "application/json")
	if e != nil && e.pk.ETag != "" {
		req.Header.Set("If-None-Match", e.pk.ETag)
	}
	resp, err := u.do(req)
	if err != nil {
		return u.packFailure(name, e, err)
	}
	defer resp.Body.Close()
	now = u.now()
	ttl := orDefault(u.PackumentTTL, defaultPackumentTTL)
	switch {
	case resp.StatusCode == http.StatusNotModified && e != nil:
		u.revalidated.Add(1)
		pk := e.pk
		pk.Fetched, pk.Stale = now, nil
		u.storePack(name, newEntry(pk, e.files, now.Add(ttl), time.Time{}, now))
		return pk, nil
	case resp.StatusCode == http.StatusNotFound:
		u.dropPack(name)
		return Packument{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	case resp.StatusCode != http.StatusOK:
		return u.packFailure(name, e, fmt.Errorf("GET %s: %s", req.URL.Redacted(), resp.Status))
	}
	body, err := readBody(resp.Body, orDefault(u.MaxPackumentSize, defaultMaxPackumentSize))
	if err != nil {
		return u.packFailure(name, e, fmt.Errorf("GET %s: %w", req.URL.Redacted(), err))
	}
	body, files, err := rewrite(body, name, u.TarballURL)
	if err != nil {
		return u.packFailure(name, e, fmt.Errorf("GET %s: %w", req.URL.Redacted(), err))
	}
	pk := Packument{Body: body, ETag: resp.Header.Get("ETag"), Fetched: now}
	u.storePack(name, newEntry(pk, files, now.Add(ttl), time.Time{}, now))
	return pk, nil
}

// packFailure serves the cached copy, if any, when the upstream failed, and
// stops asking for FailureBackoff.
func (u *Upstream) packFailure(name string, e *packEntry, err error) (Packument, error) {
	if e == nil {
		return Packument{}, err
	}
	u.logger().Warn("uplink: serving stale packument", "package", name, "fetched", e.pk.Fetched, "err", err)
	pk := e.pk
	pk.Stale = err
	now := u.now()
	retry := now.Add(orDefault(u.FailureBackoff, defaultFailureBackoff))
	u.storePack(name, newEntry(pk, e.files, e.expires, retry, now))
	return pk, nil
}

// cachedPack returns the cache entry of name, or nil, and notes its use.
func (u *Upstream) cachedPack(name string, now time.Time) *packEntry {
	u.mu.RLock()
	e := u.packs[name]
	u.mu.RUnlock()
	if e != nil {
		// Milliseconds are fine for LRU, and skipping equal stores keeps hits
		// on one package from writing its cache line on every core.
		if ms := now.UnixMilli(); e.lastUsed.Load() != ms {
			e.lastUsed.Store(ms)
		}
	}
	return e
}

func (u *Upstream) storePack(name string, e *packEntry) {
	size := int64(len(e.pk.Body))
	max := orDefault(u.MaxCacheBytes, defaultMaxCacheBytes)
	u.mu.Lock()
	defer u.mu.Unlock()
	if old := u.packs[name]; old != nil {
		u.packBytes -= int64(len(old.pk.Body))
		delete(u.packs, name)
	}
	if size > max {
		return // served, never cached
	}
	if u.packs == nil {
		u.packs = make(map[string]*packEntry)
	}
	// Evicting scans the map, but only a fetch that already waited on the
	// network pays for it.
	for u.packBytes+size > max {
		var lru string
		var lruUsed int64
		for k, o := range u.packs {
			if t := o.lastUsed.Load(); lru == "" || t < lruUsed {
				lru, lruUsed = k, t
			}
		}
		if lru == "" {
			break
		}
		u.packBytes -= int64(len(u.packs[lru].pk.Body))
		delete(u.packs, lru)
	}
	u.packs[name] = e
	u.packBytes += size
}

func (u *Upstream) dropPack(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if old := u.packs[name]; old != nil {
		u.packBytes -= int64(len(old.pk.Body))
		delete(u.packs, name)
	}
}

// escapeName is name as a path segment: npm sends @scope%2fpkg.
func escapeName(name string) string {
	if scope, bare, ok := strings.Cut(name, "/"); ok {
		return url.PathEscape(scope) + "%2f" + url.PathEscape(bare)
	}
	return url.PathEscape(name)
}

// rewrite points every versions[*].dist.tarball of body at tarballURL (nil:
// left alone) and returns the integrity of each tarball file. Tarball URLs
// whose file is not NAME-VERSION.tgz for this package are left alone: Tarball
// would refuse them.
func rewrite(body []byte, name string, tarballURL func(name, file string) string) ([]byte, map[string]string, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("packument is not a JSON object: %w", err)
	}
	var versions map[string]map[string]json.RawMessage
	if raw := doc["versions"]; len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &versions); err != nil {
			return nil, nil, fmt.Errorf("packument versions: %w", err)
		}
	}
	files := make(map[string]string, len(versions))
	changed := false
	for _, m := range versions {
		var dist struct {
			Tarball, Integrity, Shasum string
		}
		if json.Unmarshal(m["dist"], &dist) != nil {
			continue
		}
		tu, err := url.Parse(dist.Tarball)
		if err != nil {
			continue
		}
		file := path.Base(tu.Path)
		if _, err := pkgname.ParseTarballFile(name, file); err != nil {
			continue
		}
		files[file] = integrityOf(dist.Integrity, dist.Shasum)
		if tarballURL == nil {
			continue
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(m["dist"], &d); err != nil {
			continue
		}
		if d["tarball"], err = marshal(tarballURL(name, file)); err != nil {
			return nil, nil, err
		}
		if m["dist"], err = marshal(d); err != nil {
			return nil, nil, err
		}
		changed = true
	}
	if !changed {
		return body, files, nil
	}
	var err error
	if doc["versions"], err = marshal(versions); err != nil {
		return nil, nil, err
	}
	out, err := marshal(doc)
	return out, files, err
}

// marshal is json.Marshal without HTML escaping, which would turn & in
// URLs and READMEs into \u0026 for no reader's benefit.
func marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// integrityOf is dist.integrity, or else dist.shasum as a sha1 SRI.
func integrityOf(integrity, shasum string) string {
	if integrity != "" {
		return integrity
	}
	if sum, err := hex.DecodeString(shasum); err == nil && len(sum) == 20 {
		return "sha1-" + base64.StdEncoding.EncodeToString(sum)
	}
	return ""
}
