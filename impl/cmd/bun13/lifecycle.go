package main

// How `bun13 registry serve` tells its supervisor where it stands:
// readiness checks for /-/readyz, and systemd notifications (READY=1 once
// the port accepts connections, STOPPING=1 when shutdown begins).

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/sdnotify"
)

// configReadyCheck is the "config" readiness check: the lockfile on disk
// decodes without a SPEC error, and its config, with the environment
// overrides applied, is the config being served. A file that was changed
// but not (yet) applied, or that is invalid, makes the server unready
// until it is applied or repaired.
//
// The live-config watcher (issue 10) knows this first-hand; when it lands
// it should replace this function with its own status, keeping the name
// "config".
func configReadyCheck(path string, store *config.Store, lookup func(string) (string, bool)) registry.ReadyCheck {
	return registry.ReadyCheck{Name: "config", Check: func(context.Context) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lf, err := lockfile.Decode(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		want, err := config.ApplyEnv(lf.Config, lookup)
		if err != nil {
			return err
		}
		if got := store.Load(); got != want {
			return fmt.Errorf("%s holds config %x, the server applies %x", path, want.Bytes(), got.Bytes())
		}
		return nil
	}}
}

// notifySystemd sends READY=1 (call it once the listener exists, so the
// port accepts connections) and, when ctx ends, STOPPING=1. Without
// $NOTIFY_SOCKET it does nothing. Errors are logged: a supervisor that
// cannot be told is no reason not to serve.
func notifySystemd(ctx context.Context, n sdnotify.Notifier, addr string, log *slog.Logger) {
	if !n.Enabled() {
		return
	}
	if err := n.Notify(sdnotify.Ready, "STATUS=serving on "+addr); err != nil {
		log.Warn("systemd notify", "error", err.Error())
	}
	go func() {
		<-ctx.Done()
		if err := n.Notify(sdnotify.Stopping, "STATUS=draining and shutting down"); err != nil {
			log.Warn("systemd notify", "error", err.Error())
		}
	}()
}

// fileExists reports whether path names an existing file (through
// symlinks, as a ConfigMap's bun.lockb is one).
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
