package proxy

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strings"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/registry/storage"
)

// TarballCache keeps verified tarballs. A tarball is immutable: Put is
// called once per name and file, with bytes that passed their integrity
// check, and must be crash-safe (a reader never sees part of one).
// *storage.FS implements it; OpenTarball reports a missing file as
// storage.ErrNotFound.
type TarballCache interface {
	OpenTarball(ctx context.Context, name, file string) (storage.Tarball, error)
	PutTarball(ctx context.Context, name, file string, data []byte) error
}

// Tarball returns the tarball file (NAME-VERSION.tgz, as in its URL) of
// package name, verified against integrity: an SRI string (dist.integrity)
// or a hex sha1 (dist.shasum). Empty integrity means the one the cached
// packument gives, fetching the packument if needed; a tarball with no
// usable integrity is refused with ErrNoIntegrity. A tarball that does not
// match is refused with ErrIntegrity and neither stored nor returned.
// Stored tarballs are served from Tarballs, checked again when integrity is
// known. Concurrent calls for one file make one request.
func (u *Upstream) Tarball(ctx context.Context, name, file, integrity string) ([]byte, error) {
	if err := pkgname.Validate(name); err != nil {
		return nil, err
	}
	if _, err := pkgname.ParseTarballFile(name, file); err != nil {
		return nil, err
	}
	if integrity == "" {
		integrity = u.knownIntegrity(name, file)
	}
	if data := u.storedTarball(ctx, name, file, integrity); data != nil {
		u.cacheHits.Add(1)
		return data, nil
	}
	if u.enabled(config.Offline) {
		return nil, ErrOffline
	}
	if integrity == "" {
		if _, err := u.Packument(ctx, name); err != nil {
			return nil, fmt.Errorf("integrity of %s: %w", file, err)
		}
		if integrity = u.knownIntegrity(name, file); integrity == "" {
			return nil, fmt.Errorf("%w: the packument of %s gives none for %s", ErrNoIntegrity, name, file)
		}
	}
	u.once.Do(u.setup)
	u.misses.Add(1)
	return flight(u, ctx, "t:"+name+"/"+file+" "+integrity, func(ctx context.Context) ([]byte, error) {
		return u.fetchTarball(ctx, name, file, integrity)
	})
}

// knownIntegrity looks file up in the cached packument of name, fresh or
// not: a version's integrity never changes.
func (u *Upstream) knownIntegrity(name, file string) string {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if e := u.packs[name]; e != nil {
		return e.files[file]
	}
	return ""
}

// storedTarball returns the stored tarball, or nil when there is none that
// can be served.
func (u *Upstream) storedTarball(ctx context.Context, name, file, integrity string) []byte {
	if u.Tarballs == nil {
		return nil
	}
	f, err := u.Tarballs.OpenTarball(ctx, name, file)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			u.logger().Warn("uplink: reading stored tarball", "package", name, "file", file, "err", err)
		}
		return nil
	}
	defer f.Close()
	data, err := readBody(f, orDefault(u.MaxTarballSize, defaultMaxTarballSize))
	if err != nil {
		u.logger().Warn("uplink: reading stored tarball", "package", name, "file", file, "err", err)
		return nil
	}
	if integrity != "" {
		if err := u.verify(data, integrity); err != nil {
			// Disk corruption, or a tarball stored under an older rule:
			// fetching again replaces it.
			u.logger().Error("uplink: stored tarball fails its integrity, fetching it again", "package", name, "file", file, "err", err)
			return nil
		}
	}
	return data
}

func (u *Upstream) fetchTarball(ctx context.Context, name, file, integrity string) ([]byte, error) {
	// The public registry's layout; the scope's slash stays a slash here.
	p := "/" + strings.ReplaceAll(escapeName(name), "%2f", "/") + "/-/" + url.PathEscape(file)
	req, err := u.get(ctx, p)
	if err != nil {
		return nil, err
	}
	resp, err := u.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, req.URL.Redacted())
	default:
		return nil, fmt.Errorf("GET %s: %s", req.URL.Redacted(), resp.Status)
	}
	data, err := readBody(resp.Body, orDefault(u.MaxTarballSize, defaultMaxTarballSize))
	if err != nil {
		err = fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)
		u.recordFailure(err)
		return nil, err
	}
	if err := u.verify(data, integrity); err != nil {
		err = fmt.Errorf("%s from %s: %w", file, req.URL.Redacted(), err)
		u.recordFailure(err)
		u.logger().Error("uplink: refusing tarball", "package", name, "file", file, "err", err)
		return nil, err
	}
	if u.Tarballs != nil {
		if err := u.Tarballs.PutTarball(ctx, name, file, data); err != nil {
			// The bytes are verified: serve them, and fetch again next time.
			u.logger().Warn("uplink: storing tarball", "package", name, "file", file, "err", err)
		}
	}
	return data, nil
}

func (u *Upstream) verify(data []byte, integrity string) error {
	return verify(data, integrity, u.enabled(config.StrictIntegrity))
}

// algs are the SRI algorithms npm uses, weakest first.
var algs = []struct {
	name string
	new  func() hash.Hash
	size int
}{
	{"sha1", sha1.New, sha1.Size},
	{"sha256", sha256.New, sha256.Size},
	{"sha384", sha512.New384, sha512.Size384},
	{"sha512", sha512.New, sha512.Size},
}

// verify checks data against integrity: SRI (space-separated ALG-BASE64
// with optional ?options; the strongest algorithm present decides, any of
// its hashes may match, as the SRI spec says) or a 40-digit hex sha1.
// strict refuses an integrity whose strongest hash is sha1.
func verify(data []byte, integrity string, strict bool) error {
	if sum, err := hex.DecodeString(integrity); err == nil && len(sum) == sha1.Size {
		integrity = "sha1-" + base64.StdEncoding.EncodeToString(sum)
	}
	best := -1
	var wants [][]byte
	for _, tok := range strings.Fields(integrity) {
		name, b64, ok := strings.Cut(tok, "-")
		if !ok {
			continue
		}
		b64, _, _ = strings.Cut(b64, "?")
		for i, a := range algs {
			if a.name != name {
				continue
			}
			sum, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || len(sum) != a.size || i < best {
				break
			}
			if i > best {
				best, wants = i, wants[:0]
			}
			wants = append(wants, sum)
		}
	}
	if best < 0 {
		return fmt.Errorf("%w: %q", ErrNoIntegrity, integrity)
	}
	if strict && algs[best].name == "sha1" {
		return ErrWeakIntegrity
	}
	h := algs[best].new()
	h.Write(data)
	got := h.Sum(nil)
	for _, w := range wants {
		if subtle.ConstantTimeCompare(w, got) == 1 {
			return nil
		}
	}
	return fmt.Errorf("%w: want %s, got %s-%s", ErrIntegrity, integrity, algs[best].name, base64.StdEncoding.EncodeToString(got))
}
