package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// The attack: anonymous ticket requests fill the cap and every admin gets
// 503 for 30 s. Now an address holds a bounded share, all anonymous
// clients together leave the admin reserve free, and nothing an
// anonymous client does changes an admin's answer.
func TestTicketBudget(t *testing.T) {
	e := newEnv(t, Options{})
	post := func(addr, auth string) int {
		req := httptest.NewRequest("POST", Prefix+"/api/ticket", nil)
		req.RemoteAddr = addr + ":4242"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		e.d.ServeHTTP(w, req)
		return w.Code
	}
	ok := 0
	for range 1030 {
		if post("198.51.100.7", "") == http.StatusOK {
			ok++
		}
	}
	if ok != ticketPerAddr {
		t.Errorf("one address got %d tickets, want %d", ok, ticketPerAddr)
	}
	if c := post("198.51.100.7", ""); c != http.StatusTooManyRequests {
		t.Errorf("one more from that address: %d, want 429", c)
	}
	if c := post("198.51.100.8", ""); c != http.StatusOK {
		t.Errorf("another address: %d, want 200", c)
	}
	// Many addresses fill the shared pool, never the admin reserve.
	for i := range 2000 {
		post("10.0."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250), "")
	}
	if n := e.d.tickets.shared; n != ticketMax-ticketReserve {
		t.Errorf("shared tickets %d, want %d", n, ticketMax-ticketReserve)
	}
	for i := range ticketReserve {
		if c := post("203.0.113.1", adminToken); c != http.StatusOK {
			t.Fatalf("admin ticket %d with the pool full: %d, want 200", i, c)
		}
	}
	// A read-role user is not an admin: the pool rules apply.
	if c := post("203.0.113.2", readerToken); c != http.StatusServiceUnavailable {
		t.Errorf("reader with the pool full: %d, want 503", c)
	}
}

func TestTicketRedeemFreesBudget(t *testing.T) {
	tk := newTickets(nil, nil, nil)
	now := time.Unix(1000, 0)
	var ks []string
	for range ticketPerAddr {
		k, why := tk.issue("", false, "a", now)
		if why != ticketOK {
			t.Fatal(why)
		}
		ks = append(ks, k)
	}
	if _, why := tk.issue("", false, "a", now); why != ticketAddrCap {
		t.Fatalf("over the address budget: %v", why)
	}
	if _, ok := tk.redeem(context.Background(), ks[0], "a", now); !ok {
		t.Fatal("redeem refused")
	}
	if _, why := tk.issue("", false, "a", now); why != ticketOK {
		t.Errorf("after a redeem: %v", why)
	}
	if _, why := tk.issue("", false, "a", now.Add(ticketTTL)); why != ticketOK {
		t.Errorf("after expiry: %v", why)
	}
	if tk.shared != 1 || tk.perAddr["a"] != 1 {
		t.Errorf("shared %d perAddr %d after expiry pruning", tk.shared, tk.perAddr["a"])
	}
}

// Behind a proxy the registry's client address (ClientAddr) is what is
// budgeted, not the proxy's.
func TestTicketClientAddrHook(t *testing.T) {
	e := newEnv(t, Options{ClientAddr: func(r *http.Request) string { return r.Header.Get("X-Client") }})
	post := func(client string) int {
		req := httptest.NewRequest("POST", Prefix+"/api/ticket", nil)
		req.RemoteAddr = "192.0.2.1:1" // the proxy
		req.Header.Set("X-Client", client)
		w := httptest.NewRecorder()
		e.d.ServeHTTP(w, req)
		return w.Code
	}
	for range ticketPerAddr {
		post("a")
	}
	if c := post("a"); c != http.StatusTooManyRequests {
		t.Errorf("client a over its budget: %d", c)
	}
	if c := post("b"); c != http.StatusOK {
		t.Errorf("client b behind the same proxy: %d", c)
	}
}
