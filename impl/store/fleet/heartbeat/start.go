package heartbeat

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/store/fleet"
)

// Replica describes the replica a process runs, for Start.
type Replica struct {
	// Store keeps the fleet's heartbeats: a pgfleet.Store in the
	// distributed mode, a fleet.Memory (just this process) otherwise.
	Store fleet.Store
	// ID names the replica; empty means DefaultID().
	ID string
	// Version is the binary's version.
	Version string
	// Started is when the process started.
	Started time.Time
	// Config returns the live 13-byte config (config.Store.Load().Bytes()),
	// read before every beat.
	Config func() [fleet.ConfigSize]byte
	// Every is the time between beats; zero means DefaultEvery.
	Every time.Duration
	// Logger receives the outage lines; nil discards them.
	Logger *slog.Logger
	// Failures counts failed beats (NewErrorCounter); nil counts none.
	Failures prometheus.Counter
}

// DefaultID is the host name, or "localhost" when it cannot be read.
func DefaultID() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// Start runs the replica's heartbeat in the background until ctx ends
// (see Run) and returns the View of its fleet for the HTTP layer. Its
// listings keep replicas seen within three beats.
func Start(ctx context.Context, r Replica) *View {
	if r.ID == "" {
		r.ID = DefaultID()
	}
	every := r.Every
	if every <= 0 {
		every = DefaultEvery
	}
	self := func() fleet.Replica {
		return fleet.Replica{ID: r.ID, Version: r.Version, Config: r.Config(), Started: r.Started}
	}
	go Run(ctx, r.Store, self, every, r.Logger, r.Failures)
	return &View{Store: r.Store, Self: r.ID, MaxAge: 3 * every}
}
