package config

import (
	"sync"
	"sync/atomic"
)

// Change is one published update of a Store.
type Change struct {
	Seq      uint64
	Old, New Config
}

// Store holds the live config of a running process.
//
// Reads (Load, Flags, Enabled) are one atomic pointer load: lock-free,
// allocation-free, the cost of a field read. Update validates the new
// config, persists it through Persist, and only then publishes it, so a
// reader never sees a config that is invalid or not yet on disk. Updates
// are serialized.
type Store struct {
	cur atomic.Pointer[Config]

	// Persist, when not nil, writes the new config durably before it is
	// published (the lockfile package provides one). An error aborts the
	// update and leaves the published config as it was.
	Persist func(old, new Config) error

	mu   sync.Mutex // serializes Update and guards subs
	seq  uint64
	subs map[*subscriber]struct{}
}

type subscriber struct{ ch chan Change }

// NewStore returns a Store publishing c, which must be valid.
func NewStore(c Config) (*Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Store{}
	s.cur.Store(&c)
	return s, nil
}

// Load returns the current config.
func (s *Store) Load() Config { return *s.cur.Load() }

// Flags returns the current feature flags.
func (s *Store) Flags() Flags { return s.cur.Load().FeatureFlags }

// Enabled reports whether every flag in f is currently set.
func (s *Store) Enabled(f Flags) bool { return s.cur.Load().FeatureFlags&f == f }

// Update applies fn to the current config. fn's result is validated,
// persisted, published and sent to subscribers, in that order; any error
// (from fn, validation or Persist) leaves everything as it was. An update
// that changes nothing is not persisted and not announced.
func (s *Store) Update(fn func(Config) (Config, error)) (Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.cur.Load()
	next, err := fn(old)
	if err != nil {
		return old, err
	}
	if err := next.Validate(); err != nil {
		return old, err
	}
	if next == old {
		return old, nil
	}
	if s.Persist != nil {
		if err := s.Persist(old, next); err != nil {
			return old, err
		}
	}
	s.cur.Store(&next)
	s.seq++
	ch := Change{Seq: s.seq, Old: old, New: next}
	for sub := range s.subs {
		sub.send(ch)
	}
	return next, nil
}

// send never blocks: a subscriber that fell behind loses its oldest
// pending change, so the newest state always arrives.
func (sub *subscriber) send(c Change) {
	for {
		select {
		case sub.ch <- c:
			return
		default:
		}
		select {
		case <-sub.ch:
		default:
		}
	}
}

// Subscribe returns a channel receiving every later change, and a cancel
// func that closes it. A receiver that falls more than buf changes behind
// loses the oldest ones (Seq shows the gap); buf < 1 means 1.
func (s *Store) Subscribe(buf int) (<-chan Change, func()) {
	if buf < 1 {
		buf = 1
	}
	sub := &subscriber{ch: make(chan Change, buf)}
	s.mu.Lock()
	if s.subs == nil {
		s.subs = make(map[*subscriber]struct{})
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	var once sync.Once
	return sub.ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, sub)
			s.mu.Unlock()
			close(sub.ch)
		})
	}
}
