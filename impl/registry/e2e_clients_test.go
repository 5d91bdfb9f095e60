package registry

import (
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/testenv"
)

// TestOtherClients publishes and installs with pnpm, yarn (berry) and
// bun, each run the way its users run it, against the registry. A client
// that is not on PATH is skipped with a message.
func TestOtherClients(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	live := startLive(t, config.Default().FeatureFlags|config.StrictIntegrity)
	token, _, err := live.auth.Login("alice", "pw-alice-secret", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	registrytest.SeedClientDeps(t, httpClient, live.url, token)
	for _, client := range []string{"pnpm", "yarn", "bun"} {
		t.Run(client, func(t *testing.T) {
			testenv.LookPath(t, client, registrytest.ClientInstall(client))
			registrytest.RoundTrip(t, httpClient, client, live.url, token)
		})
	}
}
