package dashboard

import (
	"crypto/rand"
	"net"
	"net/http"
	"sync"
	"time"
)

// Ticket bounds: a page asks for one right before it connects, so a few
// seconds would do; thirty leave room for a slow network. Tickets are
// budgeted so that no anonymous client can starve the admins: each client
// address may hold ticketPerAddr outstanding non-admin tickets, all
// non-admin tickets together ticketMax-ticketReserve, and the last
// ticketReserve are for authenticated admins only.
const (
	ticketTTL     = 30 * time.Second
	ticketMax     = 1024
	ticketReserve = 128
	ticketPerAddr = 16
)

type ticketID struct {
	user    string
	admin   bool
	addr    string
	expires time.Time
}

// tickets hand a browser's identity from an HTTP request, which can carry
// an Authorization header, to the WebSocket request, which cannot.
type tickets struct {
	mu      sync.Mutex
	m       map[string]ticketID
	perAddr map[string]int // outstanding non-admin tickets per address
	shared  int            // outstanding non-admin tickets
}

func newTickets() *tickets { return &tickets{m: map[string]ticketID{}, perAddr: map[string]int{}} }

// ticketRefusal says why issue refused.
type ticketRefusal int

const (
	ticketOK      ticketRefusal = iota
	ticketAddrCap               // this address holds its share
	ticketFull                  // the pool (or, for admins, everything) is full
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
	k := rand.Text()
	t.m[k] = ticketID{user: user, admin: admin, addr: addr, expires: now.Add(ticketTTL)}
	if !admin {
		t.perAddr[addr]++
		t.shared++
	}
	return k, ticketOK
}

func (t *tickets) pruneLocked(now time.Time) {
	for k, v := range t.m {
		if !now.Before(v.expires) {
			t.dropLocked(k, v)
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

// redeem consumes a ticket: each opens one connection.
func (t *tickets) redeem(k string, now time.Time) (ticketID, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.m[k]
	if !ok {
		return ticketID{}, false
	}
	t.dropLocked(k, id)
	return id, now.Before(id.expires)
}
