package registry

import (
	"net/http"
	"testing"
)

func TestLookAlikeNames(t *testing.T) {
	e := newEnv(t, 0)
	e.publish("alice", "left-pad", "1.0.0")
	for _, n := range []string{"leftpad", "left_pad", "left.pad", "left--pad", "l-e-f-t-p-a-d"} {
		r := e.do("PUT", "/"+n, "tok-bob", publishDoc(n, "1.0.0", tarball(n, "1.0.0")))
		if r.status != http.StatusForbidden {
			t.Errorf("bob publishing %s beside alice's left-pad: %d %s, want 403", n, r.status, r.body)
		}
		e.assertNotStored(n)
	}
	// The maintainer may; an admin may with the override, not without.
	e.publish("alice", "left_pad", "1.0.0")
	if r := e.do("PUT", "/leftpad", "tok-admin", publishDoc("leftpad", "1.0.0", tarball("leftpad", "1.0.0"))); r.status != http.StatusForbidden {
		t.Errorf("admin without the override: %d", r.status)
	}
	if r := e.do("PUT", "/leftpad?allow-similar=true", "tok-bob", publishDoc("leftpad", "1.0.0", tarball("leftpad", "1.0.0"))); r.status != http.StatusForbidden {
		t.Errorf("non-admin with the override: %d", r.status)
	}
	if r := e.do("PUT", "/leftpad?allow-similar=true", "tok-admin", publishDoc("leftpad", "1.0.0", tarball("leftpad", "1.0.0"))); r.status != http.StatusCreated {
		t.Errorf("admin with the override: %d %s", r.status, r.body)
	}
	// Existing names keep working: alice's left-pad gets new versions,
	// and a fresh server built from storage knows the names.
	e.publish("alice", "left-pad", "1.0.1")
	e2 := newEnv(t, 0, func(o *Options) { o.Docs, o.Blobs = e.srv.docStore, e.srv.blobStore })
	if r := e2.do("PUT", "/left.pad", "tok-bob", publishDoc("left.pad", "1.0.0", tarball("left.pad", "1.0.0"))); r.status != http.StatusForbidden {
		t.Errorf("after a restart: %d", r.status)
	}
	// Unrelated names are first-come.
	e.publish("bob", "right-pad", "1.0.0")
}
