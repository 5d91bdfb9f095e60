package replicatest

import (
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/testenv"
)

// TestClientsThroughBalancer: npm, pnpm, yarn and bun publish and install
// through nginx, so each client's consecutive requests (login, packument,
// tarball, publish) land on different replicas.
func TestClientsThroughBalancer(t *testing.T) {
	c := start(t, Options{})
	cl := NewClient()
	// npm login through the balancer: the token one replica issues is
	// accepted by the others (whoami goes to the next one).
	t.Run("npm-login", func(t *testing.T) {
		testenv.LookPath(t, "npm", registrytest.ClientInstall("npm"))
		n := registrytest.NewNpm(t, c.URL)
		work := t.TempDir()
		out := n.Interactive(work, map[string]string{"Username:": "bob", "Password:": Password("bob")}, "login")
		if !strings.Contains(out, "Logged in") {
			t.Fatalf("npm login: %s", out)
		}
		for range len(c.Replicas) {
			if got := strings.TrimSpace(n.Run(work, false, "whoami")); got != "bob" {
				t.Fatalf("npm whoami: %q", got)
			}
		}
	})
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	registrytest.SeedClientDeps(t, cl, c.URL, token)
	for _, client := range []string{"npm", "pnpm", "yarn", "bun"} {
		t.Run(client, func(t *testing.T) {
			testenv.LookPath(t, client, registrytest.ClientInstall(client))
			registrytest.RoundTrip(t, cl, client, c.URL, token)
		})
	}
	served := c.Served()
	t.Logf("requests per replica through the balancer: %v", served)
	for _, r := range c.Replicas {
		if served[r.ID] == 0 {
			t.Errorf("%s answered no request through the balancer: %v", r.ID, served)
		}
	}
}
