package config

import (
	"sync"
	"sync/atomic"
)

// Change is one published update of a Store.
type Change struct {
	Seq      uint64
	Old, New Config
	// Source says who made the change: "api", "websocket", "file" (the
	// lockfile changed on disk), "cli", "rollback", ...; "" when the
	// updater did not say.
	Source string
}

// Backing is the durable config a Store is a view of: the lockfile, with
// the environment's overrides on top. When a Store has one, the Backing is
// the truth: Update hands fn to Modify, which applies it to the durable
// config as it is at that moment (a read-modify-write under the file's
// lock, never a write of the Store's in-memory copy), persists the result,
// and returns the config the process runs with afterwards.
type Backing interface {
	// Modify applies fn to the durable config and persists the result
	// when it changed; it returns the effective config after it (the
	// durable config with the overrides applied). fn may be called with
	// a config that differs from the Store's (the file moved).
	Modify(source string, fn func(durable Config) (Config, error)) (Config, error)
	// Effective is what the process runs with for a given durable config.
	Effective(durable Config) (Config, error)
}

// Store holds the live config of a running process.
//
// Reads (Load, Flags, Enabled) are one atomic 64-bit load: lock-free,
// allocation-free, the cost of a field read. That works because a valid
// config carries 62 bits (version 2, registry hash 32, flags 10 — no
// valid config sets a higher bit — mode 2, rows 8, cols 8): the whole
// config is one word, so a reader can never see half of an update, and an
// update needs no allocation. Update validates the new config, persists
// it through Persist, and only then publishes it, so a reader never sees
// a config that is invalid or not yet on disk. Updates are serialized.
type Store struct {
	cur atomic.Uint64 // pack(config)

	// Persist, when not nil, writes the new config durably before it is
	// published (the lockfile package provides one). An error aborts the
	// update and leaves the published config as it was.
	Persist func(old, new Config) error

	// Backing, when not nil, replaces Persist: see Backing.
	Backing Backing

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
	s.cur.Store(pack(c))
	return s, nil
}

// The packed layout of a valid config in the Store's word.
const (
	packHash    = 0  // 32 bits
	packFlags   = 32 // 10 bits: Mask(MaxVersion)
	packMode    = 42 // 2 bits
	packRows    = 44 // 8 bits
	packCols    = 52 // 8 bits
	packVersion = 60 // 2 bits
	flagBits    = 0x3ff
)

func pack(c Config) uint64 {
	return uint64(c.RegistryHash)<<packHash | uint64(c.FeatureFlags&flagBits)<<packFlags |
		uint64(c.TerminalMode&3)<<packMode | uint64(c.Rows)<<packRows | uint64(c.Cols)<<packCols |
		uint64(c.Version&3)<<packVersion
}

func unpack(v uint64) Config {
	return Config{
		Version:      uint8(v >> packVersion & 3),
		RegistryHash: uint32(v >> packHash),
		FeatureFlags: Flags(v >> packFlags & flagBits),
		TerminalMode: Mode(v >> packMode & 3),
		Rows:         uint8(v >> packRows),
		Cols:         uint8(v >> packCols),
	}
}

// Load returns the current config.
func (s *Store) Load() Config { return unpack(s.cur.Load()) }

// Version returns the current config version: a field read, for hot
// paths that need one field and not the whole snapshot.
func (s *Store) Version() uint8 { return uint8(s.cur.Load() >> packVersion & 3) }

// RegistryHash returns the current registry hash.
func (s *Store) RegistryHash() uint32 { return uint32(s.cur.Load() >> packHash) }

// Flags returns the current feature flags.
func (s *Store) Flags() Flags { return Flags(s.cur.Load() >> packFlags & flagBits) }

// Enabled reports whether every flag in f is currently set.
func (s *Store) Enabled(f Flags) bool { return Flags(s.cur.Load()>>packFlags)&f == f }

// Update applies fn to the current config. fn's result is validated,
// persisted, published and sent to subscribers, in that order; any error
// (from fn, validation or Persist) leaves everything as it was. An update
// that changes nothing is not persisted and not announced.
//
// With a Backing, fn gets the durable config instead (see Backing), and
// only the fields fn changes are written.
func (s *Store) Update(fn func(Config) (Config, error)) (Config, error) {
	return s.UpdateFrom("", fn)
}

// UpdateFrom is Update naming the change's source (Change.Source).
func (s *Store) UpdateFrom(source string, fn func(Config) (Config, error)) (Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := unpack(s.cur.Load())
	if s.Backing != nil {
		next, err := s.Backing.Modify(source, fn)
		if err != nil {
			return old, err
		}
		if err := next.Validate(); err != nil {
			return old, err
		}
		s.publishLocked(old, next, source)
		return next, nil
	}
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
	s.publishLocked(old, next, source)
	return next, nil
}

// Reload publishes the config load returns, without persisting it: a
// watcher calls it when the durable config changed behind the Store's
// back (another process wrote the lockfile). load runs under the lock
// that serializes updates, so a reload never interleaves with an
// in-process read-modify-write. An error from load, or an invalid config,
// changes nothing. changed reports whether a new config was published.
func (s *Store) Reload(source string, load func() (Config, error)) (c Config, changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := unpack(s.cur.Load())
	next, err := load()
	if err != nil {
		return old, false, err
	}
	if err := next.Validate(); err != nil {
		return old, false, err
	}
	return next, s.publishLocked(old, next, source), nil
}

// Effective is what the process would run with for the durable config c:
// c itself without a Backing.
func (s *Store) Effective(c Config) (Config, error) {
	if s.Backing == nil {
		return c, nil
	}
	return s.Backing.Effective(c)
}

// publishLocked makes next current and announces it, when it differs from
// old. s.mu is held.
func (s *Store) publishLocked(old, next Config, source string) bool {
	if next == old {
		return false
	}
	s.cur.Store(pack(next))
	s.seq++
	ch := Change{Seq: s.seq, Old: old, New: next, Source: source}
	for sub := range s.subs {
		sub.send(ch)
	}
	return true
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
