package main

// How `bun13 registry serve` tells its supervisor where it stands:
// readiness checks for /-/readyz, and systemd notifications (READY=1 once
// the port accepts connections, STOPPING=1 when shutdown begins).

import (
	"context"
	"log/slog"
	"os"

	"github.com/bun13/bun13/impl/configwatch"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/sdnotify"
)

// configReadyCheck is the "config" readiness check: the lockfile on disk
// decodes without a SPEC error and its config, with the environment
// overrides applied, is the config being served, as the live-config
// watcher knows it. A file that is invalid, deleted or not yet applied
// makes the server unready until the watcher applies a valid one.
func configReadyCheck(w *configwatch.Watcher) registry.ReadyCheck {
	return registry.ReadyCheck{Name: "config", Check: func(context.Context) error { return w.Ready() }}
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
