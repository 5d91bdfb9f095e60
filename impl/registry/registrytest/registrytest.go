// Package registrytest builds the npm documents and tarballs that tests and benchmarks publish to a registry.
package registrytest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Tarball builds a small npm tarball holding package/package.json.
func Tarball(name, version string, extra ...string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	pj := fmt.Sprintf(`{"name":%q,"version":%q,"main":"index.js"}`, name, version)
	files := map[string]string{"package/package.json": pj, "package/index.js": "module.exports = " + fmt.Sprintf("%q", name+"@"+version) + ";\n"}
	for i := 0; i+1 < len(extra); i += 2 {
		files["package/"+extra[i]] = extra[i+1]
	}
	names := []string{"package/package.json", "package/index.js"}
	for i := 0; i+1 < len(extra); i += 2 {
		names = append(names, "package/"+extra[i])
	}
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Unix(499162500, 0)})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// Integrity returns the sha512 SRI and the sha1 hex shasum of b.
func Integrity(b []byte) (string, string) {
	s512 := sha512.Sum512(b)
	s1 := sha1.Sum(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), hex.EncodeToString(s1[:])
}

// PublishDoc is the body npm PUTs for name@version.
func PublishDoc(name, version string, tgz []byte, tags ...string) map[string]any {
	integ, shasum := Integrity(tgz)
	if len(tags) == 0 {
		tags = []string{"latest"}
	}
	dt := map[string]any{}
	for _, t := range tags {
		dt[t] = version
	}
	return map[string]any{
		"_id":         name,
		"name":        name,
		"description": "test package " + name,
		"dist-tags":   dt,
		"versions": map[string]any{
			version: map[string]any{
				"name": name, "version": version, "description": "test package " + name,
				"main": "index.js", "_id": name + "@" + version,
				"dependencies": map[string]string{},
				"keywords":     []string{"test", "bun13"},
				"dist": map[string]any{
					"integrity": integ, "shasum": shasum,
					"tarball": "http://localhost/" + name + "/-/" + name + "-" + version + ".tgz",
				},
			},
		},
		"access": nil,
		"_attachments": map[string]any{
			name + "-" + version + ".tgz": map[string]any{
				"content_type": "application/octet-stream",
				"data":         base64.StdEncoding.EncodeToString(tgz),
				"length":       len(tgz),
			},
		},
	}
}

// EscapeName is npm's escapedName: @scope%2fname.
func EscapeName(name string) string { return strings.Replace(name, "/", "%2f", 1) }

// Noise is n bytes of incompressible-ish text (base64 of a fixed
// pseudo-random stream), so a tarball's size is what it says.
func Noise(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n*3/4)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return base64.StdEncoding.EncodeToString(b)
}

// DiscardWriter is a reusable ResponseWriter that keeps only the status
// and the byte count, so a benchmark measures the handler and not a
// recorder's buffers.
type DiscardWriter struct {
	HeaderMap http.Header
	Code      int // status; 0 until written
	Bytes     int // body bytes written
}

// NewDiscardWriter returns an empty DiscardWriter.
func NewDiscardWriter() *DiscardWriter { return &DiscardWriter{HeaderMap: http.Header{}} }

func (w *DiscardWriter) Header() http.Header { return w.HeaderMap }
func (w *DiscardWriter) WriteHeader(s int)   { w.Code = s }
func (w *DiscardWriter) Write(b []byte) (int, error) {
	if w.Code == 0 {
		w.Code = 200
	}
	w.Bytes += len(b)
	return len(b), nil
}

// Reset makes w ready for the next request.
func (w *DiscardWriter) Reset() {
	clear(w.HeaderMap)
	w.Code, w.Bytes = 0, 0
}

// Entry is one tar entry of TarballOf.
type Entry struct {
	Name string
	Body string
	Type byte // tar type flag; 0 means a regular file
	Link string
}

// TarballOf builds a gzip-compressed tar of entries, in order, as given
// (no "package/" prefix is added): for tests of odd tarballs.
func TarballOf(entries ...Entry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: 0o644, Size: int64(len(e.Body)), ModTime: time.Unix(499162500, 0), Typeflag: e.Type, Linkname: e.Link}
		if e.Type == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		tw.WriteHeader(h)
		tw.Write([]byte(e.Body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// PublishDocFor is PublishDoc with the manifest's fields replaced or
// added from extra (a nil value removes the field).
func PublishDocFor(name, version string, tgz []byte, extra map[string]any) map[string]any {
	d := PublishDoc(name, version, tgz)
	m := d["versions"].(map[string]any)[version].(map[string]any)
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return d
}
