package dashboard

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/testenv"
)

// replicaKeys returns n replicas' TicketKeys over one shared key set,
// as the registry's replicas hold their own key and every replica's
// public key.
func replicaKeys(t testing.TB, n int) []TicketKeys {
	t.Helper()
	ks := &auth.KeySet{}
	var out []TicketKeys
	for range n {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ks.Add(pub)
		out = append(out, Ed25519Keys{Private: priv, Keys: ks})
	}
	return out
}

func (e *testEnv) ticket(auth string) string {
	e.t.Helper()
	resp, body := e.do("POST", Prefix+"/api/ticket", auth, "")
	if resp.StatusCode != 200 {
		e.t.Fatalf("ticket: %d %s", resp.StatusCode, body)
	}
	var tk struct {
		Ticket string `json:"ticket"`
	}
	if err := json.Unmarshal([]byte(body), &tk); err != nil || tk.Ticket == "" {
		e.t.Fatalf("ticket answer %s", body)
	}
	return tk.Ticket
}

// redeemWS opens e's WebSocket with ticket tk and returns its hello, or
// the HTTP status that refused it.
func (e *testEnv) redeemWS(tk string) (hello string, status int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, e.wsURL()+"?ticket="+tk, nil)
	if err != nil {
		if resp == nil {
			e.t.Fatalf("dial: %v", err)
		}
		return "", resp.StatusCode
	}
	defer c.CloseNow()
	w := &wsClient{t: e.t, c: c}
	return w.text("hello"), http.StatusSwitchingProtocols
}

// Behind a round-robin load balancer the ticket request and the
// WebSocket land on different replicas: a ticket issued by A opens a
// connection on B, with A's identity, once.
func TestTicketIssuedByOneRedeemedByAnother(t *testing.T) {
	keys := replicaKeys(t, 2)
	a := newEnv(t, Options{TicketKeys: keys[0]})
	b := newEnv(t, Options{TicketKeys: keys[1]})
	tk := a.ticket(adminToken)
	hello, st := b.redeemWS(tk)
	if st != http.StatusSwitchingProtocols || !strings.Contains(hello, `"user":"root"`) || !strings.Contains(hello, `"admin":true`) {
		t.Fatalf("A's admin ticket on B: %d %s", st, hello)
	}
	if _, st := b.redeemWS(tk); st != http.StatusUnauthorized {
		t.Errorf("the same ticket again on B: %d, want 401", st)
	}
	// Anonymous tickets cross too, and stay anonymous.
	hello, st = a.redeemWS(b.ticket(""))
	if st != http.StatusSwitchingProtocols || !strings.Contains(hello, `"admin":false`) {
		t.Errorf("B's anonymous ticket on A: %d %s", st, hello)
	}
	// A replica outside the key set is not believed.
	c := newEnv(t, Options{TicketKeys: replicaKeys(t, 1)[0]})
	if _, st := a.redeemWS(c.ticket(adminToken)); st != http.StatusUnauthorized {
		t.Errorf("a ticket signed by a key outside the set: %d, want 401", st)
	}
}

// With Redis single use holds across the fleet: a ticket redeemed on B is
// refused on C and on A, which issued it.
func TestTicketSingleUseFleetWide(t *testing.T) {
	url := testenv.Getenv(t, "BUN13_TEST_REDIS", "Redis", "source .ci/services (or .ci/services -- go test ...)")
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	keys := replicaKeys(t, 3)
	var envs []*testEnv
	for _, k := range keys {
		rdb := redis.NewClient(opt) // a client per replica, as separate processes have
		t.Cleanup(func() { rdb.Close() })
		e := newEnv(t, Options{TicketKeys: k, Redis: rdb})
		// The fallback is tested below; here a slow round trip on a
		// loaded machine must not be taken for an outage.
		e.d.tickets.redisTimeout = 5 * time.Second
		envs = append(envs, e)
	}
	a, b, c := envs[0], envs[1], envs[2]
	for round := range 3 {
		tk := a.ticket(adminToken)
		if _, st := b.redeemWS(tk); st != http.StatusSwitchingProtocols {
			t.Fatalf("round %d: first use on B: %d", round, st)
		}
		for _, e := range []*testEnv{c, a, b} {
			if _, st := e.redeemWS(tk); st != http.StatusUnauthorized {
				t.Errorf("round %d: second use: %d, want 401", round, st)
			}
		}
	}
	for _, e := range envs {
		if n := testutil.ToFloat64(e.d.m.ticketStore); n != 0 {
			t.Errorf("%v ticket store errors against a healthy Redis", n)
		}
	}
}

// Redis unreachable: tickets still work, single use per replica, and the
// failure is counted.
func TestTicketRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	e := newEnv(t, Options{Redis: rdb})
	tk := e.ticket(adminToken)
	if _, st := e.redeemWS(tk); st != http.StatusSwitchingProtocols {
		t.Fatalf("with Redis down: %d", st)
	}
	if _, st := e.redeemWS(tk); st != http.StatusUnauthorized {
		t.Errorf("second use with Redis down: %d, want 401", st)
	}
	if n := testutil.ToFloat64(e.d.m.ticketStore); n != 1 {
		t.Errorf("ticket store errors %v, want 1 (the second use is refused locally, before Redis)", n)
	}
}

// What a ticket carries is signed: a changed field, a foreign key, a late
// or relocated redemption are all refused.
func TestTicketForgery(t *testing.T) {
	keys := replicaKeys(t, 2)
	tk := newTickets(keys[0], nil, nil)
	other := newTickets(keys[1], nil, nil)
	now := time.Unix(1_000_000, 0)
	ctx := context.Background()
	issue := func(admin bool) string {
		k, why := tk.issue("alice", admin, "192.0.2.9", now)
		if why != ticketOK {
			t.Fatal(why)
		}
		return k
	}
	// Flip the admin flag in the claims, keep the signature.
	k := issue(false)
	parts := strings.Split(k, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[2])
	forged := strings.Replace(string(claims), `"u":"alice"`, `"u":"alice","a":true`, 1)
	if forged == string(claims) {
		t.Fatalf("claims %s", claims)
	}
	parts[2] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	if _, ok := other.redeem(ctx, strings.Join(parts, "."), "192.0.2.9", now); ok {
		t.Error("a ticket with an edited admin flag was accepted")
	}
	// Name another kid of the set: the signature is not that key's.
	parts = strings.Split(issue(false), ".")
	kid2, _, _ := keys[1].Sign(nil)
	parts[1] = kid2
	if _, ok := other.redeem(ctx, strings.Join(parts, "."), "192.0.2.9", now); ok {
		t.Error("a ticket with another kid was accepted")
	}
	for _, bad := range []string{"", "t1", "t1...", "t1.x.y.z", "t2." + strings.TrimPrefix(issue(false), "t1."), issue(false) + "x"} {
		if _, ok := other.redeem(ctx, bad, "192.0.2.9", now); ok {
			t.Errorf("ticket %q accepted", bad)
		}
	}
	if _, ok := other.redeem(ctx, issue(false), "192.0.2.10", now); ok {
		t.Error("a ticket redeemed from another address was accepted")
	}
	if _, ok := other.redeem(ctx, issue(false), "192.0.2.9", now.Add(ticketTTL)); ok {
		t.Error("an expired ticket was accepted")
	}
	id, ok := other.redeem(ctx, issue(true), "192.0.2.9", now.Add(ticketTTL-time.Millisecond))
	if !ok || id.user != "alice" || !id.admin {
		t.Errorf("a good ticket on the last millisecond: %+v %v", id, ok)
	}
}

// A nil *redis.Client in Options.Redis (registryServe without --redis)
// means no Redis, not a crash.
func TestTicketTypedNilRedis(t *testing.T) {
	var rdb *redis.Client
	e := newEnv(t, Options{Redis: rdb})
	if _, st := e.redeemWS(e.ticket(adminToken)); st != http.StatusSwitchingProtocols {
		t.Errorf("with a nil *redis.Client: %d", st)
	}
}

// Keys without a private half cannot issue: 503, not an unsigned ticket.
func TestTicketNoSigningKey(t *testing.T) {
	e := newEnv(t, Options{TicketKeys: Ed25519Keys{Keys: &auth.KeySet{}}})
	resp, body := e.do("POST", Prefix+"/api/ticket", adminToken, "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "signing key") {
		t.Errorf("no signing key: %d %s", resp.StatusCode, body)
	}
}
