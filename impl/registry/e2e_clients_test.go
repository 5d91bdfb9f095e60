package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/testenv"

	"github.com/bun13/bun13/impl/config"
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
	// A scoped package with a dependency, published over HTTP.
	for _, p := range []struct{ name, dep string }{{"clients-dep", ""}, {"@clients/lib", "clients-dep"}} {
		doc := publishDoc(p.name, "1.0.0", tarball(p.name, "1.0.0"))
		if p.dep != "" {
			doc["versions"].(map[string]any)["1.0.0"].(map[string]any)["dependencies"] = map[string]string{p.dep: "^1.0.0"}
		}
		b, _ := json.Marshal(doc)
		res, err := httpClient.Do(mustReq("PUT", live.url+"/"+escapeName(p.name), token, b))
		if err != nil || res.StatusCode != 201 {
			t.Fatalf("publish %s: %v %v", p.name, err, res)
		}
		res.Body.Close()
	}
	u, _ := url.Parse(live.url)
	hostPort := u.Host

	run := func(t *testing.T, dir string, env []string, name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		cmd.Env = env
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	baseEnv := func(home string) []string {
		env := []string{"HOME=" + home, "NO_COLOR=1", "CI=1"}
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			lk := strings.ToLower(k)
			if strings.HasPrefix(lk, "npm_") || strings.HasPrefix(lk, "yarn_") || strings.HasPrefix(lk, "pnpm_") ||
				strings.HasPrefix(lk, "bun_") || k == "HOME" || k == "CI" {
				continue
			}
			env = append(env, kv)
		}
		return env
	}
	checkInstalled := func(t *testing.T, app string, pkgs ...string) {
		t.Helper()
		for _, p := range pkgs {
			if _, err := os.Stat(filepath.Join(app, "node_modules", filepath.FromSlash(p), "index.js")); err != nil {
				t.Errorf("%s not installed: %v", p, err)
			}
		}
	}
	pkgJSON := func(t *testing.T, dir, name string) {
		writePkg(t, dir, map[string]any{"name": name, "version": "1.0.0", "description": "published by a client test", "main": "index.js", "license": "MIT"},
			map[string]string{"index.js": "module.exports = " + fmt.Sprintf("%q", name) + ";\n"})
	}
	served := func(t *testing.T, name string) {
		t.Helper()
		res, err := httpClient.Get(live.url + "/" + escapeName(name))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s not published: %d", name, res.StatusCode)
		}
	}

	t.Run("pnpm", func(t *testing.T) {
		testenv.LookPath(t, "pnpm", "npm install -g pnpm")
		home := t.TempDir()
		rc := fmt.Sprintf("registry=%s/\n//%s/:_authToken=%s\nstore-dir=%s\nupdate-notifier=false\n", live.url, hostPort, token, filepath.Join(home, "store"))
		env := baseEnv(home)
		pub := filepath.Join(home, "pub")
		pkgJSON(t, pub, "@clients/by-pnpm")
		os.WriteFile(filepath.Join(pub, ".npmrc"), []byte(rc), 0o600)
		run(t, pub, env, "pnpm", "publish", "--no-git-checks", "--access", "public")
		served(t, "@clients/by-pnpm")
		app := filepath.Join(home, "app")
		writePkg(t, app, map[string]any{"name": "app", "version": "0.0.0", "private": true}, nil)
		os.WriteFile(filepath.Join(app, ".npmrc"), []byte(rc), 0o600)
		run(t, app, env, "pnpm", "add", "@clients/lib", "@clients/by-pnpm")
		checkInstalled(t, app, "@clients/lib", "@clients/by-pnpm")
	})

	t.Run("yarn", func(t *testing.T) {
		testenv.LookPath(t, "yarn", "npm install -g @yarnpkg/cli-dist")
		home := t.TempDir()
		env := append(baseEnv(home), "YARN_ENABLE_TELEMETRY=0", "YARN_CACHE_FOLDER="+filepath.Join(home, "cache"),
			"YARN_GLOBAL_FOLDER="+filepath.Join(home, "global"), "YARN_ENABLE_IMMUTABLE_INSTALLS=0")
		// npmMinimalAgeGate: yarn 4.18 quarantines versions younger than a
		// minimum age by default; everything here was published a second ago.
		yrc := fmt.Sprintf("npmRegistryServer: %q\nnpmAuthToken: %q\nunsafeHttpWhitelist: [\"127.0.0.1\"]\nnodeLinker: node-modules\nenableGlobalCache: false\nnpmMinimalAgeGate: 0\n", live.url, token)
		pub := filepath.Join(home, "pub")
		pkgJSON(t, pub, "@clients/by-yarn")
		os.WriteFile(filepath.Join(pub, ".yarnrc.yml"), []byte(yrc), 0o600)
		os.WriteFile(filepath.Join(pub, "yarn.lock"), nil, 0o644)
		run(t, pub, env, "yarn", "install")
		run(t, pub, env, "yarn", "npm", "publish", "--access", "public")
		served(t, "@clients/by-yarn")
		app := filepath.Join(home, "app")
		writePkg(t, app, map[string]any{"name": "app", "version": "0.0.0", "private": true}, nil)
		os.WriteFile(filepath.Join(app, ".yarnrc.yml"), []byte(yrc), 0o600)
		os.WriteFile(filepath.Join(app, "yarn.lock"), nil, 0o644)
		run(t, app, env, "yarn", "add", "@clients/lib", "@clients/by-yarn")
		checkInstalled(t, app, "@clients/lib", "clients-dep", "@clients/by-yarn")
	})

	t.Run("bun", func(t *testing.T) {
		testenv.LookPath(t, "bun", "npm install -g bun")
		home := t.TempDir()
		env := append(baseEnv(home), "BUN_INSTALL_CACHE_DIR="+filepath.Join(home, "cache"), "DO_NOT_TRACK=1")
		bunfig := fmt.Sprintf("[install]\nregistry = { url = %q, token = %q }\n", live.url+"/", token)
		pub := filepath.Join(home, "pub")
		pkgJSON(t, pub, "@clients/by-bun")
		os.WriteFile(filepath.Join(pub, "bunfig.toml"), []byte(bunfig), 0o600)
		run(t, pub, env, "bun", "publish", "--access", "public")
		served(t, "@clients/by-bun")
		app := filepath.Join(home, "app")
		writePkg(t, app, map[string]any{"name": "app", "version": "0.0.0", "private": true}, nil)
		os.WriteFile(filepath.Join(app, "bunfig.toml"), []byte(bunfig), 0o600)
		run(t, app, env, "bun", "add", "@clients/lib", "@clients/by-bun")
		checkInstalled(t, app, "@clients/lib", "clients-dep", "@clients/by-bun")
	})
}
