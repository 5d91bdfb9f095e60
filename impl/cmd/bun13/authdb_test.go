package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/auth/pgauth"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
)

// TestAuthDatabaseCommands: bun13 user, token, scope and key on the
// shared PostgreSQL store (--database, or BUN13_REGISTRY_DATABASE), seen
// by a replica open on the same database.
func TestAuthDatabaseCommands(t *testing.T) {
	db := pgtemp.New(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	envs := map[string]string{envDatabase: db}
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		return cliRun(t, "", envs, stdin, args...)
	}
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		out, errs, code := run(stdin, args...)
		if code != 0 {
			t.Fatalf("bun13 %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	// A replica of the registry on the database, with its own key.
	replica, err := registry.OpenAuthDB(context.Background(), db, filepath.Join(dir, "replica.key"), 0, pgauth.Options{Replica: "replica-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()

	if out := mustRun("alice-pw-1\n", "user", "add", "alice", "--role", "publish", "--database", db); out != "added user alice (publish)\n" {
		t.Errorf("user add: %q", out)
	}
	if out := mustRun("", "user", "list"); !regexp.MustCompile(`^alice\tpublish\t\d{4}-`).MatchString(out) {
		t.Errorf("user list through the environment: %q", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := replica.Users.Get("alice", time.Now()); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica never saw the user the CLI added")
		}
		time.Sleep(10 * time.Millisecond)
	}
	tok := strings.TrimSpace(mustRun("", "token", "issue", "--user", "alice", "--data", data))
	id, err := replica.Verify(tok, time.Now())
	if err != nil || id.User != "alice" {
		t.Fatalf("the replica verifying a token the CLI signed with its own key: %+v %v", id, err)
	}
	if out := mustRun("", "token", "list", "--user", "alice"); !strings.Contains(out, id.TokenID+"\talice\tpublish\t") {
		t.Errorf("token list: %q", out)
	}
	if out := mustRun("", "token", "revoke", id.TokenID); out != "revoked token "+id.TokenID+" of alice\n" {
		t.Errorf("token revoke: %q", out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := replica.Verify(tok, time.Now()); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica still accepts a token revoked with the CLI")
		}
		time.Sleep(10 * time.Millisecond)
	}

	if _, errs, code := run("", "scope", "add", "@team", "--owner", "nobody"); code == 0 || !strings.Contains(errs, "no such user") {
		t.Errorf("scope add with an unknown owner: %d %s", code, errs)
	}
	if out := mustRun("", "scope", "add", "@team", "--owner", "alice"); out != "added scope @team (owner alice)\n" {
		t.Errorf("scope add: %q", out)
	}
	mustRun("bob-pw-1\n", "user", "add", "bob")
	mustRun("", "scope", "member", "add", "@team", "bob")
	if out := mustRun("", "scope", "list"); out != "@team\talice\tbob\torganization\n" {
		t.Errorf("scope list: %q", out)
	}

	// Keys: the replica's (live) and the CLI's (registered by token
	// issue; the CLI is gone, so not live).
	out := mustRun("", "key", "list")
	replicaKID := replica.Keys.Signer()
	if !strings.Contains(out, replicaKID+"\t") || !strings.Contains(out, "replica-1 (live)") || strings.Count(out, "\n") != 2 {
		t.Errorf("key list:\n%s", out)
	}
	if _, errs, code := run("", "key", "retire", replicaKID); code == 0 || !strings.Contains(errs, "replica-1") || !strings.Contains(errs, "--force") {
		t.Errorf("key retire of a live replica's key: %d %s", code, errs)
	}
	if out := mustRun("", "key", "retire", replicaKID, "--force"); !strings.Contains(out, "retired key "+replicaKID) {
		t.Errorf("key retire --force: %q", out)
	}
	for deadline := time.Now().Add(10 * time.Second); replica.Keys.Signer() != ""; {
		if time.Now().After(deadline) {
			t.Fatal("the replica still signs with its retired key")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out := mustRun("", "key", "list"); !regexp.MustCompile(replicaKID + `\t\S+\t\d{4}-`).MatchString(out) {
		t.Errorf("key list after retiring: %q", out)
	}

	if out := mustRun("", "user", "remove", "alice"); out != "removed user alice and revoked 0 token(s)\n" {
		t.Errorf("user remove: %q", out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, ok := replica.Users.Get("alice", time.Now()); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica still has the user removed with the CLI")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, code := cliRun(t, "", nil, "", "key", "retire", replicaKID); code != 2 {
		t.Errorf("key retire without a database: exit %d, want 2", code)
	}
	// Without a database, key list shows the key file.
	if out, errs, code := cliRun(t, "", nil, "", "key", "list", "--data", data); code != 0 || !strings.Contains(out, "file "+filepath.Join(data, auth.KeyFile)) {
		t.Errorf("key list of the files: %d %q %s", code, out, errs)
	}
}
