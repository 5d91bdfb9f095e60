// Package fleet keeps the registry replicas' heartbeats: who is running,
// which binary, which 13-byte config, since when, last seen when. It
// answers the ConfigDrift alert's question live: [Drift] names the
// replicas whose config differs from the rest.
//
// [Memory] is the single-process store (the one replica there is);
// pgfleet.Store keeps the heartbeats in PostgreSQL, stamped with the
// database's clock so replicas with skewed clocks compare fairly. Both
// pass package fleettest.
package fleet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// ConfigSize is the length of a config in its binary form.
const ConfigSize = 13

// Replica is one heartbeat.
type Replica struct {
	// ID names the replica (--replica-id, the host name by default).
	ID string
	// Version is the binary's version.
	Version string
	// Config is the replica's live 13-byte config, binary form.
	Config [ConfigSize]byte
	// Started is when the replica started.
	Started time.Time
	// Seen is when its last heartbeat was stored, by the store's clock;
	// ignored by Beat.
	Seen time.Time
}

// ErrInvalid is returned by Beat for a heartbeat without an ID.
var ErrInvalid = errors.New("fleet: a heartbeat needs a replica id")

// Store keeps the last heartbeat of each replica.
type Store interface {
	// Beat records r as its replica's latest heartbeat.
	Beat(ctx context.Context, r Replica) error
	// List returns the replicas seen within maxAge, by ID.
	List(ctx context.Context, maxAge time.Duration) ([]Replica, error)
}

// Memory is the in-process Store. Now is its clock (nil: time.Now).
type Memory struct {
	Now func() time.Time

	mu sync.Mutex
	m  map[string]Replica
}

var _ Store = (*Memory)(nil)

func (s *Memory) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Beat implements Store.
func (s *Memory) Beat(_ context.Context, r Replica) error {
	if r.ID == "" {
		return ErrInvalid
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]Replica)
	}
	r.Seen = s.now()
	s.m[r.ID] = r
	return nil
}

// List implements Store.
func (s *Memory) List(_ context.Context, maxAge time.Duration) ([]Replica, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := s.now().Add(-maxAge)
	var out []Replica
	for _, r := range s.m {
		if r.Seen.After(cut) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Replica) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Drift returns the config most replicas run (on a tie, the one of the
// replica started first, then the lowest ID) and the replicas running
// another one. No replicas: the zero config and none.
func Drift(rs []Replica) (common [ConfigSize]byte, differing []Replica) {
	if len(rs) == 0 {
		return common, nil
	}
	count := map[[ConfigSize]byte]int{}
	first := map[[ConfigSize]byte]Replica{}
	for _, r := range rs {
		count[r.Config]++
		if f, ok := first[r.Config]; !ok || r.Started.Before(f.Started) || r.Started.Equal(f.Started) && r.ID < f.ID {
			first[r.Config] = r
		}
	}
	best := false
	for c, n := range count {
		switch {
		case !best, n > count[common]:
		case n == count[common]:
			a, b := first[c], first[common]
			if !(a.Started.Before(b.Started) || a.Started.Equal(b.Started) && a.ID < b.ID) {
				continue
			}
		default:
			continue
		}
		common, best = c, true
	}
	for _, r := range rs {
		if r.Config != common {
			differing = append(differing, r)
		}
	}
	return common, differing
}
