// Package heartbeat keeps a replica's row in the fleet (package
// store/fleet) fresh and answers, for the HTTP layer, who is in the fleet
// and who drifts.
//
// [Run] writes the replica's heartbeat (id, binary version, its live
// 13-byte config, start time) at once and then every few seconds (5 s by
// default) until its context ends. A failed beat is never fatal: it is
// counted in the counter passed in and logged once per outage (once when
// the store goes away, once when it is back).
//
// [View] lists the replicas seen within MaxAge (three beats by default)
// and computes the drift with fleet.Drift, cached for TTL (1 s) so that a
// dashboard polled by many browsers costs the store one query per TTL.
// [Snapshot] is its JSON form: GET /_dashboard/api/fleet, the fleet field
// of the dashboard's stats, bun13 status and bun13 top all read it.
//
// [Start] does both for one replica (the beat loop in the background, its
// View returned); [Collector] exports the View's latest listing as
// bun_fleet_replicas and bun_fleet_drifting_replicas. A single-node
// registry runs the same code on a fleet.Memory holding just itself.
package heartbeat

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/store/fleet"
)

// Defaults.
const (
	// DefaultEvery is the time between heartbeats.
	DefaultEvery = 5 * time.Second
	// DefaultMaxAge is how long a replica stays listed after its last
	// heartbeat: three missed beats.
	DefaultMaxAge = 3 * DefaultEvery
	// DefaultTTL is how long a View reuses one listing.
	DefaultTTL = time.Second
	// BeatTimeout bounds one heartbeat write (a slower one delays the
	// next beat; ticks missed meanwhile are dropped).
	BeatTimeout = 2 * time.Second
)

// NewErrorCounter returns bun_fleet_heartbeat_errors_total, registered on
// reg (nil: not registered), for Run.
func NewErrorCounter(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bun_fleet_heartbeat_errors_total",
		Help: "Fleet heartbeats that could not be written to the fleet store.",
	})
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// Run beats for the replica self describes (called before each beat, so
// a config change shows in the next one) every interval (zero:
// DefaultEvery), the first at once, until ctx ends. failures (nil: none)
// counts failed beats; log (nil: discarded) gets one warning when beats
// start failing and one line when they succeed again. It returns when ctx
// ends, never because of the store.
func Run(ctx context.Context, store fleet.Store, self func() fleet.Replica, every time.Duration, log *slog.Logger, failures prometheus.Counter) {
	if every <= 0 {
		every = DefaultEvery
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	down := false
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		r := self()
		bctx, cancel := context.WithTimeout(ctx, BeatTimeout)
		err := store.Beat(bctx, r)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			if failures != nil {
				failures.Inc()
			}
			if !down {
				down = true
				log.Warn("fleet heartbeat failed; retrying every interval, the replica may drop out of the fleet view", "replica", r.ID, "err", err, "every", every)
			}
		case down:
			down = false
			log.Info("fleet heartbeat written again", "replica", r.ID)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Member is one replica as Snapshot shows it.
type Member struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	// Hex is the 13 config bytes in lowercase hex.
	Hex string `json:"hex"`
	// Config is the decoded config; absent (and ConfigError set) when
	// the bytes are not a valid config.
	Config      *config.Config `json:"config,omitempty"`
	ConfigError string         `json:"configError,omitempty"`
	Started     time.Time      `json:"started"`
	Seen        time.Time      `json:"seen"`
	// Drift is true when the replica's config differs from the one most
	// replicas run.
	Drift bool `json:"drift"`
	// Self marks the replica that answered.
	Self bool `json:"self,omitempty"`
}

// Snapshot is the fleet at one moment.
type Snapshot struct {
	// Self is the id of the replica answering.
	Self string `json:"self"`
	// Common is the config most replicas run, in hex ("" for an empty
	// fleet).
	Common   string   `json:"common"`
	Replicas []Member `json:"replicas"`
	// Drifting counts the replicas with Drift set.
	Drifting int `json:"drifting"`
	// At is when the listing was taken (by the answering replica's clock).
	At time.Time `json:"at"`
	// Error is set when the store could not be listed; Replicas is then
	// the last listing that succeeded (possibly none).
	Error string `json:"error,omitempty"`
}

// Describe turns a listing into a Snapshot answered by self.
func Describe(rs []fleet.Replica, self string, at time.Time) Snapshot {
	common, differing := fleet.Drift(rs)
	drift := make(map[string]bool, len(differing))
	for _, r := range differing {
		drift[r.ID] = true
	}
	s := Snapshot{Self: self, Replicas: make([]Member, 0, len(rs)), Drifting: len(differing), At: at}
	if len(rs) > 0 {
		s.Common = hex.EncodeToString(common[:])
	}
	for _, r := range rs {
		m := Member{
			ID: r.ID, Version: r.Version, Hex: hex.EncodeToString(r.Config[:]),
			Started: r.Started, Seen: r.Seen, Drift: drift[r.ID], Self: r.ID == self,
		}
		raw := [config.Size]byte(r.Config)
		if c, err := config.Parse(&raw); err != nil {
			m.ConfigError = err.Error()
		} else {
			m.Config = &c
		}
		s.Replicas = append(s.Replicas, m)
	}
	return s
}

// View lists the fleet for the HTTP layer. Store and Self are required;
// the other zero fields have the defaults their comments give. A View
// must not be copied after first use.
type View struct {
	Store fleet.Store
	// Self is this replica's id.
	Self string
	// MaxAge is how recent a heartbeat must be to count; zero means
	// DefaultMaxAge.
	MaxAge time.Duration
	// TTL is how long one listing is reused; zero means DefaultTTL.
	TTL time.Duration
	// Timeout bounds one listing; zero means 2 s.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu         sync.Mutex // held while listing: one query at a time
	last       atomic.Pointer[Snapshot]
	refreshing atomic.Bool
}

func (v *View) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *View) fresh(s *Snapshot) bool {
	ttl := v.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return s != nil && v.now().Sub(s.At) < ttl
}

// Fleet returns the fleet, listed at most TTL ago. When the store
// fails it returns the last good listing with Error set, and the error.
func (v *View) Fleet(ctx context.Context) (Snapshot, error) {
	if s := v.last.Load(); v.fresh(s) {
		return *s, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s := v.last.Load(); v.fresh(s) { // listed while we waited
		return *s, nil
	}
	return v.refreshLocked(ctx)
}

func (v *View) refreshLocked(ctx context.Context) (Snapshot, error) {
	if v.Store == nil {
		return Snapshot{}, errors.New("heartbeat: View.Store is nil")
	}
	maxAge, timeout := v.MaxAge, v.Timeout
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	at := v.now()
	rs, err := v.Store.List(ctx, maxAge)
	if err != nil {
		var s Snapshot
		if prev := v.last.Load(); prev != nil {
			s = *prev
		} else {
			s = Describe(nil, v.Self, at)
		}
		s.Error = err.Error()
		// Not stored: the next call tries the store again.
		return s, err
	}
	s := Describe(rs, v.Self, at)
	v.last.Store(&s)
	return s, nil
}

// Peek returns the latest listing without waiting (ok false before the
// first), and starts a refresh in the background when it is older than
// TTL: for the dashboard's once-a-second stats, which must not wait on
// the store.
func (v *View) Peek(ctx context.Context) (Snapshot, bool) {
	s := v.last.Load()
	if !v.fresh(s) && v.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer v.refreshing.Store(false)
			v.Fleet(ctx)
		}()
	}
	if s == nil {
		return Snapshot{}, false
	}
	return *s, true
}
