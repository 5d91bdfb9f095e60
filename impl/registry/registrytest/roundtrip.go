package registrytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/registry/pkgname"
)

// ClientInstall is the command that installs client (npm, pnpm, yarn,
// bun), for testenv.LookPath.
func ClientInstall(client string) string {
	switch client {
	case "npm":
		return "apt-get install -y nodejs npm"
	case "yarn":
		return "npm install -g @yarnpkg/cli-dist"
	}
	return "npm install -g " + client
}

// SeedClientDeps publishes, over HTTP with token, what RoundTrip installs
// beside each client's own package: clients-dep@1.0.0 and @clients/lib@1.0.0,
// which depends on it (in the tarball's package.json too: the registry
// serves the tarball's).
func SeedClientDeps(t testing.TB, cl *http.Client, base, token string) {
	t.Helper()
	for _, p := range []struct{ name, dep string }{{"clients-dep", ""}, {"@clients/lib", "clients-dep"}} {
		pj := map[string]any{"name": p.name, "version": "1.0.0", "main": "index.js"}
		var extra map[string]any
		if p.dep != "" {
			pj["dependencies"] = map[string]string{p.dep: "^1.0.0"}
			extra = map[string]any{"dependencies": map[string]string{p.dep: "^1.0.0"}}
		}
		pjb, _ := json.Marshal(pj)
		tgz := TarballOf(Entry{Name: "package/package.json", Body: string(pjb)},
			Entry{Name: "package/index.js", Body: "module.exports = " + fmt.Sprintf("%q", p.name) + ";\n"})
		b, _ := json.Marshal(PublishDocFor(p.name, "1.0.0", tgz, extra))
		req, _ := http.NewRequest(http.MethodPut, base+"/"+EscapeName(p.name), strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := cl.Do(req)
		if err != nil {
			t.Fatalf("publish %s: %v", p.name, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", p.name, res.StatusCode, body)
		}
	}
}

// CheckServedScriptsAndBin fetches name's packument (full and
// abbreviated) from base and checks that version 1.0.0 carries
// PostinstallScript, hasInstallScript and the bin entries.
func CheckServedScriptsAndBin(t testing.TB, cl *http.Client, base, name string, bin map[string]string) {
	t.Helper()
	for _, accept := range []string{"application/json", "application/vnd.npm.install-v1+json"} {
		req, _ := http.NewRequest(http.MethodGet, base+"/"+EscapeName(name), nil)
		req.Header.Set("Accept", accept)
		res, err := cl.Do(req)
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
		if accept == "application/json" && v.Scripts["postinstall"] != PostinstallScript {
			t.Errorf("%s: scripts %v", name, v.Scripts)
		}
		if fmt.Sprint(v.Bin) != fmt.Sprint(bin) {
			t.Errorf("%s (%s): bin %v, want %v", name, accept, v.Bin, bin)
		}
	}
}

// RoundTrip drives one real client (npm, pnpm, yarn or bun) the way its
// users run it against the registry at base, with token: it publishes
// @clients/by-CLIENT@1.0.0 (an install script and a bin entry, which the
// packument must carry), then installs it with @clients/lib (and its
// dependency, see SeedClientDeps) into a fresh project, checking the
// files, the bin link and that the install script ran.
func RoundTrip(t testing.TB, cl *http.Client, client, base, token string) {
	t.Helper()
	name := "@clients/by-" + client
	_, bare := pkgname.Split(name)
	home := t.TempDir()
	pub, app := filepath.Join(home, "pub"), filepath.Join(home, "app")
	WritePkg(t, pub, map[string]any{"name": name, "version": "1.0.0", "description": "published by a client test", "main": "index.js", "license": "MIT",
		"bin":     map[string]string{bare + "-cli": "cli.js"},
		"scripts": map[string]string{"postinstall": PostinstallScript},
	}, map[string]string{
		"index.js": "module.exports = " + fmt.Sprintf("%q", name) + ";\n",
		"cli.js":   "#!/usr/bin/env node\nconsole.log('cli of " + name + "');\n",
	})
	appManifest := map[string]any{"name": "app", "version": "0.0.0", "private": true}
	write := func(dir, file, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var publish, install func()
	switch client {
	case "npm":
		n := NewNpm(t, base)
		n.SetToken(token)
		publish = func() { n.Run(pub, false, "publish", "--access", "public") }
		install = func() { n.Run(app, false, "install", "@clients/lib", name) }
	case "pnpm":
		env, rc := ClientEnv(home), PnpmRC(base, token, home)
		write(pub, ".npmrc", rc)
		publish = func() { RunClient(t, pub, env, "pnpm", "publish", "--no-git-checks", "--access", "public") }
		install = func() {
			write(app, ".npmrc", rc)
			// pnpm 11+ runs a dependency's scripts only when allowBuilds
			// says so, and fails the install for a package whose
			// packument shows one that is not decided.
			write(app, "pnpm-workspace.yaml", "packages: []\nallowBuilds:\n  '"+name+"': true\n")
			RunClient(t, app, env, "pnpm", "add", "@clients/lib", name)
		}
	case "yarn":
		env, rc := append(ClientEnv(home), YarnEnv(home)...), YarnRC(base, token)
		write(pub, ".yarnrc.yml", rc)
		write(pub, "yarn.lock", "")
		publish = func() {
			RunClient(t, pub, env, "yarn", "install")
			RunClient(t, pub, env, "yarn", "npm", "publish", "--access", "public")
		}
		install = func() {
			write(app, ".yarnrc.yml", rc)
			write(app, "yarn.lock", "")
			RunClient(t, app, env, "yarn", "add", "@clients/lib", name)
		}
	case "bun":
		env, rc := append(ClientEnv(home), BunEnv(home)...), Bunfig(base, token)
		write(pub, "bunfig.toml", rc)
		// bun runs the scripts of trustedDependencies only.
		appManifest["trustedDependencies"] = []string{name}
		publish = func() { RunClient(t, pub, env, "bun", "publish", "--access", "public") }
		install = func() {
			write(app, "bunfig.toml", rc)
			RunClient(t, app, env, "bun", "add", "@clients/lib", name)
		}
	default:
		t.Fatalf("RoundTrip: unknown client %q", client)
	}
	publish()
	CheckServedScriptsAndBin(t, cl, base, name, map[string]string{bare + "-cli": "cli.js"})
	WritePkg(t, app, appManifest, nil)
	install()
	want := []string{"@clients/lib", name}
	if client != "pnpm" { // pnpm links only direct dependencies at the top
		want = append(want, "clients-dep")
	}
	CheckInstalled(t, app, want...)
	CheckBinLinked(t, app, bare+"-cli")
	CheckPostinstallRan(t, app, name)
}
