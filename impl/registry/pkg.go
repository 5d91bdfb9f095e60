package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/registry/packument"
	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
)

// abbreviatedType is the media type of the abbreviated packument.
const abbreviatedType = "application/vnd.npm.install-v1+json"

// entry returns the cached package, loading it on a miss. A package that
// is not stored is docs.ErrNotFound; a store that cannot answer is an
// unavailable error (503).
func (s *Server) entry(ctx context.Context, name string) (*entry, error) {
	if e, _, ok := s.docs.Cached(name); ok {
		return e, nil // no store call: no deadline to set up
	}
	ctx, cancel := s.storeCtx(ctx)
	defer cancel()
	e, _, err := s.docs.Get(ctx, name)
	if err != nil {
		return nil, s.storeErr(err)
	}
	return e, nil
}

// writeAttempts bounds the compare-and-swap retries of one write: each
// retry means another replica wrote the package in between.
const writeAttempts = 16

// write runs one read-modify-write of package name. The document store
// serializes writers with compare-and-swap on the document's revision
// (so replicas sharing a store never lose each other's writes); within
// this process writers also take the package's lock, so they do not
// retry against each other. fn gets a private copy of the document (a
// new one, with exists false, when the package is not stored) and
// returns side effects: before runs before the document is stored
// (tarball uploads: a crash between the two leaves an unreferenced
// tarball, never a version without its tarball), after runs once it is
// stored (tarball deletions). After a conflict fn runs again on the
// newer document, so it must not keep state across calls but what it
// returns.
func (s *Server) write(ctx context.Context, name string, fn func(d *packument.Doc, exists bool) (before, after func(context.Context) error, err error)) (*packument.Doc, error) {
	// A publish that got this far is finished even if the client hangs up.
	ctx = context.WithoutCancel(ctx)
	unlock := s.locks.lock(name)
	defer unlock()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		d, after, err := s.writeOnce(ctx, name, attempt > 1, fn)
		if errors.Is(err, docs.ErrConflict) {
			// Another replica wrote the package in between. Under heavy
			// contention a writer can lose many times in a row (the
			// winner's replica goes on with its next writer at once), so
			// the retries are bounded by time, not only by count: at
			// least writeAttempts, and for as long as one store call may
			// take. Past that the conflict is reported as what it is, a
			// transient condition (503, retry later), not a server error.
			if attempt < writeAttempts || time.Since(start) < s.storeWait {
				s.log.Debug("write conflict, retrying", "package", name, "attempt", attempt)
				// A little jitter, so replicas do not retry in lockstep.
				time.Sleep(rand.N(time.Duration(min(attempt, 10)) * time.Millisecond))
				continue
			}
			return nil, &unavailable{fmt.Errorf("write of %s lost to other writers %d times in %v: %w", name, attempt, time.Since(start).Round(time.Millisecond), err)}
		}
		if err != nil {
			return nil, err
		}
		if after != nil {
			actx, cancel := s.storeCtx(ctx)
			err := after(actx)
			cancel()
			if err != nil {
				// The document is stored; a leftover tarball is unreachable.
				s.log.Warn("cleanup after write failed", "package", name, "error", err)
			}
		}
		return d, nil
	}
}

func (s *Server) writeOnce(ctx context.Context, name string, fresh bool, fn func(d *packument.Doc, exists bool) (before, after func(context.Context) error, err error)) (*packument.Doc, func(context.Context) error, error) {
	ctx, cancel := s.storeCtx(ctx)
	defer cancel()
	var (
		e   *entry
		rev docs.Rev
		err error
	)
	if fresh {
		e, rev, err = s.docs.Fresh(ctx, name)
	} else {
		e, rev, err = s.docs.Get(ctx, name)
	}
	var old *packument.Doc
	switch {
	case err == nil:
		old = e.doc
	case errors.Is(err, docs.ErrNotFound):
		rev = ""
	default:
		return nil, nil, s.storeErr(err)
	}
	var d *packument.Doc
	if old != nil {
		d = old.Clone()
	} else {
		d = packument.NewDoc(name)
	}
	before, after, err := fn(d, old != nil)
	if err != nil {
		return nil, nil, err
	}
	if before != nil {
		if err := before(ctx); err != nil {
			return nil, nil, s.storeErr(err)
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.docs.PutValue(ctx, name, b, &entry{doc: d}, rev); err != nil {
		if errors.Is(err, docs.ErrConflict) {
			return nil, nil, err
		}
		return nil, nil, s.storeErr(err)
	}
	s.wrote(old, d)
	return d, after, nil
}

func (c *call) ctx() context.Context { return c.r.Context() }

func (c *call) actor() packument.Actor {
	return packument.Actor{Name: c.id.User, Email: c.id.Email, Admin: c.id.Role == RoleAdmin}
}

// liveEntry loads c.name for reading; on a miss it answers (Fallback or
// 404) and returns nil.
func (c *call) liveEntry() *entry {
	if err := pkgname.Validate(c.name); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return nil
	}
	e, err := c.s.entry(c.ctx(), c.name)
	if err != nil && !errors.Is(err, docs.ErrNotFound) {
		c.failErr(err)
		return nil
	}
	if e == nil || !e.doc.Live() {
		c.miss()
		return nil
	}
	return e
}

// miss answers a read of something not stored here.
func (c *call) miss() {
	if fb := c.s.opts.Fallback; fb != nil && (c.r.Method == http.MethodGet || c.r.Method == http.MethodHead) {
		fb.ServeHTTP(&c.w, c.withIdentity())
		return
	}
	c.fail(http.StatusNotFound, "not found")
}

func (c *call) packument() {
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		c.getPackument()
	case http.MethodPut:
		c.putPackument("")
	default:
		c.methodNotAllowed("GET, HEAD, PUT")
	}
}

func (c *call) cacheControl(immutable bool) string {
	private := c.cfg.FeatureFlags&config.AuthRequired != 0
	switch {
	case immutable && private:
		return "private, max-age=31536000, immutable"
	case immutable:
		return "public, max-age=31536000, immutable"
	case private:
		return "private, no-cache"
	}
	return "public, no-cache"
}

func (c *call) getPackument() {
	e := c.liveEntry()
	if e == nil {
		return
	}
	abbrev := strings.Contains(c.r.Header.Get("Accept"), abbreviatedType)
	if abbrev && c.r.URL.RawQuery != "" && c.r.URL.Query().Get("write") == "true" {
		abbrev = false // writers need the full document and its _rev
	}
	v := e.view(c.s.baseURL(c.r), abbrev)
	body, etag := v.body, v.etag
	h := c.w.Header()
	if c.gzipOK() {
		body, etag = v.gzipped()
		h["Content-Encoding"] = gzipValue
	}
	if abbrev {
		h["Content-Type"] = abbrevCT
	} else {
		h["Content-Type"] = jsonCT
	}
	h["Vary"] = varyValue
	h["Etag"] = []string{etag}
	h["Cache-Control"] = []string{c.cacheControl(false)}
	if etagMatch(c.r.Header.Get("If-None-Match"), etag) {
		c.w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = []string{itoa(len(body))}
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method != http.MethodHead {
		c.w.Write(body)
	}
}

// Header values shared by every response (never modified).
var (
	gzipValue        = []string{"gzip"}
	abbrevCT         = []string{abbreviatedType}
	jsonCT           = []string{"application/json"}
	varyValue        = []string{"Accept, Accept-Encoding"}
	octetCT          = []string{"application/octet-stream"}
	immutablePublic  = []string{"public, max-age=31536000, immutable"}
	immutablePrivate = []string{"private, max-age=31536000, immutable"}
)

// etagMatch implements If-None-Match's weak comparison.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for header != "" {
		var t string
		t, header, _ = strings.Cut(header, ",")
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

func (c *call) versionGET() {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.methodNotAllowed("GET, HEAD")
		return
	}
	e := c.liveEntry()
	if e == nil {
		return
	}
	v := c.version
	if !pkgname.LooksLikeVersion(v) {
		t, ok := e.doc.DistTags[v]
		if !ok {
			c.miss()
			return
		}
		v = t
	}
	if _, ok := e.doc.Versions[v]; !ok {
		c.miss()
		return
	}
	c.raw(http.StatusOK, "application/json", e.doc.RenderVersion(c.s.baseURL(c.r), v))
}

// tarballVersion validates the package name and the tarball file name of
// the request and returns the version the file names; on failure it has
// answered 400.
func (c *call) tarballVersion() (string, bool) {
	if err := pkgname.Validate(c.name); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return "", false
	}
	version, err := pkgname.ParseTarballFile(c.name, c.file)
	if err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return "", false
	}
	return version, true
}

func (c *call) tarball() {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.methodNotAllowed("GET, HEAD")
		return
	}
	version, ok := c.tarballVersion()
	if !ok {
		return
	}
	e, err := c.s.entry(c.ctx(), c.name)
	if err != nil && !errors.Is(err, docs.ErrNotFound) {
		c.failErr(err)
		return
	}
	if e == nil || !e.doc.Live() {
		c.miss()
		return
	}
	etag, ok := e.tarballETag(version)
	if !ok {
		c.miss()
		return
	}
	h := c.w.Header()
	h["Etag"] = []string{etag}
	if c.cfg.FeatureFlags&config.AuthRequired != 0 {
		h["Cache-Control"] = immutablePrivate
	} else {
		h["Cache-Control"] = immutablePublic
	}
	if etagMatch(c.r.Header.Get("If-None-Match"), etag) {
		c.w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = octetCT
	file := c.file // the URL's file is the version's unless the document names another
	if f, ok := e.doc.Blobs[version]; ok {
		file = f
	}
	key := c.name + "/" + file
	if b, ok := c.s.blobs.get(key); ok {
		h["Content-Length"] = []string{itoa(len(b))}
		c.w.WriteHeader(http.StatusOK)
		if c.r.Method != http.MethodHead {
			c.w.Write(b)
		}
		return
	}
	ctx, cancel := c.s.storeCtx(c.ctx())
	defer cancel()
	t, err := c.s.blobStore.Open(ctx, c.name, file)
	if errors.Is(err, blobs.ErrNotFound) {
		c.miss()
		return
	}
	if err != nil {
		c.failErr(c.s.storeErr(err))
		return
	}
	defer t.Close()
	size := t.Size()
	if size <= c.s.blobs.limit && c.s.blobs.max > 0 {
		b := make([]byte, size)
		if _, err := io.ReadFull(t, b); err != nil {
			c.failErr(err)
			return
		}
		c.s.blobs.put(key, b)
		h["Content-Length"] = []string{itoa(len(b))}
		c.w.WriteHeader(http.StatusOK)
		if c.r.Method != http.MethodHead {
			c.w.Write(b)
		}
		return
	}
	h["Content-Length"] = []string{fmt.Sprint(size)}
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method != http.MethodHead {
		io.Copy(&c.w, t)
	}
}

// putPackument handles PUT /NAME (publish, or a metadata change such as
// deprecate) and PUT /NAME/-rev/REV (a metadata change: unpublish of one
// version, owners).
func (c *call) putPackument(rev string) {
	if !c.requireRole(RolePublish) {
		return
	}
	if err := pkgname.ValidateNew(c.name); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	release, ok := c.s.pubSlots.acquire(c.ctx(), publishWait)
	if !ok {
		c.w.Header().Set("Retry-After", itoa(publishRetryAfter))
		c.w.Header().Set("Connection", "close")
		c.fail(http.StatusServiceUnavailable, "too many publishes in progress; retry later")
		return
	}
	defer release()
	var body packument.PublishBody
	if err := c.readJSON(c.s.opts.MaxPublishBytes, &body); err != nil {
		c.failErr(err)
		return
	}
	if body.Name == "" && len(body.Attachments) == 0 {
		body.Name = body.ID // npm owner sends only _id, _rev and maintainers
	}
	if body.Name != c.name {
		c.fail(http.StatusBadRequest, fmt.Sprintf("body name %q does not match the URL's %q", body.Name, c.name))
		return
	}
	if body.ID != "" && body.ID != c.name {
		c.fail(http.StatusBadRequest, fmt.Sprintf("body _id %q does not match the URL's %q", body.ID, c.name))
		return
	}
	now := c.s.now()
	strict := c.cfg.FeatureFlags&config.StrictIntegrity != 0
	a := c.actor()
	if len(body.Attachments) > 0 {
		var pub *packument.Published
		override := a.Admin && c.r.URL.Query().Get("allow-similar") == "true"
		d, err := c.s.write(c.ctx(), c.name, func(d *packument.Doc, exists bool) (func(context.Context) error, func(context.Context) error, error) {
			p, err := d.ApplyPublish(&body, a, now, strict, c.s.tarLimits)
			if err != nil {
				return nil, nil, err
			}
			if !exists {
				// Last, so a refused publish claims nothing.
				if err := c.s.newPackage(c.name, a, override, now); err != nil {
					return nil, nil, err
				}
			}
			if c.s.shared {
				if d.Blobs == nil {
					d.Blobs = map[string]string{}
				}
				p.File = packument.BlobFile(c.name, p.Version, p.Tarball)
				d.Blobs[p.Version] = p.File
			}
			pub = p
			return func(ctx context.Context) error {
				return c.s.blobStore.Put(ctx, c.name, p.File, p.Tarball)
			}, nil, nil
		})
		if err != nil {
			c.failErr(err)
			return
		}
		c.s.log.Info("published", "package", c.name, "version", pub.Version, "user", a.Name, "bytes", len(pub.Tarball))
		c.json(http.StatusCreated, map[string]any{"ok": true, "success": true, "id": c.name, "rev": d.CouchRev()})
		return
	}
	var removed []string
	d, err := c.s.write(c.ctx(), c.name, func(d *packument.Doc, exists bool) (func(context.Context) error, func(context.Context) error, error) {
		if !exists || !d.Live() {
			return nil, nil, packument.Errorf(http.StatusNotFound, "package %q is not published; a publish needs a version and its tarball", c.name)
		}
		if rev != "" && rev != d.CouchRev() {
			return nil, nil, packument.Errorf(http.StatusConflict, "revision %q is not the current one (%s)", rev, d.CouchRev())
		}
		stored := storedFiles(d)
		r, err := d.ApplyMetadata(&body, a, now)
		if err != nil {
			return nil, nil, err
		}
		removed = r
		return nil, c.deleteTarballs(stored, removed), nil
	})
	if err != nil {
		c.failErr(err)
		return
	}
	if len(removed) > 0 {
		c.s.log.Info("unpublished", "package", c.name, "versions", removed, "user", a.Name)
	}
	c.json(http.StatusOK, map[string]any{"ok": true, "id": c.name, "rev": d.CouchRev()})
}

// storedFiles maps each live version of d to its blob file.
func storedFiles(d *packument.Doc) map[string]string {
	m := make(map[string]string, len(d.Versions))
	for v := range d.Versions {
		m[v] = d.StoredFile(v)
	}
	return m
}

// deleteTarballs returns an after-write step removing the tarballs of
// versions (stored maps versions to their files, as before the write).
func (c *call) deleteTarballs(stored map[string]string, versions []string) func(context.Context) error {
	if len(versions) == 0 {
		return nil
	}
	name := c.name
	s := c.s
	return func(ctx context.Context) error {
		var first error
		for _, v := range versions {
			f, ok := stored[v]
			if !ok {
				f = pkgname.TarballFile(name, v)
			}
			s.blobs.drop(name + "/" + f)
			if err := s.blobStore.Delete(ctx, name, f); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
}

func (c *call) packumentRev() {
	switch c.r.Method {
	case http.MethodPut:
		c.putPackument(c.rev)
	case http.MethodDelete:
		c.unpublishAll()
	default:
		c.methodNotAllowed("PUT, DELETE")
	}
}

// unpublishAll handles DELETE /NAME/-rev/REV: every version goes, the
// document stays as a tombstone so no version can be published again.
func (c *call) unpublishAll() {
	if !c.requireRole(RolePublish) {
		return
	}
	if err := pkgname.Validate(c.name); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	now := c.s.now()
	a := c.actor()
	var all []string
	_, err := c.s.write(c.ctx(), c.name, func(d *packument.Doc, exists bool) (func(context.Context) error, func(context.Context) error, error) {
		if !exists || !d.Live() {
			return nil, nil, packument.Errorf(http.StatusNotFound, "package %q is not published", c.name)
		}
		if err := d.CheckWriter(a); err != nil {
			return nil, nil, err
		}
		if c.rev != d.CouchRev() {
			return nil, nil, packument.Errorf(http.StatusConflict, "revision %q is not the current one (%s)", c.rev, d.CouchRev())
		}
		stored := storedFiles(d)
		all = d.UnpublishAll(a, now, nil)
		return nil, c.deleteTarballs(stored, all), nil
	})
	if err != nil {
		c.failErr(err)
		return
	}
	c.s.log.Info("unpublished package", "package", c.name, "versions", all, "user", a.Name)
	c.json(http.StatusOK, map[string]any{"ok": true, "id": c.name})
}

// deleteTarball handles DELETE /NAME/-/FILE/-rev/REV, the last step of
// npm's unpublish of one version (after the version left the packument).
func (c *call) deleteTarball() {
	if c.r.Method != http.MethodDelete {
		c.methodNotAllowed("DELETE")
		return
	}
	if !c.requireRole(RolePublish) {
		return
	}
	version, ok := c.tarballVersion()
	if !ok {
		return
	}
	unlock := c.s.locks.lock(c.name)
	defer unlock()
	ctx, cancel := c.s.storeCtx(c.ctx())
	defer cancel()
	e, _, err := c.s.docs.Fresh(ctx, c.name)
	if errors.Is(err, docs.ErrNotFound) {
		c.fail(http.StatusNotFound, "not found")
		return
	}
	if err != nil {
		c.failErr(c.s.storeErr(err))
		return
	}
	d := e.doc
	if err := d.CheckWriter(c.actor()); err != nil {
		c.failErr(err)
		return
	}
	if _, ok := d.Versions[version]; ok {
		c.fail(http.StatusConflict, fmt.Sprintf("%s@%s is still published; remove it from the packument first", c.name, version))
		return
	}
	// Only the file the URL names: a content-addressed file of a removed
	// version was deleted with the version, and one that is left over is
	// no client's to name.
	c.s.blobs.drop(c.name + "/" + c.file)
	if err := c.s.blobStore.Delete(context.WithoutCancel(ctx), c.name, c.file); err != nil {
		c.failErr(c.s.storeErr(err))
		return
	}
	c.json(http.StatusOK, map[string]any{"ok": true})
}

func (c *call) distTags() {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.methodNotAllowed("GET, HEAD")
		return
	}
	e := c.liveEntry()
	if e == nil {
		return
	}
	c.json(http.StatusOK, e.doc.DistTags)
}

func (c *call) distTag() {
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		e := c.liveEntry()
		if e == nil {
			return
		}
		v, ok := e.doc.DistTags[c.tag]
		if !ok {
			c.fail(http.StatusNotFound, "no such dist-tag")
			return
		}
		c.json(http.StatusOK, v)
		return
	case http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		c.methodNotAllowed("GET, HEAD, PUT, DELETE")
		return
	}
	if !c.requireRole(RolePublish) {
		return
	}
	if err := pkgname.Validate(c.name); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	if err := pkgname.ValidateTag(c.tag); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	del := c.r.Method == http.MethodDelete
	var version string
	if !del {
		if err := c.readJSON(maxSmallBody, &version); err != nil {
			c.failErr(err)
			return
		}
	} else if c.tag == "latest" {
		c.fail(http.StatusBadRequest, "the latest dist-tag cannot be removed")
		return
	}
	now := c.s.now()
	a := c.actor()
	d, err := c.s.write(c.ctx(), c.name, func(d *packument.Doc, exists bool) (func(context.Context) error, func(context.Context) error, error) {
		if !exists || !d.Live() {
			return nil, nil, packument.Errorf(http.StatusNotFound, "package %q is not published", c.name)
		}
		if err := d.CheckWriter(a); err != nil {
			return nil, nil, err
		}
		if del {
			if _, ok := d.DistTags[c.tag]; !ok {
				return nil, nil, packument.Errorf(http.StatusNotFound, "%q is not a dist-tag of %s", c.tag, c.name)
			}
			delete(d.DistTags, c.tag)
		} else {
			if _, ok := d.Versions[version]; !ok {
				return nil, nil, packument.Errorf(http.StatusNotFound, "%s@%s is not published", c.name, version)
			}
			d.DistTags[c.tag] = version
		}
		d.Touch(now)
		return nil, nil, nil
	})
	if err != nil {
		c.failErr(err)
		return
	}
	c.s.log.Info("dist-tag", "package", c.name, "tag", c.tag, "version", version, "delete", del, "user", a.Name)
	status := http.StatusCreated
	if del {
		status = http.StatusOK
	}
	c.json(status, map[string]any{"ok": true, "dist-tags": d.DistTags})
}
