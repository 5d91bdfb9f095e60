package lockfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/bun13/bun13/impl/atomicfile"
	"github.com/bun13/bun13/impl/config"
)

// ReadFile reads and decodes the lockfile at path.
func ReadFile(path string) (*Lockfile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

// WriteFile encodes lf and replaces path with it crash-safely, holding the
// lockfile's lock so no other writer interleaves.
func WriteFile(path string, lf *Lockfile) error {
	b, err := Encode(lf)
	if err != nil {
		return err
	}
	unlock, err := atomicfile.Lock(path)
	if err != nil {
		return err
	}
	defer unlock()
	return atomicfile.Write(path, b, 0o644)
}

// Update reads the lockfile at path, applies fn and writes the result, all
// under the lockfile's lock, so concurrent read-modify-write cycles from any
// number of goroutines or processes serialize and none is lost. If fn or
// any step fails the file is left as it was.
func Update(path string, fn func(*Lockfile) error) (*Lockfile, error) {
	unlock, err := atomicfile.Lock(path)
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
		return nil, err
	}
	if err := fn(lf); err != nil {
		return nil, err
	}
	out, err := Encode(lf)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, out, 0o644); err != nil {
		return nil, err
	}
	return lf, nil
}

// ErrExists is returned by Create when the file is already there.
var ErrExists = errors.New("lockfile already exists")

// Create writes a new lockfile holding c and no packages. It refuses to
// replace an existing file unless force is set.
func Create(path string, c config.Config, force bool) error {
	lf := &Lockfile{Config: c}
	b, err := Encode(lf)
	if err != nil {
		return err
	}
	unlock, err := atomicfile.Lock(path)
	if err != nil {
		return err
	}
	defer unlock()
	if !force {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("%s: %w (use --force to replace it)", path, ErrExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return atomicfile.Write(path, b, 0o644)
}

// Persister returns a config.Store Persist func that rewrites the config of
// the lockfile at path, keeping its packages.
func Persister(path string) func(old, new config.Config) error {
	return func(_, c config.Config) error {
		_, err := Update(path, func(lf *Lockfile) error {
			lf.Config = c
			return nil
		})
		return err
	}
}

// OpenStore loads the config of the lockfile at path, creating the file
// with config.Default() when create is set and it does not exist, applies
// the environment overrides (lookup, usually os.LookupEnv; nil for none),
// and returns a Store that persists every update to the file.
//
// Precedence: the environment beats the file. A later Update persists the
// whole config, environment overrides included: the file then says what
// the process really runs with.
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
	c := lf.Config
	if lookup != nil {
		if c, err = config.ApplyEnv(c, lookup); err != nil {
			return nil, err
		}
	}
	s, err := config.NewStore(c)
	if err != nil {
		return nil, err
	}
	s.Persist = Persister(path)
	return s, nil
}
