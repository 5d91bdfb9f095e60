package registry

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/auth/pgauth"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
)

// dbReplica is one registry replica on a shared auth database, with its
// own key file.
func dbReplica(t *testing.T, url, name string) (*Auth, string) {
	t.Helper()
	dir := t.TempDir()
	a, err := OpenAuthDB(context.Background(), url, filepath.Join(dir, auth.KeyFile), 0, pgauth.Options{Cost: 4, Replica: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	store, err := config.NewStore(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(t.Context(), Options{Store: store, Docs: docs.NewFS(filepath.Join(dir, "packages")), Blobs: blobs.NewFS(filepath.Join(dir, "packages")), Auth: a,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(srv)
	t.Cleanup(h.Close)
	return a, h.URL
}

func waitWhoami(t *testing.T, url, token string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, _ := liveDo(t, "GET", url+"/-/whoami", token, nil)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("whoami on %s: %d, want %d within 10s", url, code, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAuthDBReplicas: two replicas, each with its own signing key, on one
// auth database. A token issued by one works on the other; revoked or
// its user removed through one, it is refused by that one at once and by
// the other soon after; the admin is created once.
func TestAuthDBReplicas(t *testing.T) {
	url := pgtemp.New(t)
	a, urlA := dbReplica(t, url, "a")
	b, urlB := dbReplica(t, url, "b")
	ctx := context.Background()
	pw, err := a.EnsureAdmin(ctx, "admin", time.Now())
	if err != nil || pw == "" {
		t.Fatalf("EnsureAdmin on an empty database: %q %v", pw, err)
	}
	if again, err := b.EnsureAdmin(ctx, "admin", time.Now()); again != "" || err != nil {
		t.Fatalf("EnsureAdmin on the second replica: %q %v", again, err)
	}
	if _, _, err := b.Register("alice", "pw-alice-secret", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.Login("alice", "pw-alice-secret", time.Now())
	if err != nil {
		t.Fatalf("login on a with a user registered on b: %v", err)
	}
	waitWhoami(t, urlB, tok, 200) // b verifies a's key
	waitWhoami(t, urlA, tok, 200)
	if err := a.Logout(tok, time.Now()); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := liveDo(t, "GET", urlA+"/-/whoami", tok, nil); code != 401 {
		t.Errorf("the replica that revoked: %d, want 401 at once", code)
	}
	waitWhoami(t, urlB, tok, 401)

	tok2, _, err := b.Login("alice", "pw-alice-secret", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	waitWhoami(t, urlA, tok2, 200)
	// A password changed through a refuses b's older tokens too.
	if err := a.ChangePassword("alice", "pw-alice-secret", "pw-alice-second", time.Now()); err != nil {
		t.Fatal(err)
	}
	waitWhoami(t, urlB, tok2, 401)
	tok2, _, err = b.Login("alice", "pw-alice-second", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	waitWhoami(t, urlA, tok2, 200)
	if err := b.Users.Remove("alice"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := liveDo(t, "GET", urlB+"/-/whoami", tok2, nil); code != 401 {
		t.Errorf("the replica that removed the user: %d, want 401 at once", code)
	}
	waitWhoami(t, urlA, tok2, 401)
}

// TestImportAuthFiles: a single node's data directory into the database;
// its admin logs in on a replica with another key, and an old token
// (signed by the node's key) still works there.
func TestImportAuthFiles(t *testing.T) {
	dir := t.TempDir()
	old, err := OpenAuth(AuthPaths{Dir: dir}, 0)
	if err != nil {
		t.Fatal(err)
	}
	old.Users.(*auth.Users).Cost = 4
	if err := old.Users.Add("admin", "pw-admin-secret", auth.RoleAdmin, time.Now()); err != nil {
		t.Fatal(err)
	}
	oldTok, _, err := old.Login("admin", "pw-admin-secret", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	url := pgtemp.New(t)
	a, urlA := dbReplica(t, url, "a")
	for range 2 {
		if _, err := ImportAuthFiles(context.Background(), AuthPaths{Dir: dir}, a.DB); err != nil {
			t.Fatal(err)
		}
	}
	waitWhoami(t, urlA, oldTok, 200)
	if _, _, err := a.Login("admin", "pw-admin-secret", time.Now()); err != nil {
		t.Errorf("imported admin login: %v", err)
	}
}

// TestAuthDBVerifyOffline: once a token is verified, verifying it again
// (signature cache, revocations, the user's existence and role) takes
// no connection from the pool: the hot path never touches the network.
func TestAuthDBVerifyOffline(t *testing.T) {
	url := pgtemp.New(t)
	// No backstop, whose periodic check would take a connection.
	a, err := OpenAuthDB(context.Background(), url, filepath.Join(t.TempDir(), auth.KeyFile), 0, pgauth.Options{Cost: 4, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Users.Add("alice", "pw-alice-secret", auth.RolePublish, time.Now()); err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.Login("alice", "pw-alice-secret", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(tok, time.Now()); err != nil {
		t.Fatal(err)
	}
	before := a.DB.Pool().Stat().AcquireCount()
	for range 100 {
		if _, err := a.Verify(tok, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.DB.Pool().Stat().AcquireCount() - before; n != 0 {
		t.Errorf("100 cached verifications took %d connections from the pool, want 0", n)
	}
}
