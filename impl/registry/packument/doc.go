// Package packument is the registry's package document: the stored form
// of a package ([Doc]: versions, dist-tags, times, maintainers, tarball
// sizes and blob files, the unpublished tombstone), the rules a publish
// or a metadata change must follow ([Doc.ApplyPublish] checks the
// manifest against the tarball's own package.json, the integrity, the
// no-republish rule; [Doc.ApplyMetadata] deprecations, unpublishes,
// owners), and the packuments rendered from it for a base URL (full,
// abbreviated, one version). Refusals are [Error]s carrying the HTTP
// status the client gets. It knows nothing of HTTP routing, storage or
// caches: package registry serves it, package store/docs keeps its
// bytes.
package packument

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bun13/bun13/impl/registry/pkgname"
	tarcheck "github.com/bun13/bun13/impl/registry/tarball"
)

// Person is a maintainer or publisher as npm writes them.
type Person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Manifest is one version's package.json as published, field by field, so
// fields the registry does not know survive untouched.
type Manifest map[string]json.RawMessage

// Doc is the stored form of a package. It is not the packument: the
// packument is rendered from it per base URL (tarball URLs point at the
// server the client talks to).
type Doc struct {
	Name     string              `json:"name"`
	Rev      int64               `json:"rev"`
	DistTags map[string]string   `json:"dist-tags"`
	Versions map[string]Manifest `json:"versions"`
	// Time holds "created", "modified" and one entry per version ever
	// published. A version's entry stays after it is unpublished: that
	// tombstone is what refuses a second publish of the same version, as
	// the public registry does.
	Time        map[string]string `json:"time"`
	Maintainers []Person          `json:"maintainers"`
	// Readme is the latest publish's readme, shown at the top of the
	// packument; versions do not repeat it (as on the public registry).
	Readme         string `json:"readme,omitempty"`
	ReadmeFilename string `json:"readmeFilename,omitempty"`
	// Sizes is the tarball size of each live version, for metrics.
	Sizes map[string]int64 `json:"sizes,omitempty"`
	// Blobs names, per live version, the file its tarball is stored
	// under when that is not the file its URL names
	// (pkgname.TarballFile): replicas sharing a blob store write
	// content-addressed files (see blobFile), so two replicas racing to
	// publish one version never overwrite each other's bytes.
	Blobs map[string]string `json:"blobs,omitempty"`
	// Unpublished is set when the whole package was unpublished; the
	// document stays as a tombstone and GETs answer 404.
	Unpublished *Unpublished `json:"unpublished,omitempty"`
}

type Unpublished struct {
	Time     string   `json:"time"`
	Versions []string `json:"versions"`
	By       string   `json:"by,omitempty"`
}

// timeFormat is the public registry's timestamp format.
const timeFormat = "2006-01-02T15:04:05.000Z"

func Stamp(t time.Time) string { return t.UTC().Format(timeFormat) }

func NewDoc(name string) *Doc {
	return &Doc{
		Name:     name,
		DistTags: map[string]string{},
		Versions: map[string]Manifest{},
		Time:     map[string]string{},
		Sizes:    map[string]int64{},
	}
}

func ParseDoc(b []byte) (*Doc, error) {
	d := new(Doc)
	if err := json.Unmarshal(b, d); err != nil {
		return nil, err
	}
	if d.DistTags == nil {
		d.DistTags = map[string]string{}
	}
	if d.Versions == nil {
		d.Versions = map[string]Manifest{}
	}
	if d.Time == nil {
		d.Time = map[string]string{}
	}
	if d.Sizes == nil {
		d.Sizes = map[string]int64{}
	}
	return d, nil
}

// Clone returns a deep enough copy for a writer to modify: maps and slices
// are new, manifests are copied field by field (raw values are never
// modified in place).
func (d *Doc) Clone() *Doc {
	c := *d
	c.DistTags = cloneMap(d.DistTags)
	c.Time = cloneMap(d.Time)
	c.Sizes = cloneMap(d.Sizes)
	if d.Blobs != nil {
		c.Blobs = cloneMap(d.Blobs)
	}
	c.Maintainers = slices.Clone(d.Maintainers)
	c.Versions = make(map[string]Manifest, len(d.Versions))
	for v, m := range d.Versions {
		c.Versions[v] = cloneMap(m)
	}
	if d.Unpublished != nil {
		u := *d.Unpublished
		c.Unpublished = &u
	}
	return &c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// StoredFile is the blob file holding version's tarball.
func (d *Doc) StoredFile(version string) string {
	if f, ok := d.Blobs[version]; ok {
		return f
	}
	return pkgname.TarballFile(d.Name, version)
}

// BlobFile is the content-addressed file a shared blob store keeps a
// tarball of name@version under: the tarball file with build metadata
// naming its sha512 appended to the version ("foo-1.0.0+bun13-0c5b...
// .tgz"), still a valid tarball file name for the blob store's checks,
// and never the file a client asks for, so only the document leads to
// it.
func BlobFile(name, version string, tgz []byte) string {
	sum := sha512.Sum512(tgz)
	sep := "+"
	if strings.Contains(version, "+") {
		sep = "."
	}
	return pkgname.TarballFile(name, version+sep+"bun13-"+hex.EncodeToString(sum[:16]))
}

// CouchRev is the CouchDB-style revision npm echoes back in /-CouchRev/ URLs.
func (d *Doc) CouchRev() string {
	h := sha256.Sum256([]byte(d.Name + "\x00" + strconv.FormatInt(d.Rev, 10) + "\x00" + d.Time["modified"]))
	return strconv.FormatInt(d.Rev, 10) + "-" + hex.EncodeToString(h[:16])
}

// Live reports whether the package has a version to serve.
func (d *Doc) Live() bool { return d.Unpublished == nil && len(d.Versions) > 0 }

// SortedVersions lists the live versions in semver order.
func (d *Doc) SortedVersions() []string {
	vs := make([]string, 0, len(d.Versions))
	for v := range d.Versions {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, pkgname.CompareVersions)
	return vs
}

// everPublished reports whether version v was published at some time,
// even if it was unpublished since.
func (d *Doc) everPublished(v string) bool {
	if _, ok := d.Versions[v]; ok {
		return true
	}
	_, ok := d.Time[v]
	if ok {
		return true
	}
	if d.Unpublished != nil {
		return slices.Contains(d.Unpublished.Versions, v)
	}
	return false
}

// sameVersion returns a version ever published that equals v once build
// metadata is ignored ("1.0.0" for "1.0.0+rebuilt"), or "".
func (d *Doc) sameVersion(v string) string {
	core := stripBuild(v)
	for old := range d.Time {
		if old != "created" && old != "modified" && old != v && stripBuild(old) == core {
			return old
		}
	}
	for old := range d.Versions {
		if old != v && stripBuild(old) == core {
			return old
		}
	}
	if d.Unpublished != nil {
		for _, old := range d.Unpublished.Versions {
			if old != v && stripBuild(old) == core {
				return old
			}
		}
	}
	return ""
}

func stripBuild(v string) string {
	v, _, _ = strings.Cut(v, "+")
	return v
}

// IsMaintainer reports whether user may write to the package.
func (d *Doc) IsMaintainer(user string) bool {
	for _, m := range d.Maintainers {
		if m.Name == user {
			return true
		}
	}
	return false
}

// fixLatest points "latest" at the highest non-prerelease live version
// (or the highest version) when it is missing or dangling, and drops tags
// that point at versions no longer served.
func (d *Doc) fixLatest() {
	for t, v := range d.DistTags {
		if _, ok := d.Versions[v]; !ok {
			delete(d.DistTags, t)
		}
	}
	if _, ok := d.DistTags["latest"]; ok || len(d.Versions) == 0 {
		return
	}
	vs := d.SortedVersions()
	best := vs[len(vs)-1]
	for i := len(vs) - 1; i >= 0; i-- {
		if !strings.Contains(strings.SplitN(vs[i], "+", 2)[0], "-") {
			best = vs[i]
			break
		}
	}
	d.DistTags["latest"] = best
}

// Touch bumps the revision and the modified time.
func (d *Doc) Touch(now time.Time) {
	d.Rev++
	ts := Stamp(now)
	if d.Time["created"] == "" {
		d.Time["created"] = ts
	}
	d.Time["modified"] = ts
}

// Error is an error with the HTTP status the client gets and a message
// for the {"error": ...} body.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// PublishBody is what npm PUTs to /NAME: a packument fragment with one
// version and its tarball as a base64 attachment, or (without
// attachments) a whole packument carrying metadata changes.
type PublishBody struct {
	ID          string                 `json:"_id"`
	Name        string                 `json:"name"`
	Rev         string                 `json:"_rev"`
	DistTags    map[string]string      `json:"dist-tags"`
	Versions    map[string]Manifest    `json:"versions"`
	Attachments map[string]*Attachment `json:"_attachments"`
	Maintainers []Person               `json:"maintainers"`
}

type Attachment struct {
	ContentType string `json:"content_type"`
	Data        string `json:"data"`
	Length      *int64 `json:"length"`
}

// Published is the outcome of a publish: what to store.
type Published struct {
	Version string
	File    string
	Tarball []byte
}

// Actor is who makes a write.
type Actor struct {
	Name  string
	Email string
	Admin bool
}

// CheckWriter refuses a write to an existing package by someone who is
// neither a maintainer nor an admin.
func (d *Doc) CheckWriter(a Actor) error {
	if a.Admin || len(d.Maintainers) == 0 || d.IsMaintainer(a.Name) {
		return nil
	}
	return Errorf(http.StatusForbidden, "user %q is not a maintainer of %q", a.Name, d.Name)
}

// ApplyPublish checks a publish body against d and adds its version. d is
// a private copy; nothing is stored here.
func (d *Doc) ApplyPublish(body *PublishBody, a Actor, now time.Time, strict bool, lim tarcheck.Limits) (*Published, error) {
	if err := d.CheckWriter(a); err != nil {
		return nil, err
	}
	if len(body.Versions) != 1 {
		return nil, Errorf(http.StatusBadRequest, "a publish must carry exactly one version, got %d", len(body.Versions))
	}
	if len(body.Attachments) != 1 {
		return nil, Errorf(http.StatusBadRequest, "a publish must carry exactly one attachment, got %d", len(body.Attachments))
	}
	var version string
	var m Manifest
	for v, mm := range body.Versions {
		version, m = v, mm
	}
	if err := pkgname.ValidateVersion(version); err != nil {
		return nil, Errorf(http.StatusBadRequest, "%v", err)
	}
	if m == nil {
		return nil, Errorf(http.StatusBadRequest, "version %q has no manifest", version)
	}
	if got := RawString(m["name"]); got != d.Name {
		return nil, Errorf(http.StatusBadRequest, "manifest name %q does not match package %q", got, d.Name)
	}
	if got := RawString(m["version"]); got != version {
		return nil, Errorf(http.StatusBadRequest, "manifest version %q does not match %q", got, version)
	}
	if d.everPublished(version) {
		return nil, Errorf(http.StatusForbidden, "cannot publish over the previously published version %s@%s", d.Name, version)
	}
	if old := d.sameVersion(version); old != "" {
		return nil, Errorf(http.StatusForbidden, "cannot publish %s@%s: it is the previously published version %s with other build metadata (semver and npm treat them as one version)", d.Name, version, old)
	}

	file := pkgname.TarballFile(d.Name, version)
	var att *Attachment
	for k, v := range body.Attachments {
		// npm names it NAME-VERSION.tgz with the full (scoped) name; the
		// bare form is what other clients and the public registry's
		// storage use. Nothing else is accepted.
		if k != d.Name+"-"+version+".tgz" && k != file {
			return nil, Errorf(http.StatusBadRequest, "attachment %q does not match %s", k, d.Name+"-"+version+".tgz")
		}
		att = v
	}
	if att == nil || att.Data == "" {
		return nil, Errorf(http.StatusBadRequest, "attachment has no data")
	}
	tgz, err := base64.StdEncoding.Strict().DecodeString(att.Data)
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "attachment is not valid base64: %v", err)
	}
	if len(tgz) == 0 {
		return nil, Errorf(http.StatusBadRequest, "attachment is empty")
	}
	if att.Length != nil && *att.Length != int64(len(tgz)) {
		return nil, Errorf(http.StatusBadRequest, "attachment length %d does not match its %d bytes", *att.Length, len(tgz))
	}

	dist, err := checkDist(m["dist"], tgz, strict)
	if err != nil {
		return nil, err
	}
	own, err := fromTarball(d.Name, version, m, tgz, lim)
	if err != nil {
		return nil, err
	}

	// Tags in the body must name the version being published.
	tags := map[string]string{}
	for t, v := range body.DistTags {
		if err := pkgname.ValidateTag(t); err != nil {
			return nil, Errorf(http.StatusBadRequest, "%v", err)
		}
		if v != version {
			return nil, Errorf(http.StatusBadRequest, "dist-tag %q points at %q, not the published version %q", t, v, version)
		}
		tags[t] = v
	}

	out := cloneMap(m)
	out["dist"] = dist
	out["_id"] = RawJSON(d.Name + "@" + version)
	who, _ := json.Marshal(Person{Name: a.Name, Email: a.Email})
	out["_npmUser"] = who
	delete(out, "_attachments")
	delete(out, "_rev")
	for k, v := range own {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(d.Maintainers) == 0 {
		d.Maintainers = []Person{{Name: a.Name, Email: a.Email}}
	}
	maint, _ := json.Marshal(d.Maintainers)
	out["maintainers"] = maint

	readme, readmeFile := RawString(out["readme"]), RawString(out["readmeFilename"])
	delete(out, "readme")
	delete(out, "readmeFilename")

	d.Unpublished = nil
	d.Versions[version] = out
	d.Sizes[version] = int64(len(tgz))
	d.Touch(now)
	d.Time[version] = d.Time["modified"]
	for t, v := range tags {
		d.DistTags[t] = v
	}
	d.fixLatest()
	if readme != "" && (d.DistTags["latest"] == version || d.Readme == "") {
		d.Readme, d.ReadmeFilename = readme, readmeFile
	}
	return &Published{Version: version, File: file, Tarball: tgz}, nil
}

// checkDist verifies the client's integrity and shasum against the
// tarball and returns the dist object to store: the client's extra fields
// (fileCount, unpackedSize, signatures...) with integrity and shasum as
// computed here, and without tarball (rendered per base URL).
func checkDist(raw json.RawMessage, tgz []byte, strict bool) (json.RawMessage, error) {
	dist := map[string]json.RawMessage{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &dist); err != nil {
			return nil, Errorf(http.StatusBadRequest, "dist is not an object")
		}
	}
	s512 := sha512.Sum512(tgz)
	s1 := sha1.Sum(tgz)
	integrity := "sha512-" + base64.StdEncoding.EncodeToString(s512[:])
	shasum := hex.EncodeToString(s1[:])

	claimed := RawString(dist["integrity"])
	hasSHA512 := false
	if claimed != "" {
		for _, h := range strings.Fields(claimed) {
			alg, sum, ok := strings.Cut(h, "-")
			if !ok {
				return nil, Errorf(http.StatusBadRequest, "dist.integrity %q is not ALG-BASE64", h)
			}
			// Drop SRI options ("?opt").
			sum, _, _ = strings.Cut(sum, "?")
			want, ok := digest(alg, tgz)
			if !ok {
				continue // unknown algorithms are ignored, as SRI says
			}
			got, err := base64.StdEncoding.DecodeString(sum)
			if err != nil || !bytes.Equal(got, want) {
				return nil, Errorf(http.StatusBadRequest, "dist.integrity %s does not match the tarball (%s)", h, integrity)
			}
			if alg == "sha512" {
				hasSHA512 = true
			}
		}
	}
	if strict && !hasSHA512 {
		return nil, Errorf(http.StatusBadRequest, "STRICT_INTEGRITY: dist.integrity must carry a sha512 hash")
	}
	if s := RawString(dist["shasum"]); s != "" && !strings.EqualFold(s, shasum) {
		return nil, Errorf(http.StatusBadRequest, "dist.shasum %s does not match the tarball (%s)", s, shasum)
	}
	delete(dist, "tarball")
	dist["integrity"] = RawJSON(integrity)
	dist["shasum"] = RawJSON(shasum)
	b, _ := json.Marshal(dist)
	return b, nil
}

func digest(alg string, b []byte) ([]byte, bool) {
	switch alg {
	case "sha512":
		s := sha512.Sum512(b)
		return s[:], true
	case "sha384":
		s := sha512.Sum384(b)
		return s[:], true
	case "sha256":
		s := sha256.Sum256(b)
		return s[:], true
	case "sha1":
		s := sha1.Sum(b)
		return s[:], true
	}
	return nil, false
}

// ApplyMetadata applies a packument PUT without attachments: what npm
// sends to deprecate (versions with "deprecated" set or cleared), to
// unpublish one version (the packument minus that version, at /-rev/REV)
// and to change owners (maintainers). Versions missing from the body are
// unpublished; no version may be added; other fields are ignored. It
// returns the versions removed.
func (d *Doc) ApplyMetadata(body *PublishBody, a Actor, now time.Time) ([]string, error) {
	if err := d.CheckWriter(a); err != nil {
		return nil, err
	}
	if len(body.Attachments) != 0 {
		return nil, Errorf(http.StatusBadRequest, "attachments are only allowed when publishing one new version")
	}
	for v := range body.Versions {
		if _, ok := d.Versions[v]; !ok {
			return nil, Errorf(http.StatusBadRequest, "version %q is not published; a new version needs its tarball attached", v)
		}
	}
	var removed []string
	// A body without "versions" changes no version (a client sending only
	// maintainers must not unpublish everything by omission).
	for _, v := range d.SortedVersions() {
		if body.Versions == nil {
			break
		}
		bm, ok := body.Versions[v]
		if !ok {
			removed = append(removed, v)
			delete(d.Versions, v)
			delete(d.Sizes, v)
			delete(d.Blobs, v)
			continue
		}
		if bm == nil {
			continue
		}
		// deprecate: a non-empty message sets it, "" clears it.
		m := cloneMap(d.Versions[v])
		if raw, ok := bm["deprecated"]; ok {
			var msg string
			if json.Unmarshal(raw, &msg) != nil {
				return nil, Errorf(http.StatusBadRequest, "versions[%q].deprecated must be a string", v)
			}
			if msg == "" {
				delete(m, "deprecated")
			} else {
				m["deprecated"] = RawJSON(msg)
			}
		} else {
			delete(m, "deprecated")
		}
		d.Versions[v] = m
	}
	if body.DistTags != nil {
		tags := map[string]string{}
		for t, v := range body.DistTags {
			if err := pkgname.ValidateTag(t); err != nil {
				return nil, Errorf(http.StatusBadRequest, "%v", err)
			}
			if _, ok := d.Versions[v]; !ok {
				continue // a tag of a removed version goes with it
			}
			tags[t] = v
		}
		d.DistTags = tags
	}
	if len(body.Maintainers) > 0 && !samePeople(body.Maintainers, d.Maintainers) {
		seen := map[string]bool{}
		var ms []Person
		for _, p := range body.Maintainers {
			if err := pkgname.ValidateUser(p.Name); err != nil {
				return nil, Errorf(http.StatusBadRequest, "maintainer: %v", err)
			}
			if !seen[p.Name] {
				seen[p.Name] = true
				ms = append(ms, Person{Name: p.Name, Email: p.Email})
			}
		}
		d.Maintainers = ms
	}
	if len(d.Versions) == 0 {
		d.UnpublishAll(a, now, removed)
		return removed, nil
	}
	d.fixLatest()
	d.Touch(now)
	return removed, nil
}

func samePeople(a, b []Person) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// UnpublishAll turns d into a tombstone. removed lists versions already
// taken out by the caller.
func (d *Doc) UnpublishAll(a Actor, now time.Time, removed []string) []string {
	all := append(removed, d.SortedVersions()...)
	slices.SortFunc(all, pkgname.CompareVersions)
	d.Versions = map[string]Manifest{}
	d.DistTags = map[string]string{}
	d.Sizes = map[string]int64{}
	d.Blobs = nil
	d.Touch(now)
	d.Unpublished = &Unpublished{Time: d.Time["modified"], Versions: all, By: a.Name}
	return all
}

// RawString returns the string a raw JSON value holds, or "".
func RawString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func RawJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
