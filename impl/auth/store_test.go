package auth

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"
)

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", KeyFile)
	priv, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode %v, want 0600", mode)
	}
	loaded, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Equal(loaded) {
		t.Errorf("loaded key differs from generated key")
	}
	// The kid survives a reload because it is derived from the key.
	pub := loaded.Public().(ed25519.PublicKey)
	if KeyID(pub) != KeyID(priv.Public().(ed25519.PublicKey)) || len(KeyID(pub)) != 16 {
		t.Errorf("KeyID unstable or wrong length: %q", KeyID(pub))
	}
	if _, err := GenerateKeyFile(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second GenerateKeyFile: %v, want ErrExist", err)
	}
	again, _ := LoadKeyFile(path)
	if !priv.Equal(again) {
		t.Errorf("failed GenerateKeyFile replaced the key")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if d := cmp.Diff([]string{KeyFile}, names); d != "" {
		t.Errorf("files left beside the key (-want +got):\n%s", d)
	}

	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := LoadKeyFile(bad); err == nil {
		t.Errorf("LoadKeyFile accepted a non-PEM file")
	}
	if _, err := LoadKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadKeyFile(missing): %v", err)
	}
}

func TestRole(t *testing.T) {
	type row struct {
		Name                       string
		Read, Publish, Admin, Zero bool
	}
	var got []row
	for _, r := range []Role{0, RoleRead, RolePublish, RoleAdmin} {
		got = append(got, row{r.String(), r.Allows(RoleRead), r.Allows(RolePublish), r.Allows(RoleAdmin), r.Allows(0)})
	}
	want := []row{
		{"none", false, false, false, false},
		{"read", true, false, false, false},
		{"publish", true, true, false, false},
		{"admin", true, true, true, false},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("roles mismatch (-want +got):\n%s", d)
	}
	for _, r := range []Role{RoleRead, RolePublish, RoleAdmin} {
		p, err := ParseRole(r.String())
		if err != nil || p != r {
			t.Errorf("ParseRole(%q) = %v, %v", r, p, err)
		}
		b, _ := json.Marshal(r)
		var back Role
		if err := json.Unmarshal(b, &back); err != nil || back != r {
			t.Errorf("JSON round trip of %v: %s -> %v, %v", r, b, back, err)
		}
	}
	for _, s := range []string{"", "Admin", "none", "root"} {
		if _, err := ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) succeeded", s)
		}
	}
	if _, err := json.Marshal(Role(0)); err == nil {
		t.Errorf("marshalled the zero Role")
	}
}

func TestValidUserName(t *testing.T) {
	good := []string{"alice", "a", "bob-smith_2", "x.y", "o'neil", "(paren)!~*", strings.Repeat("a", 214)}
	bad := []string{"", "Alice", ".hidden", "a b", "a/b", "a:b", "a@b", "ünï", "a%20", strings.Repeat("a", 215)}
	for _, n := range good {
		if err := ValidUserName(n); err != nil {
			t.Errorf("ValidUserName(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidUserName(n); !errors.Is(err, ErrBadUserName) {
			t.Errorf("ValidUserName(%q) = %v, want ErrBadUserName", n, err)
		}
	}
}

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse") || CheckPassword(h, "correct horsf") || CheckPassword("garbage", "correct horse") {
		t.Errorf("CheckPassword gives wrong answers")
	}
	for _, pw := range []string{"", strings.Repeat("x", 73)} {
		if _, err := HashPassword(pw, bcrypt.MinCost); !errors.Is(err, ErrBadPassword) {
			t.Errorf("HashPassword(%d bytes) = %v, want ErrBadPassword", len(pw), err)
		}
	}
}

func openUsers(t *testing.T, path string) *Users {
	t.Helper()
	u, err := OpenUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	u.Cost = bcrypt.MinCost
	return u
}

func TestUsers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", UsersFile)
	u := openUsers(t, path)
	if err := u.Add("alice", "pw-alice", RoleAdmin, t0); err != nil {
		t.Fatal(err)
	}
	if err := u.Add("bob", "pw-bob", RoleRead, t0); err != nil {
		t.Fatal(err)
	}
	if err := u.Add("alice", "again", RoleRead, t0); !errors.Is(err, ErrUserExists) {
		t.Errorf("duplicate Add: %v, want ErrUserExists", err)
	}
	if err := u.Add("Bad Name", "pw", RoleRead, t0); !errors.Is(err, ErrBadUserName) {
		t.Errorf("bad name: %v", err)
	}
	if err := u.Add("carol", "pw", 0, t0); err == nil {
		t.Errorf("Add with zero role succeeded")
	}

	got, err := u.Authenticate("alice", "pw-alice", t0)
	if err != nil || got.Role != RoleAdmin {
		t.Errorf("Authenticate(alice) = %+v, %v", got, err)
	}
	for _, tc := range [][2]string{{"alice", "pw-bob"}, {"nobody", "pw-alice"}, {"alice", ""}} {
		if _, err := u.Authenticate(tc[0], tc[1], t0); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrBadCredentials", tc[0], tc[1], err)
		}
	}

	if err := u.SetPassword("bob", "new-pw"); err != nil {
		t.Fatal(err)
	}
	if err := u.SetRole("bob", RolePublish); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate("bob", "pw-bob", t0); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password still works: %v", err)
	}
	if err := u.SetRole("nobody", RoleRead); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("SetRole(nobody) = %v", err)
	}

	// A second store on the same file (the CLI) sees all of it, and the
	// file holds hashes, not passwords.
	u2 := openUsers(t, path)
	var names []string
	for _, x := range u2.List(t0) {
		names = append(names, fmt.Sprintf("%s:%s:%v", x.Name, x.Role, x.Created.Equal(t0)))
	}
	if d := cmp.Diff([]string{"alice:admin:true", "bob:publish:true"}, names); d != "" {
		t.Errorf("List mismatch (-want +got):\n%s", d)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "pw-alice") || !strings.Contains(string(data), "$2a$") {
		t.Errorf("users file does not look hashed:\n%s", data)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v, want 0600", fi.Mode().Perm())
	}

	u.Get("alice", t0) // the server's last stat: the next is due at t0+CheckInterval
	if err := u2.Remove("bob"); err != nil {
		t.Fatal(err)
	}
	if err := u2.Remove("bob"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("second Remove: %v", err)
	}
	// The server notices within CheckInterval on lookups, at once on login.
	if _, ok := u.Get("bob", t0); !ok {
		t.Errorf("Get(bob) within CheckInterval already reflects the removal: the stat is not rate-limited")
	}
	if _, ok := u.Get("bob", t0.Add(DefaultCheckInterval)); ok {
		t.Errorf("Get(bob) after CheckInterval still finds a removed user")
	}
	if err := u2.SetPassword("alice", "rotated"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate("alice", "rotated", t0); err != nil {
		t.Errorf("password changed by another process not seen at login: %v", err)
	}
}

// TestConcurrentWritersLoseNothing runs writers on separate stores of one
// file, as separate processes would: each write must re-read under the
// lock or the last writer's stale copy would drop others' users.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), UsersFile)
	var wg sync.WaitGroup
	for w := range 4 {
		u := openUsers(t, path)
		wg.Go(func() {
			for i := range 5 {
				if err := u.Add(fmt.Sprintf("w%d-%d", w, i), "pw", RoleRead, t0); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(openUsers(t, path).List(t0)); n != 20 {
		t.Errorf("%d users after 20 concurrent adds", n)
	}
}

func TestMemoryOnlyStores(t *testing.T) {
	u := openUsers(t, "")
	if err := u.Add("alice", "pw", RoleRead, t0); err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Get("alice", t0); !ok {
		t.Errorf("in-memory user lost")
	}
	var r Revocations
	if err := r.Revoke(t0, Revocation{ID: "x"}); err != nil || !r.IsRevoked("x") {
		t.Errorf("zero Revocations: %v, revoked=%v", err, r.IsRevoked("x"))
	}
}

// TestSameSizeRewriteIsSeen rewrites the file with content of the same
// size in quick succession, which a size+mtime check alone can miss.
func TestSameSizeRewriteIsSeen(t *testing.T) {
	path := filepath.Join(t.TempDir(), RevocationsFile)
	r, err := OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"aaaa", "bbbb", "cccc", "dddd"} {
		if err := writeFile(path, []byte(`[{"jti":"`+id+`","revoked":"2023-11-14T22:13:20Z"}]`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		if !r.IsRevoked(id) {
			t.Fatalf("rewrite to %s not seen", id)
		}
	}
	// A corrupt file keeps the last good list.
	os.WriteFile(path, []byte("{"), 0o600)
	if err := r.Reload(); err == nil {
		t.Errorf("corrupt file loaded without error")
	}
	if !r.IsRevoked("dddd") {
		t.Errorf("corrupt file discarded the last good list")
	}
}

func TestTokens(t *testing.T) {
	dir := t.TempDir()
	toks, err := OpenTokens(filepath.Join(dir, TokensFile))
	if err != nil {
		t.Fatal(err)
	}
	revs, err := OpenRevocations(filepath.Join(dir, RevocationsFile))
	if err != nil {
		t.Fatal(err)
	}
	is, v, _ := setup(t)
	v.Revocations = revs
	var recs []TokenRecord
	for i, u := range []string{"alice", "alice", "bob"} {
		tok, c := issue(t, is, u, RoleRead+Role(i), t0.Add(time.Duration(i)*time.Second))
		rec, err := toks.Add(tok, c, t0)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Key != TokenKey(tok) {
			t.Errorf("record key is not TokenKey(token)")
		}
		recs = append(recs, rec)
		if _, err := v.Verify(tok, t0); err != nil {
			t.Fatal(err)
		}
	}
	if d := cmp.Diff(recs[:2], toks.List("alice", t0)); d != "" {
		t.Errorf("List(alice) mismatch (-want +got):\n%s", d)
	}
	want := TokenRecord{Key: recs[0].Key, ID: recs[0].ID, User: "alice", Role: RoleRead, Readonly: true,
		CIDRWhitelist: []string{}, Created: t0, Expires: t0.Add(DefaultTTL)}
	if d := cmp.Diff(want, recs[0]); d != "" {
		t.Errorf("record mismatch (-want +got):\n%s", d)
	}

	got, err := toks.Revoke(recs[1].Key, revs, t0)
	if err != nil || got.ID != recs[1].ID {
		t.Fatalf("Revoke = %+v, %v", got, err)
	}
	if !revs.IsRevoked(recs[1].ID) {
		t.Errorf("revoked token's jti not in revocations")
	}
	if _, ok := toks.Get(recs[1].Key, t0); ok {
		t.Errorf("revoked record still listed")
	}
	if _, err := toks.Revoke(recs[1].Key, revs, t0); !errors.Is(err, ErrNoSuchToken) {
		t.Errorf("second Revoke: %v", err)
	}

	gone, err := toks.RevokeUser("bob", revs, t0)
	if err != nil || len(gone) != 1 || !revs.IsRevoked(recs[2].ID) {
		t.Errorf("RevokeUser(bob) = %v, %v", gone, err)
	}
	if n := len(toks.List("", t0)); n != 1 {
		t.Errorf("%d records left, want 1", n)
	}
	// Expired records are hidden and dropped on the next write.
	after := t0.Add(DefaultTTL + time.Hour)
	if n := len(toks.List("", after)); n != 0 {
		t.Errorf("List shows %d expired records", n)
	}
	tok, c := issue(t, is, "carol", RoleRead, after)
	if _, err := toks.Add(tok, c, after); err != nil {
		t.Fatal(err)
	}
	if _, ok := toks.Get(recs[0].Key, after); ok {
		t.Errorf("expired record kept after a write")
	}
}

func TestTokenKey(t *testing.T) {
	// sha512("abc"), FIPS 180-2 test vector.
	const want = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
	if got := TokenKey("abc"); got != want {
		t.Errorf("TokenKey(abc) = %s", got)
	}
}
