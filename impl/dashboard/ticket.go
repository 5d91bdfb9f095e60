package dashboard

import (
	"crypto/rand"
	"sync"
	"time"
)

// Ticket bounds: a page asks for one right before it connects, so a few
// seconds would do; thirty leave room for a slow network.
const (
	ticketTTL = 30 * time.Second
	ticketMax = 1024
)

type ticketID struct {
	user    string
	admin   bool
	expires time.Time
}

// tickets hand a browser's identity from an HTTP request, which can carry
// an Authorization header, to the WebSocket request, which cannot.
type tickets struct {
	mu sync.Mutex
	m  map[string]ticketID
}

func newTickets() *tickets { return &tickets{m: map[string]ticketID{}} }

// issue returns a new ticket, or false when too many are outstanding.
func (t *tickets) issue(user string, admin bool, now time.Time) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= ticketMax {
		for k, v := range t.m {
			if !now.Before(v.expires) {
				delete(t.m, k)
			}
		}
		if len(t.m) >= ticketMax {
			return "", false
		}
	}
	k := rand.Text()
	t.m[k] = ticketID{user: user, admin: admin, expires: now.Add(ticketTTL)}
	return k, true
}

// redeem consumes a ticket: each opens one connection.
func (t *tickets) redeem(k string, now time.Time) (ticketID, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.m[k]
	if !ok {
		return ticketID{}, false
	}
	delete(t.m, k)
	return id, now.Before(id.expires)
}
