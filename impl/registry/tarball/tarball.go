// Package tarball opens a published npm tarball (gzip, then tar) as a stream, with bounds, and returns its package.json.
//
// The registry must serve what installs: the manifest a client sends
// beside a tarball is only a claim, and npm, pnpm, yarn and bun install
// the tarball. [Inspect] reads the tarball once, streamed: the gzip
// stream is decompressed through a counter that stops at
// Limits.MaxUnpacked bytes, the tar entries are counted against
// Limits.MaxEntries, and the package.json entry is read into memory only
// up to Limits.MaxManifest bytes. A decompression bomb therefore costs at
// most MaxUnpacked bytes of inflation and no memory beyond the
// decompressor's window.
//
// npm's layout rule is followed: the tarball's first entry names the
// top-level folder (whatever it is called, "package" by convention), and
// the manifest is that folder's package.json. Because installers strip
// the first path component of every entry, an entry in a second
// top-level folder would land beside the first one; such tarballs are
// refused, as are paths with "..", absolute paths, a second package.json
// and a package.json that is not a regular file (npm's extractor skips
// links, so the manifest it installs would be missing).
package tarball

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
)

// Defaults for zero Limits fields.
const (
	DefaultMaxUnpacked = 256 << 20
	DefaultMaxEntries  = 50_000
	DefaultMaxManifest = 1 << 20
)

// Limits bound what Inspect reads. Zero fields get the defaults.
type Limits struct {
	// MaxUnpacked bounds the decompressed bytes (tar headers included).
	MaxUnpacked int64
	// MaxEntries bounds the number of tar entries.
	MaxEntries int
	// MaxManifest bounds the size of the package.json entry.
	MaxManifest int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxUnpacked <= 0 {
		l.MaxUnpacked = DefaultMaxUnpacked
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxManifest <= 0 {
		l.MaxManifest = DefaultMaxManifest
	}
	return l
}

// Info is what Inspect found.
type Info struct {
	// Root is the top-level folder ("package" for every known client).
	Root string
	// Manifest is the raw package.json, without a UTF-8 byte order mark.
	Manifest []byte
	// Entries is the number of tar entries.
	Entries int
	// Unpacked is the sum of the regular files' sizes.
	Unpacked int64
	// Files are the regular files' paths below Root, in tarball order
	// ("index.js", "bin/cli.js").
	Files []string
}

// Has reports whether the tarball holds the regular file p (relative to
// Root).
func (i *Info) Has(p string) bool {
	for _, f := range i.Files {
		if f == p {
			return true
		}
	}
	return false
}

// Error is every refusal of Inspect; its message is meant for the
// publishing client.
type Error struct{ Msg string }

func (e *Error) Error() string { return "tarball: " + e.Msg }

func refuse(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// ErrTooLarge is wrapped by the refusals caused by a bound.
var ErrTooLarge = errors.New("over a bound")

// countReader fails once more than max bytes went through it.
type countReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		// One byte more tells a stream of exactly max from a longer one.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: decompressed size over %d bytes", ErrTooLarge, c.max)
		}
		return 0, err
	}
	if rest := c.max - c.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

var (
	bufPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	gzipPool sync.Pool // *gzip.Reader
)

// Inspect reads the gzip-compressed tar in r and returns its manifest.
func Inspect(r io.Reader, lim Limits) (*Info, error) {
	lim = lim.withDefaults()
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() { br.Reset(nil); bufPool.Put(br) }()
	magic, err := br.Peek(2)
	if err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
		return nil, refuse("not a gzip-compressed tar archive (no gzip header)")
	}
	// The decompressor's state (its 32 KiB window) is reused.
	zr, _ := gzipPool.Get().(*gzip.Reader)
	if zr == nil {
		zr, err = gzip.NewReader(br)
	} else {
		err = zr.Reset(br)
	}
	if err != nil {
		return nil, refuse("not a gzip-compressed tar archive: %v", err)
	}
	defer gzipPool.Put(zr)
	zr.Multistream(false)
	cr := &countReader{r: zr, max: lim.MaxUnpacked}
	tr := tar.NewReader(cr)
	info := &Info{}
	var sawManifest bool
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, wrapRead(err)
		}
		info.Entries++
		if info.Entries > lim.MaxEntries {
			return nil, refuse("%v: more than %d entries", ErrTooLarge, lim.MaxEntries)
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue // git archive's pax_global_header: no file
		}
		name, err := cleanName(h.Name)
		if err != nil {
			return nil, err
		}
		root, rest, _ := strings.Cut(name, "/")
		if info.Root == "" {
			info.Root = root
		} else if root != info.Root {
			return nil, refuse("entry %q is outside the top-level folder %q (installers strip the first path component, so it would overwrite files of the package)", h.Name, info.Root)
		}
		regular := h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA //lint:ignore SA1019 old tars use '\x00'
		if rest == "package.json" {
			if sawManifest {
				return nil, refuse("a second %s/package.json entry", info.Root)
			}
			sawManifest = true
			if !regular {
				return nil, refuse("%s/package.json is not a regular file (type %q)", info.Root, h.Typeflag)
			}
			if h.Size > lim.MaxManifest {
				return nil, refuse("%v: package.json is %d bytes, over %d", ErrTooLarge, h.Size, lim.MaxManifest)
			}
			b, err := io.ReadAll(io.LimitReader(tr, lim.MaxManifest+1))
			if err != nil {
				return nil, wrapRead(err)
			}
			info.Manifest = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		if regular && rest != "" {
			info.Unpacked += h.Size
			if len(info.Files) < lim.MaxEntries {
				info.Files = append(info.Files, rest)
			}
		}
	}
	// Drain what follows the tar end (zero blocks) through the counter,
	// so the gzip trailer and its checksum are verified.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, wrapRead(err)
	}
	if info.Entries == 0 {
		return nil, refuse("the archive is empty")
	}
	if !sawManifest {
		return nil, refuse("no %s/package.json in the top-level folder", info.Root)
	}
	return info, nil
}

func wrapRead(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return refuse("%v", err)
	}
	return refuse("not a valid gzip-compressed tar archive: %v", err)
}

// cleanName normalizes an entry path as node-tar does before extracting
// (strips "./" and duplicate slashes) and refuses paths that climb out.
func cleanName(n string) (string, error) {
	if n == "" {
		return "", refuse("an entry has an empty name")
	}
	if strings.HasPrefix(n, "/") || strings.Contains(n, "\\") || strings.ContainsRune(n, 0) {
		return "", refuse("entry %q has an absolute or unsafe path", n)
	}
	for _, seg := range strings.Split(n, "/") {
		if seg == ".." {
			return "", refuse("entry %q has a '..' segment", n)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", refuse("entry %q names no file", n)
	}
	return c, nil
}
