package lockfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bun13/bun13/impl/atomicfile"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/confighistory"
)

// ReadFile reads and decodes the lockfile at path.
func ReadFile(path string) (*Lockfile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

// Every writer below holds the lockfile's lock (atomicfile.Lock) for its
// whole read-modify-write, and under it first removes the temp files of
// writers killed before they renamed theirs into place: every writer of
// the lockfile takes the lock, so a temp of it found under the lock
// belongs to a dead writer. Every change of the config is appended to the
// history sidecar (impl/confighistory) under the same lock.

// HistoryPath is the history sidecar of the lockfile at path: beside the
// file path resolves to, where its writers record.
func HistoryPath(path string) string { return confighistory.PathFor(resolve(path)) }

// resolve follows symlinks, so that a write replaces the file a link
// points to rather than the link, and every writer locks the same lock
// file however it names the lockfile. A path that does not resolve (not
// there yet) is used as given.
func resolve(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return path
}

// lock takes the lockfile's lock and sweeps the dead writers' temps.
func lock(path string) (func() error, error) {
	unlock, err := atomicfile.Lock(path)
	if err != nil {
		return nil, err
	}
	// Best effort: a temp left is only litter. The history is rewritten
	// under the same lock, so its temps are dead writers' too.
	atomicfile.RemoveTemps(path)
	atomicfile.RemoveTemps(confighistory.PathFor(path))
	return unlock, nil
}

// record appends the config change to the history, just before the
// lockfile is replaced (so a watcher woken by the rename finds the record
// that names the change's source); a writer killed between the two leaves
// a record of a valid config the file did not get, which is harmless. A
// failure to record never fails the write (the history is advisory).
func record(path, source string, old *config.Config, c config.Config) {
	if old != nil && *old == c {
		return
	}
	confighistory.Append(confighistory.PathFor(path), time.Now(), source, old, c)
}

// WriteFile encodes lf and replaces path with it crash-safely, holding the
// lockfile's lock so no other writer interleaves.
func WriteFile(path string, lf *Lockfile) error {
	path = resolve(path)
	b, err := Encode(lf)
	if err != nil {
		return err
	}
	unlock, err := lock(path)
	if err != nil {
		return err
	}
	defer unlock()
	var old *config.Config
	if prev, err := ReadFile(path); err == nil {
		old = &prev.Config
	}
	record(path, "import", old, lf.Config)
	return atomicfile.Write(path, b, 0o644)
}

// Update reads the lockfile at path, applies fn and writes the result, all
// under the lockfile's lock, so concurrent read-modify-write cycles from any
// number of goroutines or processes serialize and none is lost. If fn or
// any step fails the file is left as it was. A change of the config is
// recorded in the history with source "other"; UpdateFrom names it.
func Update(path string, fn func(*Lockfile) error) (*Lockfile, error) {
	return UpdateFrom(path, "other", fn)
}

// UpdateFrom is Update recording source in the history.
func UpdateFrom(path, source string, fn func(*Lockfile) error) (*Lockfile, error) {
	path = resolve(path)
	unlock, err := lock(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lf, err := Decode(b)
	if err != nil {
		return nil, &decodeError{err}
	}
	old := lf.Config
	if err := fn(lf); err != nil {
		return nil, err
	}
	out, err := Encode(lf)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(out, b) {
		return lf, nil // nothing changed: no write, no event, no record
	}
	record(path, source, &old, lf.Config)
	if err := atomicfile.Write(path, out, 0o644); err != nil {
		return nil, err
	}
	return lf, nil
}

// ReplaceFunc rewrites the whole file under the lock: fn gets the file's
// current bytes (which may be invalid: repair uses it) and returns the
// new ones, which must decode. The config change is recorded with source.
// An error from fn leaves the file as it was.
func ReplaceFunc(path, source string, fn func(cur []byte) ([]byte, error)) error {
	path = resolve(path)
	unlock, err := lock(path)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	b, err := fn(cur)
	if err != nil {
		return err
	}
	lf, err := Decode(b)
	if err != nil {
		return fmt.Errorf("refusing to write an invalid lockfile: %w", err)
	}
	var old *config.Config
	if h, err := DecodeHeader(cur); err == nil {
		old = &h.Config
	}
	record(path, source, old, lf.Config)
	return atomicfile.Write(path, b, 0o644)
}

// ErrExists is returned by Create when the file is already there.
var ErrExists = errors.New("lockfile already exists")

// Create writes a new lockfile holding c and no packages. It refuses to
// replace an existing file unless force is set.
func Create(path string, c config.Config, force bool) error {
	path = resolve(path)
	lf := &Lockfile{Config: c}
	b, err := Encode(lf)
	if err != nil {
		return err
	}
	unlock, err := lock(path)
	if err != nil {
		return err
	}
	defer unlock()
	var old *config.Config
	if _, err := os.Stat(path); err == nil {
		if !force {
			return fmt.Errorf("%s: %w (use --force to replace it)", path, ErrExists)
		}
		if h, err := ReadFile(path); err == nil {
			old = &h.Config
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	record(path, "init", old, c)
	return atomicfile.Write(path, b, 0o644)
}

// ErrFileInvalid wraps the reason a write refused to start from the file
// on disk: it does not decode, so there is no current state to modify.
// The SPEC code is kept in the message, not in the chain: the request
// that failed was not itself invalid.
var ErrFileInvalid = errors.New("the lockfile on disk is invalid")

// Backing is the config.Backing of a lockfile: every Modify is a
// read-modify-write of the file's bytes under its lock (UpdateFrom), so a
// change names only the fields it changes and never writes back another
// writer's stale values or the environment's overrides; Effective puts
// the environment (SPEC section 6) over the file's config.
type Backing struct {
	Path string
	// Lookup reads the environment (os.LookupEnv); nil means none.
	Lookup func(string) (string, bool)
}

// Effective applies the environment's overrides to the file's config.
func (b *Backing) Effective(c config.Config) (config.Config, error) {
	if b.Lookup == nil {
		return c, c.Validate()
	}
	return config.ApplyEnv(c, b.Lookup)
}

// Modify implements config.Backing.
func (b *Backing) Modify(source string, fn func(config.Config) (config.Config, error)) (config.Config, error) {
	var eff config.Config
	_, err := UpdateFrom(b.Path, source, func(lf *Lockfile) error {
		c, err := fn(lf.Config)
		if err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return err
		}
		// The environment over the new file must still make a config,
		// or the change is refused: the process could not run with it.
		if eff, err = b.Effective(c); err != nil {
			return err
		}
		lf.Config = c
		return nil
	})
	if err != nil {
		if isDecodeError(err) {
			return config.Config{}, fmt.Errorf("%w: %s: %v (repair it, or replace it with a valid file)", ErrFileInvalid, b.Path, err)
		}
		return config.Config{}, err
	}
	return eff, nil
}

// isDecodeError tells the errors UpdateFrom returns from decoding the file
// (as opposed to fn's): they come before fn runs.
func isDecodeError(err error) bool {
	var de *decodeError
	return errors.As(err, &de)
}

type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// OpenStore loads the config of the lockfile at path, creating the file
// with config.Default() when create is set and it does not exist, applies
// the environment overrides (lookup, usually os.LookupEnv; nil for none),
// and returns a Store backed by the file (Backing).
//
// Precedence: the environment beats the file for what the process runs
// with, field by field. It is never persisted: an Update changes only the
// fields it names, in the file as it is on disk at that moment.
func OpenStore(path string, create bool, lookup func(string) (string, bool)) (*config.Store, error) {
	if create {
		if err := Create(path, config.Default(), false); err != nil && !errors.Is(err, ErrExists) {
			return nil, err
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lf, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	bk := &Backing{Path: path, Lookup: lookup}
	c, err := bk.Effective(lf.Config)
	if err != nil {
		return nil, err
	}
	s, err := config.NewStore(c)
	if err != nil {
		return nil, err
	}
	s.Backing = bk
	return s, nil
}
