package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/bun13/bun13/impl/atomicfile"
	"github.com/bun13/bun13/impl/registry/pkgname"
)

// docFile is the name of a package's document inside its directory. It
// cannot collide with a tarball, whose name always ends in ".tgz".
const docFile = "package.json"

// FS stores packages as files under Dir:
//
//	Dir/NAME/package.json          the document
//	Dir/NAME/NAME-VERSION.tgz      tarballs
//	Dir/@SCOPE/NAME/...            the same for scoped packages
//
// Every write goes through atomicfile.Write (temp file, fsync, rename,
// fsync of the directory), and new directories are fsynced into their
// parents, so a crash never leaves a half-written file or a lost one.
type FS struct {
	// Dir is the root directory; it is created on first write.
	Dir string

	mu   sync.Mutex
	made map[string]bool // directories known to exist durably
}

// NewFS returns a backend storing under dir.
func NewFS(dir string) *FS { return &FS{Dir: dir} }

// pkgDir returns the directory of a package after validating its name
// again: a backend never trusts its caller with a path.
func (f *FS) pkgDir(name string) (string, error) {
	if err := pkgname.Validate(name); err != nil {
		return "", err
	}
	return filepath.Join(f.Dir, filepath.FromSlash(name)), nil
}

func (f *FS) tarPath(name, file string) (string, error) {
	dir, err := f.pkgDir(name)
	if err != nil {
		return "", err
	}
	if _, err := pkgname.ParseTarballFile(name, file); err != nil {
		return "", err
	}
	return filepath.Join(dir, file), nil
}

// GetDocument implements Backend.
func (f *FS) GetDocument(_ context.Context, name string) ([]byte, error) {
	dir, err := f.pkgDir(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, docFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return b, err
}

// PutDocument implements Backend.
func (f *FS) PutDocument(_ context.Context, name string, doc []byte) error {
	dir, err := f.pkgDir(name)
	if err != nil {
		return err
	}
	if err := f.mkdir(dir); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, docFile), doc, 0o644)
}

// OpenTarball implements Backend.
func (f *FS) OpenTarball(_ context.Context, name, file string) (Tarball, error) {
	p, err := f.tarPath(name, file)
	if err != nil {
		return nil, err
	}
	fh, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	return fileTarball{fh, st.Size()}, nil
}

type fileTarball struct {
	*os.File
	size int64
}

func (t fileTarball) Size() int64 { return t.size }

// PutTarball implements Backend.
func (f *FS) PutTarball(_ context.Context, name, file string, data []byte) error {
	p, err := f.tarPath(name, file)
	if err != nil {
		return err
	}
	if err := f.mkdir(filepath.Dir(p)); err != nil {
		return err
	}
	return atomicfile.Write(p, data, 0o644)
}

// DeleteTarball implements Backend.
func (f *FS) DeleteTarball(_ context.Context, name, file string) error {
	p, err := f.tarPath(name, file)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(p))
}

// List implements Backend.
func (f *FS) List(_ context.Context) ([]string, error) {
	top, err := os.ReadDir(f.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	has := func(rel string) bool {
		_, err := os.Stat(filepath.Join(f.Dir, filepath.FromSlash(rel), docFile))
		return err == nil
	}
	for _, e := range top {
		if !e.IsDir() {
			continue
		}
		n := e.Name()
		if !strings.HasPrefix(n, "@") {
			if pkgname.Validate(n) == nil && has(n) {
				names = append(names, n)
			}
			continue
		}
		sub, err := os.ReadDir(filepath.Join(f.Dir, n))
		if err != nil {
			return nil, err
		}
		for _, s := range sub {
			full := n + "/" + s.Name()
			if s.IsDir() && pkgname.Validate(full) == nil && has(full) {
				names = append(names, full)
			}
		}
	}
	return names, nil
}

// mkdir creates dir and any missing parents below f.Dir's parent, fsyncing
// each new entry into its parent so the directory survives a crash.
func (f *FS) mkdir(dir string) error {
	f.mu.Lock()
	known := f.made[dir]
	f.mu.Unlock()
	if known {
		return nil
	}
	if err := mkdirDurable(dir); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	f.mu.Lock()
	if f.made == nil {
		f.made = make(map[string]bool)
	}
	f.made[dir] = true
	f.mu.Unlock()
	return nil
}

func mkdirDurable(dir string) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirDurable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return atomicfile.SyncDir(parent)
}
