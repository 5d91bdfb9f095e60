package dashboard

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/bun13/bun13/impl/auth"
)

// Ticket bounds: a page asks for one right before it connects, so a few
// seconds would do; thirty leave room for a slow network. Tickets are
// budgeted so that no anonymous client can starve the admins: each client
// address may hold ticketPerAddr outstanding non-admin tickets, all
// non-admin tickets together ticketMax-ticketReserve, and the last
// ticketReserve are for authenticated admins only. The budgets are kept
// by the replica that issues (a load balancer spreading one client over N
// replicas gives it N budgets, each as bounded as one).
const (
	ticketTTL     = 30 * time.Second
	ticketMax     = 1024
	ticketReserve = 128
	ticketPerAddr = 16
	// ticketUsedMax bounds the nonces of tickets redeemed here but
	// issued elsewhere, remembered until they expire.
	ticketUsedMax = 1 << 16
	// ticketRedisTimeout bounds the fleet-wide single-use check.
	ticketRedisTimeout = 200 * time.Millisecond
	// TicketRedisPrefix starts the Redis key of each redeemed ticket's
	// nonce.
	TicketRedisPrefix = "bun13:ticket:"
)

// ticketDomain starts every signed ticket message: the replica's key also
// signs JWTs, and no JWT signing input (base64url text) can begin with
// these bytes (a NUL), so a ticket signature never passes as a token's.
const ticketDomain = "bun13 dashboard ticket v1\x00"

// TicketKeys sign WebSocket tickets with this replica's key and verify
// them with any key of the fleet's set. Ed25519Keys adapts an
// ed25519.PrivateKey and an *auth.KeySet (whose public keys the replicas
// share through the database).
type TicketKeys interface {
	// Sign signs msg with the replica's key and returns its kid.
	Sign(msg []byte) (kid string, sig []byte, err error)
	// Key returns the public key kid, if it is in the set.
	Key(kid string) (ed25519.PublicKey, bool)
}

// Ed25519Keys is TicketKeys over a private key (the replica's own) and a
// set of public keys by kid (auth.KeyID), such as *auth.KeySet. Keys nil
// means Private's public half alone.
type Ed25519Keys struct {
	Private ed25519.PrivateKey
	Keys    interface {
		Key(kid string) (ed25519.PublicKey, bool)
	}
}

// Sign implements TicketKeys.
func (k Ed25519Keys) Sign(msg []byte) (string, []byte, error) {
	if len(k.Private) != ed25519.PrivateKeySize {
		return "", nil, auth.ErrNoSigningKey
	}
	return auth.KeyID(k.Private.Public().(ed25519.PublicKey)), ed25519.Sign(k.Private, msg), nil
}

// Key implements TicketKeys.
func (k Ed25519Keys) Key(kid string) (ed25519.PublicKey, bool) {
	if k.Keys != nil {
		return k.Keys.Key(kid)
	}
	if len(k.Private) == ed25519.PrivateKeySize {
		if pub := k.Private.Public().(ed25519.PublicKey); auth.KeyID(pub) == kid {
			return pub, true
		}
	}
	return nil, false
}

// ticketID is what a ticket carries, signed.
type ticketID struct {
	user    string
	admin   bool
	addr    string
	expires time.Time
}

// ticketClaims is the signed payload's JSON form. The signing key's kid
// travels beside it, unsigned: a changed kid names a key the signature
// does not verify with.
type ticketClaims struct {
	User    string `json:"u,omitempty"`
	Admin   bool   `json:"a,omitempty"`
	Addr    string `json:"ip"`
	Expires int64  `json:"exp"` // unix milliseconds
	Nonce   string `json:"n"`
}

// tickets hand a browser's identity from an HTTP request, which can carry
// an Authorization header, to the WebSocket request, which cannot. A
// ticket is self-contained: "t1." + kid + "." + base64url(claims) +
// "." + base64url(Ed25519 signature of ticketDomain + claims), so any replica
// holding the issuer's public key can redeem it. Single use is enforced
// here (nonces issued or redeemed by this process) and, with Redis,
// across the fleet (SET NX on the nonce).
type tickets struct {
	keys  TicketKeys
	redis redis.UniversalClient
	log   *slog.Logger
	// errs counts single-use checks Redis could not answer (the local
	// check decided alone); nil counts nothing.
	errs      prometheus.Counter
	redisDown atomic.Bool
	// redisTimeout bounds the SET NX (ticketRedisTimeout; tests on a
	// loaded machine raise it).
	redisTimeout time.Duration

	mu      sync.Mutex
	m       map[string]ticketID  // outstanding tickets issued here, by nonce
	used    map[string]time.Time // nonces redeemed here, until they expire
	perAddr map[string]int       // outstanding non-admin tickets per address
	shared  int                  // outstanding non-admin tickets
}

// newTickets returns the ticket office; keys nil means a fresh key of
// this process alone, rdb nil single use per process.
func newTickets(keys TicketKeys, rdb redis.UniversalClient, log *slog.Logger) *tickets {
	if keys == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err) // crypto/rand does not fail
		}
		keys = Ed25519Keys{Private: priv}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c, ok := rdb.(*redis.Client); ok && c == nil {
		rdb = nil // a nil *redis.Client passed as Options.Redis: no Redis
	}
	return &tickets{keys: keys, redis: rdb, log: log, redisTimeout: ticketRedisTimeout, m: map[string]ticketID{}, used: map[string]time.Time{}, perAddr: map[string]int{}}
}

// ticketRefusal says why issue refused.
type ticketRefusal int

const (
	ticketOK      ticketRefusal = iota
	ticketAddrCap               // this address holds its share
	ticketFull                  // the pool (or, for admins, everything) is full
	ticketNoKey                 // the ticket could not be signed
)

// clientAddr is the address a request's tickets are charged to: the
// connection's remote host (a proxy in front makes its clients share one
// budget; the admin reserve still holds).
func clientAddr(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

var b64 = base64.RawURLEncoding

// issue returns a new ticket for a client at addr, or why not.
func (t *tickets) issue(user string, admin bool, addr string, now time.Time) (string, ticketRefusal) {
	t.mu.Lock()
	defer t.mu.Unlock()
	full := func() ticketRefusal {
		switch {
		case admin && len(t.m) >= ticketMax:
			return ticketFull
		case admin:
			return ticketOK
		case t.perAddr[addr] >= ticketPerAddr:
			return ticketAddrCap
		case t.shared >= ticketMax-ticketReserve:
			return ticketFull
		}
		return ticketOK
	}
	if full() != ticketOK {
		t.pruneLocked(now)
		if why := full(); why != ticketOK {
			return "", why
		}
	}
	id := ticketID{user: user, admin: admin, addr: addr, expires: now.Add(ticketTTL)}
	nonce := rand.Text()
	k, err := t.sign(id, nonce)
	if err != nil {
		t.log.Error("websocket ticket not signed", "err", err)
		return "", ticketNoKey
	}
	t.m[nonce] = id
	if !admin {
		t.perAddr[addr]++
		t.shared++
	}
	return k, ticketOK
}

func (t *tickets) sign(id ticketID, nonce string) (string, error) {
	c := ticketClaims{User: id.user, Admin: id.admin, Addr: id.addr, Expires: id.expires.UnixMilli(), Nonce: nonce}
	payload, _ := json.Marshal(c)
	kid, sig, err := t.keys.Sign(append([]byte(ticketDomain), payload...))
	if err != nil {
		return "", err
	}
	if kid == "" || strings.Contains(kid, ".") {
		return "", errors.New("dashboard: ticket key id " + kid + " is empty or holds a dot")
	}
	return "t1." + kid + "." + b64.EncodeToString(payload) + "." + b64.EncodeToString(sig), nil
}

// parse verifies a ticket's signature and returns what it carries.
func (t *tickets) parse(k string) (ticketID, string, bool) {
	if len(k) > 4096 {
		return ticketID{}, "", false
	}
	parts := strings.Split(k, ".")
	if len(parts) != 4 || parts[0] != "t1" {
		return ticketID{}, "", false
	}
	kid, p64, s64 := parts[1], parts[2], parts[3]
	payload, err1 := b64.DecodeString(p64)
	sig, err2 := b64.DecodeString(s64)
	if err1 != nil || err2 != nil || len(sig) != ed25519.SignatureSize {
		return ticketID{}, "", false
	}
	var c ticketClaims
	if json.Unmarshal(payload, &c) != nil || c.Nonce == "" {
		return ticketID{}, "", false
	}
	pub, ok := t.keys.Key(kid)
	if !ok || !ed25519.Verify(pub, append([]byte(ticketDomain), payload...), sig) {
		return ticketID{}, "", false
	}
	return ticketID{user: c.User, admin: c.Admin, addr: c.Addr, expires: time.UnixMilli(c.Expires)}, c.Nonce, true
}

func (t *tickets) pruneLocked(now time.Time) {
	for k, v := range t.m {
		if !now.Before(v.expires) {
			t.dropLocked(k, v)
		}
	}
	for k, exp := range t.used {
		if !now.Before(exp) {
			delete(t.used, k)
		}
	}
}

func (t *tickets) dropLocked(k string, id ticketID) {
	delete(t.m, k)
	if id.admin {
		return
	}
	t.shared--
	if t.perAddr[id.addr]--; t.perAddr[id.addr] <= 0 {
		delete(t.perAddr, id.addr)
	}
}

// redeem consumes a ticket presented by a client at addr: each opens one
// connection, from the address it was issued to, before it expires,
// whichever replica issued it.
func (t *tickets) redeem(ctx context.Context, k, addr string, now time.Time) (ticketID, bool) {
	id, nonce, ok := t.parse(k)
	if !ok {
		return ticketID{}, false
	}
	t.mu.Lock()
	if own, ok := t.m[nonce]; ok {
		t.dropLocked(nonce, own)
	}
	_, seen := t.used[nonce]
	live := now.Before(id.expires)
	if !seen && live {
		if len(t.used) >= ticketUsedMax {
			t.pruneLocked(now)
		}
		if len(t.used) >= ticketUsedMax {
			t.mu.Unlock()
			return ticketID{}, false // full of live nonces: refuse rather than forget one
		}
		t.used[nonce] = id.expires
	}
	t.mu.Unlock()
	if seen || !live || id.addr != addr {
		return ticketID{}, false
	}
	if t.redis == nil {
		return id, true
	}
	ctx, cancel := context.WithTimeout(ctx, t.redisTimeout)
	defer cancel()
	first, err := t.redis.SetNX(ctx, TicketRedisPrefix+nonce, 1, ticketTTL).Result()
	if err != nil {
		// The local check stands: a Redis outage must not lock every
		// browser out of the dashboard. A replay on another replica
		// during the outage needs the ticket and the client's address.
		if t.errs != nil {
			t.errs.Inc()
		}
		if !t.redisDown.Swap(true) {
			t.log.Warn("ticket store unreachable; tickets are single-use per replica until it is back", "err", err)
		}
		return id, true
	}
	if t.redisDown.Swap(false) {
		t.log.Info("ticket store reachable again; tickets are single-use fleet-wide")
	}
	return id, first
}
