package storage

import (
	"context"
	"fmt"
	"os"
	"syscall"
)

// Pinger is a Backend that can say whether it is reachable and usable,
// cheaply enough for a readiness probe every few seconds. The registry's
// GET /-/readyz calls Ping on a Backend that implements it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Ping reports whether the root directory exists (it is created on the
// first call if missing) and is a writable directory: access(2) with W_OK, which also fails on a
// read-only mount. Nothing is written.
func (f *FS) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := f.mkdir(f.Dir); err != nil {
		return err
	}
	st, err := os.Stat(f.Dir)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("storage: %s is not a directory", f.Dir)
	}
	if err := syscall.Access(f.Dir, 0x2 /* W_OK */); err != nil {
		return fmt.Errorf("storage: %s is not writable: %w", f.Dir, err)
	}
	return nil
}
