package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/registry/registrytest"
)

// bun13 scope changes reach a running server.
func TestScopeCommands(t *testing.T) {
	s := serveRegistry(t)
	data := filepath.Join(s.dir, "data")
	for _, u := range []string{"alice", "bob"} {
		if _, errs, code := cliRun(t, "", nil, u+"-pw-1\n", "user", "add", u, "--role", "publish", "--data", data); code != 0 {
			t.Fatalf("user add %s: %s", u, errs)
		}
	}
	if _, errs, code := cliRun(t, "", nil, "", "scope", "add", "@team", "--owner", "nobody", "--data", data); code == 0 || !strings.Contains(errs, "no such user") {
		t.Errorf("scope add with an unknown owner: %d %s", code, errs)
	}
	if out, errs, code := cliRun(t, "", nil, "", "scope", "add", "@team", "--owner", "alice", "--data", data); code != 0 || !strings.Contains(out, "@team") {
		t.Fatalf("scope add: %d %s %s", code, out, errs)
	}
	bob := login(t, s.url, "bob", "bob-pw-1")
	publish := func() int {
		tgz := registrytest.Tarball("@team/tool", "1.0.0")
		code, _ := httpJSON(t, "PUT", s.url+"/@team%2ftool", bob, registrytest.PublishDoc("@team/tool", "1.0.0", tgz))
		return code
	}
	if code := publish(); code != 403 {
		t.Errorf("bob publishing in @team: %d, want 403", code)
	}
	if _, errs, code := cliRun(t, "", nil, "", "scope", "member", "add", "@team", "bob", "--data", data); code != 0 {
		t.Fatalf("scope member add: %s", errs)
	}
	deadline := time.Now().Add(5 * time.Second)
	code := publish()
	for code == 403 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		code = publish()
	}
	if code != 201 {
		t.Errorf("bob publishing after scope member add: %d", code)
	}
	out, _, _ := cliRun(t, "", nil, "", "scope", "list", "--data", data)
	if !strings.Contains(out, "@team\talice\tbob\torganization") {
		t.Errorf("scope list: %q", out)
	}
}
