package ratelimit

import (
	"fmt"
	"sync"
	"time"
)

// Class names, also meant as metric label values.
const (
	ClassRead    = "read"
	ClassPublish = "publish"
	ClassLogin   = "login"
)

// Class defaults, per key per minute. They are set so one heavy legitimate
// client never notices them and only floods and password guessing do.
const (
	// A cold `npm ci` of a large monorepo (~5,000 packages) fetches a
	// packument and a tarball for each, ~10,000 requests, over a few dozen
	// sockets in well under a minute on a LAN; anonymous CI fleets behind
	// one NAT address share a key too. 20,000/min (333/s sustained) leaves
	// room for that, and a client above it is a flood.
	DefaultReadPerMinute = 20_000
	// A monorepo release (lerna, changesets) publishes each package once,
	// a few at a time, each upload taking around a second: 300/min is
	// several times what that reaches.
	DefaultPublishPerMinute = 300
	// A person mistypes a password a few times; a script guessing
	// passwords tries thousands. 10/min makes guessing useless (at most
	// 14,400 tries a day per key) while a human never hits it.
	DefaultLoginPerMinute = 10
)

// Classes holds one Limiter per request class so that heavy reading never
// eats into a client's login or publish budget. The zero value uses the
// Default*PerMinute limits over one-minute windows; a Limiter field left at
// zero Limit or Window gets its class default. Fields must be set before
// first use.
type Classes struct {
	Read    Limiter
	Publish Limiter
	Login   Limiter

	once sync.Once
}

func (c *Classes) init() {
	def := func(l *Limiter, perMinute int) {
		if l.Limit <= 0 {
			l.Limit = perMinute
		}
		if l.Window <= 0 {
			l.Window = time.Minute
		}
	}
	def(&c.Read, DefaultReadPerMinute)
	def(&c.Publish, DefaultPublishPerMinute)
	def(&c.Login, DefaultLoginPerMinute)
}

// Limiter returns the limiter for class (one of the Class constants), or nil
// for an unknown class.
func (c *Classes) Limiter(class string) *Limiter {
	c.once.Do(c.init)
	switch class {
	case ClassRead:
		return &c.Read
	case ClassPublish:
		return &c.Publish
	case ClassLogin:
		return &c.Login
	}
	return nil
}

// Allow is shorthand for c.Limiter(class).Allow(key, now). It panics on an
// unknown class, which is a programming error rather than a request error.
func (c *Classes) Allow(class, key string, now time.Time) Decision {
	l := c.Limiter(class)
	if l == nil {
		panic(fmt.Sprintf("ratelimit: unknown class %q", class))
	}
	return l.Allow(key, now)
}
