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

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/registry/pkgname"
	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/testenv"
)

// postinstallScript writes postinstall-ran in the installed package's
// directory.
const postinstallScript = `node -e "require('fs').writeFileSync('postinstall-ran', '1')"`

// checkServedScriptsAndBin fetches name's packument (full and
// abbreviated) and checks that version 1.0.0 carries the install script,
// hasInstallScript and the bin entries.
func checkServedScriptsAndBin(t *testing.T, base, name string, bin map[string]string) {
	t.Helper()
	for _, accept := range []string{"application/json", abbreviatedType} {
		req, _ := http.NewRequest("GET", base+"/"+escapeName(name), nil)
		req.Header.Set("Accept", accept)
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Versions map[string]struct {
				HasInstallScript bool              `json:"hasInstallScript"`
				Scripts          map[string]string `json:"scripts"`
				Bin              map[string]string `json:"bin"`
			} `json:"versions"`
		}
		err = json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("%s not published: %d %v", name, res.StatusCode, err)
		}
		v := p.Versions["1.0.0"]
		if !v.HasInstallScript {
			t.Errorf("%s (%s): hasInstallScript false", name, accept)
		}
		if accept == "application/json" && v.Scripts["postinstall"] != postinstallScript {
			t.Errorf("%s: scripts %v", name, v.Scripts)
		}
		if fmt.Sprint(v.Bin) != fmt.Sprint(bin) {
			t.Errorf("%s (%s): bin %v, want %v", name, accept, v.Bin, bin)
		}
	}
}

func checkBinLinked(t *testing.T, app, bin string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(app, "node_modules", ".bin", bin)); err != nil {
		t.Errorf("bin %s not linked: %v", bin, err)
	}
}

func checkPostinstallRan(t *testing.T, app, pkg string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(app, "node_modules", filepath.FromSlash(pkg), "postinstall-ran")); err != nil {
		t.Errorf("postinstall of %s did not run: %v", pkg, err)
	}
}

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
	// A scoped package with a dependency, published over HTTP (the
	// dependency in the tarball's package.json too: the registry serves
	// the tarball's).
	for _, p := range []struct{ name, dep string }{{"clients-dep", ""}, {"@clients/lib", "clients-dep"}} {
		pj := map[string]any{"name": p.name, "version": "1.0.0", "main": "index.js"}
		var extra map[string]any
		if p.dep != "" {
			pj["dependencies"] = map[string]string{p.dep: "^1.0.0"}
			extra = map[string]any{"dependencies": map[string]string{p.dep: "^1.0.0"}}
		}
		pjb, _ := json.Marshal(pj)
		tgz := registrytest.TarballOf(registrytest.Entry{Name: "package/package.json", Body: string(pjb)},
			registrytest.Entry{Name: "package/index.js", Body: "module.exports = " + fmt.Sprintf("%q", p.name) + ";\n"})
		doc := registrytest.PublishDocFor(p.name, "1.0.0", tgz, extra)
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
	// Each client publishes a package with an install script and a bin
	// entry; the packument must carry them (from the tarball).
	pkgJSON := func(t *testing.T, dir, name string) {
		_, bare := pkgname.Split(name)
		writePkg(t, dir, map[string]any{"name": name, "version": "1.0.0", "description": "published by a client test", "main": "index.js", "license": "MIT",
			"bin":     map[string]string{bare + "-cli": "cli.js"},
			"scripts": map[string]string{"postinstall": postinstallScript},
		}, map[string]string{
			"index.js": "module.exports = " + fmt.Sprintf("%q", name) + ";\n",
			"cli.js":   "#!/usr/bin/env node\nconsole.log('cli of " + name + "');\n",
		})
	}
	served := func(t *testing.T, name string) {
		t.Helper()
		_, bare := pkgname.Split(name)
		checkServedScriptsAndBin(t, live.url, name, map[string]string{bare + "-cli": "cli.js"})
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
		// pnpm 11+ runs a dependency's scripts only when allowBuilds says
		// so, and fails the install for a package whose packument shows
		// one that is not decided.
		os.WriteFile(filepath.Join(app, "pnpm-workspace.yaml"), []byte("packages: []\nallowBuilds:\n  '@clients/by-pnpm': true\n"), 0o644)
		run(t, app, env, "pnpm", "add", "@clients/lib", "@clients/by-pnpm")
		checkInstalled(t, app, "@clients/lib", "@clients/by-pnpm")
		checkBinLinked(t, app, "by-pnpm-cli")
		checkPostinstallRan(t, app, "@clients/by-pnpm")
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
		checkBinLinked(t, app, "by-yarn-cli")
		checkPostinstallRan(t, app, "@clients/by-yarn")
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
		// bun runs the scripts of trustedDependencies only.
		writePkg(t, app, map[string]any{"name": "app", "version": "0.0.0", "private": true, "trustedDependencies": []string{"@clients/by-bun"}}, nil)
		os.WriteFile(filepath.Join(app, "bunfig.toml"), []byte(bunfig), 0o600)
		run(t, app, env, "bun", "add", "@clients/lib", "@clients/by-bun")
		checkInstalled(t, app, "@clients/lib", "clients-dep", "@clients/by-bun")
		checkBinLinked(t, app, "by-bun-cli")
		checkPostinstallRan(t, app, "@clients/by-bun")
	})
}
