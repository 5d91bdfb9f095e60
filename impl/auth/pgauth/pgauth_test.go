package pgauth_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/auth/authtest"
	"github.com/bun13/bun13/impl/auth/pgauth"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

func open(t testing.TB, url string, o pgauth.Options) *pgauth.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if o.Cost == 0 {
		o.Cost = 4
	}
	if o.ReconnectDelay == 0 {
		o.ReconnectDelay = 20 * time.Millisecond
	}
	s, err := pgauth.Open(ctx, url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func stores(s *pgauth.Store) authtest.Stores {
	return authtest.Stores{Users: s.Users, Tokens: s.Tokens, Revocations: s.Revocations, Scopes: s.Scopes}
}

func TestConformance(t *testing.T) {
	pgtemp.URL(t)
	authtest.Run(t, authtest.Backing{
		New: func(t *testing.T) func(*testing.T) authtest.Stores {
			url := pgtemp.New(t)
			return func(t *testing.T) authtest.Stores { return stores(open(t, url, pgauth.Options{})) }
		},
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func key(seed byte) ed25519.PrivateKey {
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	return ed25519.NewKeyFromSeed(s)
}

// TestPropagationWithoutBackstop: with the periodic reload off, only the
// feed carries a revocation, a removal and a demotion made through one
// store into the other's snapshot, and psql-style writes (plain SQL on
// another connection) count too.
func TestPropagationWithoutBackstop(t *testing.T) {
	url := pgtemp.New(t)
	a := open(t, url, pgauth.Options{Interval: -1})
	b := open(t, url, pgauth.Options{Interval: -1})
	if err := a.Users.Add("alice", "pw-alice-secret", auth.RolePublish, time.Now()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "add", func() bool { _, ok := b.Users.Get("alice", time.Now()); return ok })
	before := b.Revocations.Snapshot()
	if err := a.Revocations.Revoke(time.Now(), auth.Revocation{ID: "jti-1"}); err != nil {
		t.Fatal(err)
	}
	if !a.Revocations.IsRevoked("jti-1") {
		t.Errorf("the writing store does not refuse at once")
	}
	eventually(t, "revocation", func() bool { return b.Revocations.IsRevoked("jti-1") })
	if b.Revocations.Snapshot() == before {
		t.Errorf("the set changed but its pointer did not")
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "UPDATE auth_users SET role = 'read' WHERE name = 'alice'"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "demotion by SQL", func() bool { u, _ := a.Users.Get("alice", time.Now()); return u.Role == auth.RoleRead })
	eventually(t, "demotion by SQL", func() bool { u, _ := b.Users.Get("alice", time.Now()); return u.Role == auth.RoleRead })
	if _, err := conn.Exec(context.Background(), "DELETE FROM auth_users"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "removal by SQL", func() bool { _, ok := b.Users.Get("alice", time.Now()); return !ok })
	// Revocations are read incrementally: an insert by SQL, then an
	// un-revocation (a removal, which the increment cannot show).
	if _, err := conn.Exec(context.Background(), "INSERT INTO auth_revocations (jti, revoked) VALUES ('by-sql', now())"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "revocation by SQL", func() bool { return b.Revocations.IsRevoked("by-sql") && a.Revocations.IsRevoked("by-sql") })
	if _, err := conn.Exec(context.Background(), "DELETE FROM auth_revocations WHERE jti = 'jti-1'"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "un-revocation by SQL", func() bool { return !b.Revocations.IsRevoked("jti-1") && !a.Revocations.IsRevoked("jti-1") })
	if !b.Revocations.IsRevoked("by-sql") || b.Revocations.Snapshot().Len() != 1 {
		t.Errorf("after the un-revocation: %v", b.Revocations.List())
	}
}

// TestFeedReconnect kills the feed's backend; a change made while it is
// down (no one listening, so its NOTIFY is lost) still arrives, through
// the full reload after reconnecting (the backstop is off).
func TestFeedReconnect(t *testing.T) {
	url := pgtemp.New(t)
	a := open(t, url, pgauth.Options{Interval: -1})
	b := open(t, url, pgauth.Options{Interval: -1, ReconnectDelay: 300 * time.Millisecond})
	pid := b.FeedPID()
	if pid == 0 {
		t.Fatal("no feed PID")
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var ok bool
	if err := conn.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend: %v %v", ok, err)
	}
	eventually(t, "feed down", func() bool { return b.FeedPID() == 0 })
	if err := a.Revocations.Revoke(time.Now(), auth.Revocation{ID: "during-outage"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "revocation made while the feed was down", func() bool { return b.Revocations.IsRevoked("during-outage") })
	if b.Stats().Lost != 1 || b.FeedPID() == pid || b.FeedPID() == 0 {
		t.Errorf("after reconnecting: stats %+v, pid %d (was %d)", b.Stats(), b.FeedPID(), pid)
	}
	// And the new connection carries notifications.
	if err := a.Revocations.Revoke(time.Now(), auth.Revocation{ID: "after"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "revocation after the reconnect", func() bool { return b.Revocations.IsRevoked("after") })
}

// TestBackstop: with the feed's notifications gone (the feed connection
// is killed and reconnects only after a minute), the periodic version
// check still brings the change.
func TestBackstop(t *testing.T) {
	url := pgtemp.New(t)
	a := open(t, url, pgauth.Options{Interval: -1})
	b := open(t, url, pgauth.Options{Interval: 50 * time.Millisecond, ReconnectDelay: time.Minute})
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "SELECT pg_terminate_backend($1)", int32(b.FeedPID())); err != nil {
		t.Fatal(err)
	}
	eventually(t, "feed down", func() bool { return b.FeedPID() == 0 })
	if err := a.Users.Add("zoe", "pw-zoe-secret", auth.RoleRead, time.Now()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "user through the backstop", func() bool { _, ok := b.Users.Get("zoe", time.Now()); return ok })
}

// TestEnsureAdminOnce: six replicas start at once on an empty database;
// exactly one creates the admin and gets its password, which works.
func TestEnsureAdminOnce(t *testing.T) {
	url := pgtemp.New(t)
	const n = 6
	ss := make([]*pgauth.Store, n)
	for i := range ss {
		ss[i] = open(t, url, pgauth.Options{Interval: -1})
	}
	var (
		mu       sync.Mutex
		created  int
		password string
	)
	start := make(chan struct{})
	var g errgroup.Group
	for _, s := range ss {
		g.Go(func() error {
			<-start
			pw, ok, err := s.EnsureAdmin(context.Background(), "admin", time.Now())
			if ok {
				mu.Lock()
				created++
				password = pw
				mu.Unlock()
			}
			return err
		})
	}
	close(start)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if created != 1 {
		t.Fatalf("%d replicas created the admin, want 1", created)
	}
	for i, s := range ss {
		u, err := s.Users.Authenticate("admin", password, time.Now())
		if err != nil || u.Role != auth.RoleAdmin {
			t.Errorf("replica %d: admin with the one-time password: %+v %v", i, u, err)
		}
		if _, ok, err := s.EnsureAdmin(context.Background(), "admin", time.Now()); ok || err != nil {
			t.Errorf("replica %d: EnsureAdmin again: %v %v", i, ok, err)
		}
	}
	// Users but no admin: still nothing created (only an empty database
	// gets one).
	url2 := pgtemp.New(t)
	s := open(t, url2, pgauth.Options{Interval: -1})
	if err := s.Users.Add("bob", "pw-bob-secret", auth.RolePublish, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.EnsureAdmin(context.Background(), "admin", time.Now()); ok || err != nil {
		t.Errorf("EnsureAdmin with users present: %v %v", ok, err)
	}
}

// TestKeysAcrossReplicas: each replica registers its key; each verifies
// the other's tokens; retiring one is refused while its replica is live,
// forced it is dropped from every key set at once (cached tokens too),
// and the key cannot be registered again.
func TestKeysAcrossReplicas(t *testing.T) {
	url := pgtemp.New(t)
	ka, kb := &auth.KeySet{}, &auth.KeySet{}
	kidA, kidB := ka.SetSigner(key(1)), kb.SetSigner(key(2))
	a := open(t, url, pgauth.Options{Keys: ka, Replica: "replica-a", Interval: -1})
	b := open(t, url, pgauth.Options{Keys: kb, Replica: "replica-b", Interval: -1})
	eventually(t, "b's key in a's set", func() bool { _, ok := ka.Key(kidB); return ok })
	if _, ok := kb.Key(kidA); !ok {
		t.Fatalf("a's key missing from b's set: %v", kb.IDs())
	}
	va := &auth.Verifier{Keys: ka, Revocations: a.Revocations}
	tokB, _, err := (&auth.Issuer{Keys: kb}).Issue("bob", auth.RolePublish, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := va.Verify(tokB, time.Now()); err != nil {
			t.Fatalf("a verifying b's token: %v", err)
		}
	}
	keys, err := a.Keys(context.Background())
	if err != nil || len(keys) != 2 {
		t.Fatalf("Keys: %v %v", keys, err)
	}
	for _, k := range keys {
		if len(k.Replicas) != 1 || !k.Replicas[0].Live || !k.Retired.IsZero() {
			t.Errorf("key %s: %+v", k.KID, k)
		}
	}
	err = a.RetireKey(context.Background(), kidB, false)
	if !errors.Is(err, pgauth.ErrKeyInUse) || !strings.Contains(err.Error(), "replica-b") {
		t.Fatalf("retiring a live replica's key: %v", err)
	}
	if err := a.RetireKey(context.Background(), "0000000000000000", false); !errors.Is(err, pgauth.ErrNoSuchKey) {
		t.Errorf("retiring an unknown key: %v", err)
	}
	if err := a.RetireKey(context.Background(), kidB, true); err != nil {
		t.Fatal(err)
	}
	// The retiring replica refuses at once, cached token or not.
	if _, err := va.Verify(tokB, time.Now()); !errors.Is(err, auth.ErrUnknownKey) {
		t.Errorf("a after retiring: %v, want ErrUnknownKey", err)
	}
	eventually(t, "retired key dropped by its own replica", func() bool { _, ok := kb.Key(kidB); return !ok })
	if kb.Signer() != "" {
		t.Errorf("b still signs with a retired key")
	}
	if _, err := b.RegisterKey(context.Background(), key(2).Public().(ed25519.PublicKey), "replica-b"); !errors.Is(err, pgauth.ErrKeyRetired) {
		t.Errorf("registering a retired key again: %v", err)
	}
	if err := a.RetireKey(context.Background(), kidB, false); err != nil {
		t.Errorf("retiring a retired key: %v", err)
	}
	// A closed replica is not live: its key retires without force.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.RetireKey(context.Background(), kidA, false); err != nil {
		t.Errorf("retiring the key of a closed replica: %v", err)
	}
}

// TestImportFiles copies a data directory into the database, twice:
// the second run inserts nothing and changes nothing.
func TestImportFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	users, _ := auth.OpenUsers(filepath.Join(dir, auth.UsersFile))
	users.Cost = 4
	if err := users.Add("alice", "pw-alice-secret", auth.RoleAdmin, now); err != nil {
		t.Fatal(err)
	}
	if err := users.Add("bob", "pw-bob-secret", auth.RolePublish, now); err != nil {
		t.Fatal(err)
	}
	if err := users.ChangePassword("bob", "pw-bob-second", now); err != nil {
		t.Fatal(err)
	}
	priv, err := auth.GenerateKeyFile(filepath.Join(dir, auth.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ks := &auth.KeySet{}
	kid := ks.SetSigner(priv)
	tokens, _ := auth.OpenTokens(filepath.Join(dir, auth.TokensFile))
	revs, _ := auth.OpenRevocations(filepath.Join(dir, auth.RevocationsFile))
	is := &auth.Issuer{Keys: ks}
	live, c, _ := is.Issue("alice", auth.RoleAdmin, now)
	if _, err := tokens.Add(live, c, now); err != nil {
		t.Fatal(err)
	}
	dead, c2, _ := is.Issue("bob", auth.RolePublish, now)
	if _, err := tokens.Add(dead, c2, now); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Revoke(auth.TokenKey(dead), revs, now); err != nil {
		t.Fatal(err)
	}
	scopes, _ := auth.OpenScopes(filepath.Join(dir, auth.ScopesFile))
	if err := scopes.Add("@team", "alice", now); err != nil {
		t.Fatal(err)
	}
	if err := scopes.AddMember("@team", "bob"); err != nil {
		t.Fatal(err)
	}
	files := pgauth.Files{
		Users: filepath.Join(dir, auth.UsersFile), Tokens: filepath.Join(dir, auth.TokensFile),
		Revocations: filepath.Join(dir, auth.RevocationsFile), Scopes: filepath.Join(dir, auth.ScopesFile),
		KeyFile: filepath.Join(dir, auth.KeyFile),
	}
	url := pgtemp.New(t)
	s := open(t, url, pgauth.Options{Interval: -1})
	sum, err := pgauth.ImportFiles(context.Background(), s, files, now)
	if err != nil {
		t.Fatal(err)
	}
	want := pgauth.ImportSummary{Users: 2, Tokens: 1, Revocations: 1, Scopes: 1, Members: 1, KeyID: kid}
	if sum != want {
		t.Errorf("first import: %+v, want %+v", sum, want)
	}
	again, err := pgauth.ImportFiles(context.Background(), s, files, now)
	if err != nil {
		t.Fatal(err)
	}
	if (again != pgauth.ImportSummary{KeyID: kid}) {
		t.Errorf("second import inserted: %+v", again)
	}
	// Everything works on the database as it did on the files: the old
	// password hash, the password-change cut, the key, the revocation.
	if _, err := s.Users.Authenticate("bob", "pw-bob-second", now); err != nil {
		t.Errorf("imported hash: %v", err)
	}
	fb, _ := users.Get("bob", now)
	db, _ := s.Users.Get("bob", now)
	if fb.TokenCurrent(now.Truncate(time.Second)) != db.TokenCurrent(now.Truncate(time.Second)) || db.PasswordChanged.Before(fb.PasswordChanged) {
		t.Errorf("password change cut: file %v, database %v", fb.PasswordChanged, db.PasswordChanged)
	}
	other := &auth.KeySet{}
	other.SetSigner(key(9))
	r := open(t, url, pgauth.Options{Keys: other, Interval: -1})
	v := &auth.Verifier{Keys: other, Revocations: r.Revocations}
	if _, err := v.Verify(live, now); err != nil {
		t.Errorf("a token signed by the imported key, on a replica with its own key: %v", err)
	}
	if _, err := v.Verify(dead, now); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("an imported revocation: %v", err)
	}
	if recs := r.Tokens.List("alice", now); len(recs) != 1 || recs[0].Key != auth.TokenKey(live) {
		t.Errorf("imported token records: %+v", recs)
	}
	if sc, ok := r.Scopes.Get("team", now); !ok || sc.Owner != "alice" || !sc.Allows("bob") {
		t.Errorf("imported scope: %+v", sc)
	}
}

// TestMigrateConcurrently: several Opens at once on an empty database.
func TestMigrateConcurrently(t *testing.T) {
	url := pgtemp.New(t)
	var g errgroup.Group
	for range 4 {
		g.Go(func() error {
			s, err := pgauth.Open(context.Background(), url, pgauth.Options{Interval: -1})
			if err != nil {
				return err
			}
			return s.Close()
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestClaimRace: the first publish in an unowned scope on six replicas
// at once: one owner, and every replica agrees on it.
func TestClaimRace(t *testing.T) {
	url := pgtemp.New(t)
	ss := make([]*pgauth.Store, 6)
	for i := range ss {
		ss[i] = open(t, url, pgauth.Options{Interval: -1})
	}
	owners := make([]string, len(ss))
	start := make(chan struct{})
	var g errgroup.Group
	for i, s := range ss {
		g.Go(func() error {
			<-start
			sc, err := s.Scopes.Claim("race", fmt.Sprintf("user%d", i), time.Now())
			owners[i] = sc.Owner
			return err
		})
	}
	close(start)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for i, o := range owners {
		if o != owners[0] || o == "" {
			t.Fatalf("owners seen by the claimants: %v", owners)
		}
		eventually(t, "the owner on every replica", func() bool { sc, _ := ss[i].Scopes.Get("race", time.Now()); return sc.Owner == o })
	}
}

func TestMetrics(t *testing.T) {
	url := pgtemp.New(t)
	s := open(t, url, pgauth.Options{Interval: -1})
	reg := prometheus.NewRegistry()
	if err := s.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := s.Revocations.Revoke(time.Now(), auth.Revocation{ID: "x"}, auth.Revocation{ID: "y"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			got[mf.GetName()] = c.GetValue()
		} else {
			got[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	if got["bun_auth_revocations"] != 2 || got["bun_auth_feed_up"] != 1 || got["bun_auth_reloads_total"] < 5 || got["bun_auth_feed_reconnects_total"] != 0 {
		t.Errorf("metrics: %v", got)
	}
}

// TestEnsureAdminProcesses: four processes start at once on an empty
// database (no schema yet): each migrates, opens and calls EnsureAdmin;
// exactly one reports that it created the admin.
func TestEnsureAdminProcesses(t *testing.T) {
	if url := os.Getenv("PGAUTH_ADMIN_CHILD"); url != "" {
		s, err := pgauth.Open(context.Background(), url, pgauth.Options{Cost: 4, Interval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, created, err := s.EnsureAdmin(context.Background(), "admin", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("created=%v\n", created)
		return
	}
	url := pgtemp.New(t)
	outs := make([]string, 4)
	var g errgroup.Group
	for i := range outs {
		g.Go(func() error {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestEnsureAdminProcesses$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PGAUTH_ADMIN_CHILD="+url)
			out, err := cmd.CombinedOutput()
			outs[i] = string(out)
			if err != nil {
				return fmt.Errorf("process %d: %v\n%s", i, err, out)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(outs, ""), "created=true"); n != 1 || strings.Count(strings.Join(outs, ""), "created=false") != 3 {
		t.Errorf("%d processes created the admin, want 1:\n%s", n, strings.Join(outs, "\n"))
	}
}
