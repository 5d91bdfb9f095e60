package registry

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/bun13/bun13/impl/auth"
)

func TestScopesHaveOwners(t *testing.T) {
	scopes, err := auth.OpenScopes(filepath.Join(t.TempDir(), auth.ScopesFile))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, 0, func(o *Options) { o.Scopes = scopes })
	// The attack: any publish-role user created @alice/anything.
	e.publish("alice", "@alice/one", "1.0.0")
	r := e.do("PUT", "/@alice%2ftwo", "tok-bob", publishDoc("@alice/two", "1.0.0", tarball("@alice/two", "1.0.0")))
	if r.status != http.StatusForbidden {
		t.Errorf("bob creating @alice/two: %d %s, want 403", r.status, r.body)
	}
	e.assertNotStored("@alice/two")
	if sc, ok := scopes.Get("alice", e.now); !ok || sc.Owner != "alice" || sc.Origin != auth.ScopeFirstPublish {
		t.Errorf("scope alice: %+v %v", sc, ok)
	}

	// Organizations: an admin creates one, its owner adds members.
	if r := e.do("PUT", "/-/bun13/scopes/@team", "tok-alice", map[string]string{"owner": "alice"}); r.status != http.StatusForbidden {
		t.Errorf("non-admin creating a scope: %d", r.status)
	}
	if r := e.do("PUT", "/-/bun13/scopes/@team", "tok-admin", map[string]string{"owner": "alice"}); r.status != http.StatusCreated {
		t.Fatalf("admin creating @team: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", "/-/bun13/scopes/@team", "tok-admin", map[string]string{"owner": "bob"}); r.status != http.StatusConflict {
		t.Errorf("creating @team again: %d", r.status)
	}
	if r := e.do("PUT", "/@team%2fx", "tok-bob", publishDoc("@team/x", "1.0.0", tarball("@team/x", "1.0.0"))); r.status != http.StatusForbidden {
		t.Errorf("bob in @team before being added: %d", r.status)
	}
	e.assertNotStored("@team/x")
	if r := e.do("PUT", "/-/org/team/user", "tok-bob", map[string]string{"user": "bob"}); r.status != http.StatusForbidden {
		t.Errorf("bob adding himself: %d", r.status)
	}
	if sc, _ := scopes.Get("team", e.now); len(sc.Members) != 0 {
		t.Errorf("members changed by a refused request: %v", sc.Members)
	}
	if r := e.do("PUT", "/-/org/@team/user", "tok-alice", map[string]string{"user": "bob", "role": "developer"}); r.status != http.StatusOK {
		t.Fatalf("owner adding bob: %d %s", r.status, r.body)
	}
	e.publish("bob", "@team/x", "1.0.0")
	if r := e.do("GET", "/-/org/team/user", "tok-bob", nil); r.status != http.StatusOK || r.json(t)["alice"] != "owner" || r.json(t)["bob"] != "developer" {
		t.Errorf("org ls: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/-/bun13/scopes", "tok-bob", nil); r.status != http.StatusForbidden {
		t.Errorf("non-admin scope list: %d", r.status)
	}
	if r := e.do("GET", "/-/bun13/scopes", "tok-admin", nil); r.status != http.StatusOK {
		t.Errorf("admin scope list: %d", r.status)
	}
	// Removing bob stops new packages, not his existing one (maintainers).
	if r := e.do("DELETE", "/-/org/team/user", "tok-admin", map[string]string{"user": "bob"}); r.status != http.StatusOK {
		t.Fatalf("remove bob: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", "/@team%2fy", "tok-bob", publishDoc("@team/y", "1.0.0", tarball("@team/y", "1.0.0"))); r.status != http.StatusForbidden {
		t.Errorf("bob after removal: %d", r.status)
	}
	e.publish("bob", "@team/x", "1.0.1")
	// Admins may create packages in any scope; unscoped names stay
	// first-come.
	e.publish("admin", "@alice/by-admin", "1.0.0")
	e.publish("bob", "anything-unscoped", "1.0.0")
}

// Data stored before scopes had owners: at the first start each scope
// found in the packages is owned by the first maintainer of its first
// package, other maintainers are members.
func TestScopesSeededFromExistingPackages(t *testing.T) {
	// The packages as an older server stored them (its scopes, kept in
	// memory here, are forgotten; the documents know nothing of scopes).
	old := newEnv(t, 0)
	old.publish("bob", "@legacy/b", "1.0.0")
	old.srv.scopes.AddMember("legacy", "alice")
	old.publish("alice", "@legacy/a", "1.0.0")
	old.publish("bob", "@bobs/tool", "1.0.0")
	path := filepath.Join(t.TempDir(), auth.ScopesFile)
	scopes, err := auth.OpenScopes(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, 0, func(o *Options) { o.Docs, o.Blobs = old.srv.docStore, old.srv.blobStore; o.Scopes = scopes })
	sc, ok := scopes.Get("legacy", e.now)
	if !ok || sc.Owner != "alice" || len(sc.Members) != 1 || sc.Members[0] != "bob" || sc.Origin != auth.ScopeExisting {
		t.Errorf("@legacy seeded as %+v (%v), want owner alice (first package @legacy/a), member bob", sc, ok)
	}
	if sc, _ := scopes.Get("bobs", e.now); sc.Owner != "bob" {
		t.Errorf("@bobs seeded as %+v", sc)
	}
	// Existing packages keep working; new ones follow the owners.
	e.publish("bob", "@legacy/b", "1.0.1")
	e.publish("bob", "@legacy/c", "1.0.0")
	if r := e.do("PUT", "/@bobs%2fx", "tok-alice", publishDoc("@bobs/x", "1.0.0", tarball("@bobs/x", "1.0.0"))); r.status != http.StatusForbidden {
		t.Errorf("alice in @bobs: %d", r.status)
	}
	// Seeding is idempotent: a restart changes nothing.
	reopened, _ := auth.OpenScopes(path)
	before := reopened.List(e.now)
	newEnv(t, 0, func(o *Options) { o.Docs, o.Blobs = old.srv.docStore, old.srv.blobStore; o.Scopes = reopened })
	if after := reopened.List(e.now); len(after) != len(before) {
		t.Errorf("scopes after a restart: %v, before %v", after, before)
	}
}
