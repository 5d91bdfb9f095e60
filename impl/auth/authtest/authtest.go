// Package authtest is the conformance suite of the auth stores
// (auth.UserStore, auth.TokenStore, auth.RevocationStore,
// auth.ScopeStore): the file-backed ones of package auth and the
// PostgreSQL ones of package auth/pgauth pass the same tests.
package authtest

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/google/go-cmp/cmp"
)

// Stores are the four tables of one backing, as one process opens them.
type Stores struct {
	Users       auth.UserStore
	Tokens      auth.TokenStore
	Revocations auth.RevocationStore
	Scopes      auth.ScopeStore
}

// Backing makes the stores under test.
type Backing struct {
	// New makes a fresh, empty backing (a directory, a database) and
	// returns a function opening Stores on it; it is called twice for the
	// tests of two processes sharing one backing. Whatever it opens must
	// be closed through t.Cleanup. Passwords should be hashed at bcrypt's
	// minimum cost, for speed.
	New func(t *testing.T) func(t *testing.T) Stores
}

// T0 is the time the tests run at: a whole second, so stores that keep
// microseconds (PostgreSQL) and nanoseconds (JSON) agree.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs the suite.
func Run(t *testing.T, b Backing) {
	t.Run("Users", func(t *testing.T) { testUsers(t, b.New(t)(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, b.New(t)(t)) })
	t.Run("Revocations", func(t *testing.T) { testRevocations(t, b.New(t)(t)) })
	t.Run("Scopes", func(t *testing.T) { testScopes(t, b.New(t)(t)) })
	t.Run("VerifierRevocationAtOnce", func(t *testing.T) { testVerifier(t, b.New(t)(t)) })
	t.Run("Shared", func(t *testing.T) {
		open := b.New(t)
		testShared(t, open(t), open(t))
	})
}

func mustAdd(t *testing.T, u auth.UserStore, name string, role auth.Role) {
	t.Helper()
	if err := u.Add(name, "pw-"+name+"-secret", role, T0); err != nil {
		t.Fatalf("Add %s: %v", name, err)
	}
}

func testUsers(t *testing.T, s Stores) {
	u := s.Users
	mustAdd(t, u, "bob", auth.RolePublish)
	mustAdd(t, u, "alice", auth.RoleAdmin)
	if err := u.Add("alice", "other-secret", auth.RoleRead, T0); !errors.Is(err, auth.ErrUserExists) {
		t.Errorf("Add of an existing user: %v, want ErrUserExists", err)
	}
	if err := u.Add("Bad Name", "pw-secret", auth.RoleRead, T0); !errors.Is(err, auth.ErrBadUserName) {
		t.Errorf("Add of a bad name: %v", err)
	}
	if err := u.Add("carol", "", auth.RoleRead, T0); !errors.Is(err, auth.ErrBadPassword) {
		t.Errorf("Add with an empty password: %v", err)
	}
	var names []string
	for _, x := range u.List(T0) {
		names = append(names, x.Name+"/"+x.Role.String())
	}
	if d := cmp.Diff([]string{"alice/admin", "bob/publish"}, names); d != "" {
		t.Errorf("List (-want +got):\n%s", d)
	}
	a, ok := u.Get("alice", T0)
	if !ok || a.Role != auth.RoleAdmin || !a.Created.Equal(T0) || a.Hash == "" || !a.PasswordChanged.IsZero() {
		t.Errorf("Get alice: %+v %v", a, ok)
	}
	if _, ok := u.Get("nobody", T0); ok {
		t.Errorf("Get of an unknown user found one")
	}
	if x, err := u.Authenticate("alice", "pw-alice-secret", T0); err != nil || x.Name != "alice" {
		t.Errorf("Authenticate: %+v %v", x, err)
	}
	for _, c := range [][2]string{{"alice", "wrong-secret"}, {"nobody", "pw-alice-secret"}} {
		if _, err := u.Authenticate(c[0], c[1], T0); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("Authenticate(%s, %s): %v, want ErrBadCredentials", c[0], c[1], err)
		}
	}
	if err := u.SetRole("bob", auth.RoleRead); err != nil {
		t.Fatal(err)
	}
	if x, _ := u.Get("bob", T0); x.Role != auth.RoleRead {
		t.Errorf("after SetRole: %v", x.Role)
	}
	for name, err := range map[string]error{
		"SetRole":        u.SetRole("nobody", auth.RoleRead),
		"Remove":         u.Remove("nobody"),
		"ChangePassword": u.ChangePassword("nobody", "pw-new-secret", T0),
	} {
		if !errors.Is(err, auth.ErrNoSuchUser) {
			t.Errorf("%s of an unknown user: %v, want ErrNoSuchUser", name, err)
		}
	}
	// A password change cuts off tokens issued before it, also those
	// issued in the same second, but not those issued after.
	at := T0.Add(90*time.Minute + 500*time.Millisecond)
	if err := u.ChangePassword("alice", "pw-new-secret", at); err != nil {
		t.Fatal(err)
	}
	a, _ = u.Get("alice", at)
	sec := at.Truncate(time.Second) // iat has whole seconds
	if a.TokenCurrent(sec.Add(-time.Second)) || a.TokenCurrent(sec) || !a.TokenCurrent(a.IssueTime(at)) || a.IssueTime(at).Sub(at) > time.Second {
		t.Errorf("after ChangePassword at %v: PasswordChanged %v, IssueTime %v", at, a.PasswordChanged, a.IssueTime(at))
	}
	// A second change in the same second moves the cut past the tokens
	// issued after the first.
	first := a.IssueTime(at)
	if err := u.ChangePassword("alice", "pw-third-secret", at); err != nil {
		t.Fatal(err)
	}
	a, _ = u.Get("alice", at)
	if a.TokenCurrent(first) {
		t.Errorf("a token issued after the first change survives the second (cut %v, iat %v)", a.PasswordChanged, first)
	}
	if _, err := u.Authenticate("alice", "pw-third-secret", at); err != nil {
		t.Errorf("new password: %v", err)
	}
	if _, err := u.Authenticate("alice", "pw-alice-secret", at); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("old password still works: %v", err)
	}
	if err := u.Remove("bob"); err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Get("bob", T0); ok {
		t.Errorf("removed user still there")
	}
	if err := u.Reload(); err != nil {
		t.Errorf("Reload: %v", err)
	}
}

// claims are a token's claims as an Issuer makes them.
func claims(user string, role auth.Role, id string, iat time.Time) auth.Claims {
	return auth.Claims{Subject: user, Role: role, ID: id, Issuer: auth.DefaultIssuer, Audience: auth.DefaultAudience,
		IssuedAt: iat, NotBefore: iat, ExpiresAt: iat.Add(24 * time.Hour)}
}

func testTokens(t *testing.T, s Stores) {
	tk := s.Tokens
	add := func(tok string, c auth.Claims) auth.TokenRecord {
		t.Helper()
		r, err := tk.Add(tok, c, T0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a1 := add("token-a1", claims("alice", auth.RolePublish, "jti-a1", T0))
	a2 := add("token-a2", claims("alice", auth.RoleRead, "jti-a2", T0.Add(time.Second)))
	b1 := add("token-b1", claims("bob", auth.RolePublish, "jti-b1", T0))
	old := add("token-old", claims("carol", auth.RoleRead, "jti-old", T0.Add(-48*time.Hour)))
	want := auth.TokenRecord{Key: auth.TokenKey("token-a2"), ID: "jti-a2", User: "alice", Role: auth.RoleRead, Readonly: true,
		CIDRWhitelist: []string{}, Created: T0.Add(time.Second), Expires: T0.Add(24*time.Hour + time.Second)}
	if d := cmp.Diff(want, a2); d != "" {
		t.Errorf("Add (-want +got):\n%s", d)
	}
	if got, ok := tk.Get(a2.Key, T0); !ok || !cmp.Equal(want, got) {
		t.Errorf("Get: %v %s", ok, cmp.Diff(want, got))
	}
	if _, ok := tk.Get(auth.TokenKey("never"), T0); ok {
		t.Errorf("Get of an unknown key found one")
	}
	ids := func(rs []auth.TokenRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	if d := cmp.Diff([]string{"jti-a1", "jti-a2"}, ids(tk.List("alice", T0))); d != "" {
		t.Errorf("List(alice) (-want +got):\n%s", d)
	}
	all := ids(tk.List("", T0))
	if !slices.Contains(all, b1.ID) || slices.Contains(all, old.ID) || len(all) != 3 {
		t.Errorf("List(\"\") = %v: want the three unexpired tokens", all)
	}
	before := s.Revocations.Snapshot()
	rec, err := tk.Revoke(a1.Key, s.Revocations, T0)
	if err != nil || rec.ID != "jti-a1" {
		t.Fatalf("Revoke: %+v %v", rec, err)
	}
	if !s.Revocations.IsRevoked("jti-a1") || s.Revocations.Snapshot() == before || !s.Revocations.Snapshot().Has("jti-a1") {
		t.Errorf("after Revoke the jti is not in the published set")
	}
	if _, ok := tk.Get(a1.Key, T0); ok {
		t.Errorf("revoked token still recorded")
	}
	if _, err := tk.Revoke(a1.Key, s.Revocations, T0); !errors.Is(err, auth.ErrNoSuchToken) {
		t.Errorf("second Revoke: %v, want ErrNoSuchToken", err)
	}
	recs, err := tk.RevokeUser("alice", s.Revocations, T0)
	if err != nil || len(recs) != 1 || recs[0].ID != "jti-a2" {
		t.Errorf("RevokeUser: %v %v", ids(recs), err)
	}
	if recs, err := tk.RevokeUser("nobody", s.Revocations, T0); err != nil || len(recs) != 0 {
		t.Errorf("RevokeUser of a user without tokens: %v %v", recs, err)
	}
	if !s.Revocations.IsRevoked("jti-a2") || s.Revocations.IsRevoked("jti-b1") {
		t.Errorf("revocations after RevokeUser: %v", s.Revocations.List())
	}
	if d := cmp.Diff([]string{"jti-b1"}, ids(tk.List("", T0))); d != "" {
		t.Errorf("List after revoking (-want +got):\n%s", d)
	}
	if err := tk.Reload(); err != nil {
		t.Errorf("Reload: %v", err)
	}
}

func testRevocations(t *testing.T, s Stores) {
	r := s.Revocations
	if r.IsRevoked("x") || len(r.List()) != 0 || r.Snapshot().Len() != 0 {
		t.Fatalf("a new store has revocations")
	}
	dead := auth.Revocation{ID: "dead", Expires: T0.Add(-2 * time.Hour), Revoked: T0.Add(-3 * time.Hour)}
	if err := r.Revoke(T0.Add(-3*time.Hour), dead); err != nil {
		t.Fatal(err)
	}
	s0 := r.Snapshot()
	if err := r.Refresh(T0); err != nil || r.Snapshot() != s0 {
		t.Errorf("Refresh without a change published a new set (%v)", err)
	}
	if err := r.Revoke(T0, auth.Revocation{ID: "b", Expires: T0.Add(time.Hour)}, auth.Revocation{ID: "a", Revoked: T0.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	want := []auth.Revocation{
		{ID: "a", Revoked: T0.Add(-time.Minute)},
		{ID: "b", Expires: T0.Add(time.Hour), Revoked: T0},
	}
	// The entry of a token dead for over an hour is dropped on a write.
	if d := cmp.Diff(want, r.List()); d != "" {
		t.Errorf("List (-want +got):\n%s", d)
	}
	if !r.IsRevoked("a") || !r.IsRevoked("b") || r.IsRevoked("dead") || r.Snapshot() == s0 {
		t.Errorf("IsRevoked after Revoke")
	}
	if err := r.Reload(); err != nil {
		t.Errorf("Reload: %v", err)
	}
}

func testScopes(t *testing.T, s Stores) {
	sc := s.Scopes
	if err := sc.Add("@team", "alice", T0); err != nil {
		t.Fatal(err)
	}
	if err := sc.Add("team", "bob", T0); !errors.Is(err, auth.ErrScopeExists) {
		t.Errorf("second Add: %v, want ErrScopeExists", err)
	}
	if err := sc.Add("@Bad", "alice", T0); err == nil {
		t.Errorf("Add of a bad scope name succeeded")
	}
	for _, m := range []string{"carol", "bob", "alice", "bob"} { // the owner is not listed as a member
		if err := sc.AddMember("@team", m); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.RemoveMember("team", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := sc.AddMember("@none", "bob"); !errors.Is(err, auth.ErrNoSuchScope) {
		t.Errorf("AddMember to an unknown scope: %v", err)
	}
	if err := sc.RemoveMember("@none", "bob"); !errors.Is(err, auth.ErrNoSuchScope) {
		t.Errorf("RemoveMember from an unknown scope: %v", err)
	}
	want := auth.Scope{Name: "team", Owner: "alice", Members: []string{"bob"}, Origin: auth.ScopeOrganization, Created: T0}
	got, ok := sc.Get("team", T0)
	if d := cmp.Diff(want, got); !ok || d != "" {
		t.Errorf("Get (-want +got):\n%s", d)
	}
	if !got.Allows("alice") || !got.Allows("bob") || got.Allows("carol") {
		t.Errorf("Allows")
	}
	c, err := sc.Claim("new", "dave", T0)
	if err != nil || c.Owner != "dave" || c.Origin != auth.ScopeFirstPublish || len(c.Members) != 0 {
		t.Errorf("Claim of a new scope: %+v %v", c, err)
	}
	if c, err := sc.Claim("team", "dave", T0); err != nil || c.Owner != "alice" {
		t.Errorf("Claim of an owned scope: %+v %v", c, err)
	}
	added, err := sc.Seed(map[string][]string{"team": {"zed"}, "old": {"erin", "frank", "erin", "gail"}, "empty": nil}, T0)
	if err != nil || !cmp.Equal([]string{"old"}, added) {
		t.Errorf("Seed: %v %v", added, err)
	}
	if again, err := sc.Seed(map[string][]string{"old": {"x"}}, T0); err != nil || len(again) != 0 {
		t.Errorf("second Seed: %v %v", again, err)
	}
	var list []string
	for _, x := range sc.List(T0) {
		list = append(list, fmt.Sprintf("%s:%s:%v:%s", x.Name, x.Owner, x.Members, x.Origin))
	}
	wantList := []string{"new:dave:[]:first-publish", "old:erin:[frank gail]:existing", "team:alice:[bob]:organization"}
	if d := cmp.Diff(wantList, list); d != "" {
		t.Errorf("List (-want +got):\n%s", d)
	}
	if err := sc.Reload(); err != nil {
		t.Errorf("Reload: %v", err)
	}
}

func testKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
}

func testVerifier(t *testing.T, s Stores) {
	keys := &auth.KeySet{}
	keys.SetSigner(testKey())
	is := &auth.Issuer{Keys: keys}
	v := &auth.Verifier{Keys: keys, Revocations: s.Revocations}
	tok, c, err := is.Issue("alice", auth.RolePublish, T0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tokens.Add(tok, c, T0); err != nil {
		t.Fatal(err)
	}
	for range 2 { // uncached, then cached
		if _, err := v.Verify(tok, T0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Tokens.Revoke(auth.TokenKey(tok), s.Revocations, T0); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok, T0); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("cached Verify right after Revoke in the same process: %v, want ErrRevoked", err)
	}
}

// eventually polls cond for up to 10 s: correctness, not speed (the
// propagation time is measured in benchmarks).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("%s: not seen within 10s", what)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testShared: changes made through one process reach another on the
// same backing: a revoked token (cached in the other's Verifier), a
// removed and a demoted user, a scope member.
func testShared(t *testing.T, a, b Stores) {
	keys := &auth.KeySet{}
	keys.SetSigner(testKey())
	is := &auth.Issuer{Keys: keys}
	vb := &auth.Verifier{Keys: keys, Revocations: b.Revocations}
	mustAdd(t, a.Users, "alice", auth.RoleAdmin)
	mustAdd(t, a.Users, "bob", auth.RolePublish)
	eventually(t, "user added elsewhere", func() bool { _, ok := b.Users.Get("alice", time.Now()); return ok })
	tok, c, err := is.Issue("alice", auth.RolePublish, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Tokens.Add(tok, c, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := vb.Verify(tok, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Tokens.Get(auth.TokenKey(tok), time.Now()); !ok {
		// File records are re-read on the next refresh; give them time.
		eventually(t, "token record", func() bool { _, ok := b.Tokens.Get(auth.TokenKey(tok), time.Now()); return ok })
	}
	if _, err := a.Tokens.Revoke(auth.TokenKey(tok), a.Revocations, time.Now()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "revocation in the other process's cached Verify", func() bool {
		_, err := vb.Verify(tok, time.Now())
		return errors.Is(err, auth.ErrRevoked)
	})
	if err := a.Users.SetRole("alice", auth.RoleRead); err != nil {
		t.Fatal(err)
	}
	eventually(t, "demotion", func() bool { u, _ := b.Users.Get("alice", time.Now()); return u.Role == auth.RoleRead })
	if err := a.Users.Remove("bob"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "removal", func() bool { _, ok := b.Users.Get("bob", time.Now()); return !ok })
	if err := a.Scopes.Add("@team", "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "scope", func() bool { _, ok := b.Scopes.Get("team", time.Now()); return ok })
	if err := b.Scopes.AddMember("@team", "carol"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "member", func() bool { x, _ := a.Scopes.Get("team", time.Now()); return x.Allows("carol") })
	// A claim through either sees the other's owner.
	if x, err := b.Scopes.Claim("team", "mallory", time.Now()); err != nil || x.Owner != "alice" {
		t.Errorf("Claim of a scope owned elsewhere: %+v %v", x, err)
	}
}
