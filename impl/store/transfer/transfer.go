// Package transfer copies a registry's packages from one pair of stores to
// another: the core of `bun13 registry migrate`, which moves a single-node
// data directory (docs.FS + blobs.FS) into the distributed stores
// (pgdocs + an S3 bucket).
//
// Copy is idempotent and resumable: a package whose document the
// destination already has is left as it is, so running it again after an
// interruption copies only what is missing. For each package it copies
// every live version's tarball first, each one verified against the
// integrity (sha512) or shasum its document records, and the document
// last, so the destination never holds a document whose tarball is
// missing or damaged; a package with a tarball missing or failing its
// check is reported and its document not copied.
package transfer

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
)

// Stores is one side of a copy.
type Stores struct {
	Docs  docs.Store
	Blobs blobs.Store
}

// Summary says what a Copy did.
type Summary struct {
	Packages int // documents copied
	Skipped  int // documents the destination already had
	Tarballs int // tarballs copied
	Bytes    int64
	// Failed maps a package to why it was not copied.
	Failed map[string]string
}

func (s Summary) String() string {
	return fmt.Sprintf("%d packages copied (%d tarballs, %d bytes), %d already there, %d failed",
		s.Packages, s.Tarballs, s.Bytes, s.Skipped, len(s.Failed))
}

// pageSize is how many names Copy lists at a time.
const pageSize = 500

// Copy copies every package of from into to. progress, when not nil, is
// called after each package. The error is for the stores failing
// (listing, reading, writing); a package that cannot be copied because of
// its own content is in Summary.Failed instead.
func Copy(ctx context.Context, from, to Stores, progress func(name string, s Summary)) (Summary, error) {
	sum := Summary{Failed: map[string]string{}}
	after := ""
	for {
		names, err := from.Docs.List(ctx, after, pageSize)
		if err != nil {
			return sum, fmt.Errorf("transfer: list: %w", err)
		}
		for _, name := range names {
			if err := copyOne(ctx, from, to, name, &sum); err != nil {
				return sum, err
			}
			if progress != nil {
				progress(name, sum)
			}
		}
		if len(names) < pageSize {
			return sum, nil
		}
		after = names[len(names)-1]
	}
}

type dist struct {
	Integrity string `json:"integrity"`
	Shasum    string `json:"shasum"`
}

// verify checks data against the hashes a version's dist records.
func verify(data []byte, d dist) error {
	if d.Integrity == "" && d.Shasum == "" {
		return errors.New("no integrity or shasum recorded")
	}
	for _, h := range strings.Fields(d.Integrity) {
		alg, b64, ok := strings.Cut(h, "-")
		if !ok || alg != "sha512" {
			continue
		}
		sum := sha512.Sum512(data)
		if want, err := base64.StdEncoding.DecodeString(b64); err != nil || !bytes.Equal(want, sum[:]) {
			return fmt.Errorf("sha512 does not match %s", h)
		}
		return nil
	}
	if d.Shasum == "" {
		return fmt.Errorf("integrity %q has no sha512 and there is no shasum", d.Integrity)
	}
	sum := sha1.Sum(data)
	if !strings.EqualFold(d.Shasum, hex.EncodeToString(sum[:])) {
		return fmt.Errorf("sha1 does not match shasum %s", d.Shasum)
	}
	return nil
}

// storedDoc is what a copy and a sweep read of a registry document.
type storedDoc struct {
	Versions map[string]struct {
		Dist dist `json:"dist"`
	} `json:"versions"`
	// Blobs names the stored file of a version when it is not its
	// tarball file (a shared registry's content-addressed files).
	Blobs map[string]string `json:"blobs"`
}

func (d *storedDoc) file(name, version string) string {
	if f, ok := d.Blobs[version]; ok {
		return f
	}
	return pkgname.TarballFile(name, version)
}

// Files returns the blob files the registry document raw of package
// name refers to: one per live version.
func Files(name string, raw []byte) ([]string, error) {
	var d storedDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	files := make([]string, 0, len(d.Versions))
	for v := range d.Versions {
		files = append(files, d.file(name, v))
	}
	slices.Sort(files)
	return files, nil
}

func copyOne(ctx context.Context, from, to Stores, name string, sum *Summary) error {
	if _, err := to.Docs.Revision(ctx, name); err == nil {
		sum.Skipped++
		return nil
	} else if !errors.Is(err, docs.ErrNotFound) {
		return fmt.Errorf("transfer: %s: %w", name, err)
	}
	raw, _, err := from.Docs.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("transfer: %s: %w", name, err)
	}
	var d storedDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		sum.Failed[name] = "document is not JSON: " + err.Error()
		return nil
	}
	versions := make([]string, 0, len(d.Versions))
	for v := range d.Versions {
		versions = append(versions, v)
	}
	slices.SortFunc(versions, pkgname.CompareVersions)
	var tarballs int
	var size int64
	for _, v := range versions {
		file := d.file(name, v)
		data, err := read(ctx, from.Blobs, name, file)
		if errors.Is(err, blobs.ErrNotFound) {
			sum.Failed[name] = "tarball " + file + " is missing"
			return nil
		}
		if err != nil {
			return fmt.Errorf("transfer: %s: %w", file, err)
		}
		if err := verify(data, d.Versions[v].Dist); err != nil {
			sum.Failed[name] = "tarball " + file + ": " + err.Error()
			return nil
		}
		if err := to.Blobs.Put(ctx, name, file, data); err != nil {
			return fmt.Errorf("transfer: %s: %w", file, err)
		}
		tarballs++
		size += int64(len(data))
	}
	if _, err := to.Docs.Put(ctx, name, raw, ""); errors.Is(err, docs.ErrConflict) {
		sum.Skipped++ // written by someone else meanwhile: theirs stands
		return nil
	} else if err != nil {
		return fmt.Errorf("transfer: %s: %w", name, err)
	}
	sum.Packages++
	sum.Tarballs += tarballs
	sum.Bytes += size
	return nil
}

func read(ctx context.Context, s blobs.Store, name, file string) ([]byte, error) {
	b, err := s.Open(ctx, name, file)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(b)
}
