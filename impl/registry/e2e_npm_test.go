package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/testenv"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/config"
)

// liveServer is the real server (real auth files, real storage) on a
// loopback port.
type liveServer struct {
	url  string
	auth *Auth
	data string
	srv  *Server
}

func startLive(t *testing.T, flags config.Flags, opts ...envOption) *liveServer {
	t.Helper()
	data := t.TempDir()
	a, err := OpenAuth(AuthPaths{Dir: data}, 0)
	if err != nil {
		t.Fatal(err)
	}
	a.Users.(*auth.Users).Cost = 4 // bcrypt's minimum: tests need no slow hashes
	now := time.Now()
	for user, role := range map[string]auth.Role{"alice": auth.RolePublish, "bob": auth.RolePublish, "reader": auth.RoleRead, "admin": auth.RoleAdmin} {
		if err := a.Users.Add(user, "pw-"+user+"-secret", role, now); err != nil {
			t.Fatal(err)
		}
	}
	c := config.Default()
	c.Version = 2
	c.FeatureFlags = flags
	store, err := config.NewStore(c)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Store: store,
		Docs:  docs.NewFS(filepath.Join(data, "packages")), Blobs: blobs.NewFS(filepath.Join(data, "packages")),
		Auth:   a,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &liveServer{url: "http://" + ln.Addr().String(), auth: a, data: data, srv: srv}
}

// TestNpmEndToEnd drives the real npm CLI through login, adduser,
// publish, dist-tags, view, install, deprecate, unpublish, search, a
// refused publish and logout.
func TestNpmEndToEnd(t *testing.T) {
	testenv.LookPath(t, "npm", "apt-get install -y nodejs npm")
	if testing.Short() {
		t.Skip("-short")
	}
	live := startLive(t, config.Default().FeatureFlags|config.StrictIntegrity, func(o *Options) { o.OpenRegistration = true })
	npm := registrytest.NewNpm(t, live.url)
	work := t.TempDir()

	// Login: npm 11 tries web login first, gets a 4xx and falls back to
	// the legacy PUT.
	out := npm.Interactive(work, map[string]string{"Username:": "alice", "Password:": "pw-alice-secret"}, "login")
	if !strings.Contains(out, "Logged in") {
		t.Fatalf("login output: %s", out)
	}
	if got := strings.TrimSpace(npm.Run(work, false, "whoami")); got != "alice" {
		t.Fatalf("whoami: %q", got)
	}

	// adduser creates a publish user (open registration is on here).
	carol := registrytest.NewNpm(t, live.url)
	out = carol.Interactive(work, map[string]string{"Username:": "carol", "Password:": "carol-pass-1", "(this will be public)": "carol@example.com"}, "adduser")
	if !strings.Contains(out, "Logged in") {
		t.Fatalf("adduser output: %s", out)
	}
	if got := strings.TrimSpace(carol.Run(work, false, "whoami")); got != "carol" {
		t.Fatalf("carol whoami: %q", got)
	}

	// Publish: unscoped, several versions, a next tag; scoped with a dep.
	pkg := filepath.Join(work, "e2e-pkg")
	for _, v := range []string{"1.0.0", "1.1.0"} {
		registrytest.WritePkg(t, pkg, map[string]any{"name": "e2e-pkg", "version": v, "description": "e2e package", "main": "index.js", "keywords": []string{"bun13e2e"}, "license": "MIT"},
			map[string]string{"index.js": fmt.Sprintf("module.exports = %q;\n", v)})
		npm.Run(pkg, false, "publish")
	}
	registrytest.WritePkg(t, pkg, map[string]any{"name": "e2e-pkg", "version": "2.0.0-rc.1", "main": "index.js", "license": "MIT"},
		map[string]string{"index.js": "module.exports = 'rc';\n"})
	npm.Run(pkg, false, "publish", "--tag", "next")
	lib := filepath.Join(work, "lib")
	registrytest.WritePkg(t, lib, map[string]any{"name": "@e2e/lib", "version": "1.0.0", "description": "scoped e2e lib", "main": "index.js",
		"dependencies": map[string]string{"e2e-pkg": "^1.0.0"}, "license": "MIT"},
		map[string]string{"index.js": "module.exports = require('e2e-pkg');\n"})
	npm.Run(lib, false, "publish", "--access", "public")

	// A package with an install script and a bin entry (as a string, so
	// npm normalizes it): the packument carries the tarball's values.
	tool := filepath.Join(work, "tool")
	registrytest.WritePkg(t, tool, map[string]any{"name": "toolpkg", "version": "1.0.0", "main": "index.js", "license": "MIT",
		"bin": "./cli.js", "scripts": map[string]string{"postinstall": registrytest.PostinstallScript}},
		map[string]string{"index.js": "module.exports = 'tool';\n", "cli.js": "#!/usr/bin/env node\nconsole.log('toolpkg');\n"})
	npm.Run(tool, false, "publish")
	registrytest.CheckServedScriptsAndBin(t, httpClient, live.url, "toolpkg", map[string]string{"toolpkg": "cli.js"})

	// A second publish of the same version is refused.
	// npm itself checks first; the registry's 403 backs it up.
	out = npm.Run(lib, true, "publish")
	if !strings.Contains(out, "403") && !strings.Contains(out, "previously published") {
		t.Errorf("republish: %s", out)
	}

	// dist-tags.
	tags := npm.Run(work, false, "dist-tag", "ls", "e2e-pkg")
	if !strings.Contains(tags, "latest: 1.1.0") || !strings.Contains(tags, "next: 2.0.0-rc.1") {
		t.Errorf("dist-tag ls: %s", tags)
	}
	npm.Run(work, false, "dist-tag", "add", "e2e-pkg@1.0.0", "stable")
	npm.Run(work, false, "dist-tag", "add", "@e2e/lib@1.0.0", "beta")
	if tags := npm.Run(work, false, "dist-tag", "ls", "@e2e/lib"); !strings.Contains(tags, "beta: 1.0.0") {
		t.Errorf("scoped dist-tag ls: %s", tags)
	}
	npm.Run(work, false, "dist-tag", "rm", "e2e-pkg", "stable")
	if tags := npm.Run(work, false, "dist-tag", "ls", "e2e-pkg"); strings.Contains(tags, "stable") {
		t.Errorf("dist-tag rm: %s", tags)
	}

	// view.
	var versions []string
	if err := json.Unmarshal([]byte(npm.Run(work, false, "view", "e2e-pkg", "versions", "--json")), &versions); err != nil {
		t.Fatal(err)
	}
	if strings.Join(versions, ",") != "1.0.0,1.1.0,2.0.0-rc.1" {
		t.Errorf("versions: %v", versions)
	}
	if out := npm.Run(work, false, "view", "@e2e/lib", "dependencies.e2e-pkg"); strings.TrimSpace(out) != "^1.0.0" {
		t.Errorf("view dependencies: %q", out)
	}

	// install into a fresh project.
	app := filepath.Join(work, "app")
	registrytest.WritePkg(t, app, map[string]any{"name": "app", "version": "0.0.0", "private": true}, nil)
	npm.Run(app, false, "install", "@e2e/lib", "toolpkg")
	registrytest.CheckBinLinked(t, app, "toolpkg")
	registrytest.CheckPostinstallRan(t, app, "toolpkg")
	if out := npm.Run(app, false, "exec", "--", "toolpkg"); !strings.Contains(out, "toolpkg") {
		t.Errorf("npm exec toolpkg: %q", out)
	}
	got, err := os.ReadFile(filepath.Join(app, "node_modules", "e2e-pkg", "index.js"))
	if err != nil || !strings.Contains(string(got), "1.1.0") {
		t.Errorf("installed e2e-pkg: %q %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(app, "node_modules", "@e2e", "lib", "package.json")); err != nil {
		t.Error(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Resolved  string `json:"resolved"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	lb, err := os.ReadFile(filepath.Join(app, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lb, &lock); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"node_modules/@e2e/lib", "node_modules/e2e-pkg"} {
		e := lock.Packages[p]
		if !strings.HasPrefix(e.Resolved, live.url+"/") {
			t.Errorf("%s resolved %q", p, e.Resolved)
		}
		res, err := httpGet(e.Resolved)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := integrity(res)
		if e.Integrity != want {
			t.Errorf("%s integrity %q, tarball has %q", p, e.Integrity, want)
		}
	}
	// A second install from the lockfile in a clean tree (npm ci).
	os.RemoveAll(filepath.Join(app, "node_modules"))
	npm.Run(app, false, "ci")
	if _, err := os.Stat(filepath.Join(app, "node_modules", "e2e-pkg", "index.js")); err != nil {
		t.Errorf("npm ci: %v", err)
	}

	// search.
	out = npm.Run(work, false, "search", "bun13e2e")
	if !strings.Contains(out, "e2e-pkg") {
		t.Errorf("search: %s", out)
	}
	out = npm.Run(work, false, "search", "--json", "e2e")
	var hits []map[string]any
	if err := json.Unmarshal([]byte(out), &hits); err != nil || len(hits) != 2 {
		t.Errorf("search --json: %v %s", err, out)
	}

	// deprecate.
	npm.Run(work, false, "deprecate", "e2e-pkg@1.0.0", "use 1.1.0")
	if out := npm.Run(work, false, "view", "e2e-pkg@1.0.0", "deprecated"); strings.TrimSpace(out) != "use 1.1.0" {
		t.Errorf("deprecated: %q", out)
	}

	// unpublish one version.
	npm.Run(work, false, "unpublish", "e2e-pkg@1.1.0")
	versions = nil
	json.Unmarshal([]byte(npm.Run(work, false, "view", "e2e-pkg", "versions", "--json")), &versions)
	if strings.Join(versions, ",") != "1.0.0,2.0.0-rc.1" {
		t.Errorf("versions after unpublish: %v", versions)
	}
	// npm moves latest itself (to the highest remaining version, by its
	// own sort) and the registry keeps what it sent, as the public one does.
	if out := npm.Run(work, false, "view", "e2e-pkg", "dist-tags.latest"); strings.TrimSpace(out) != "2.0.0-rc.1" {
		t.Errorf("latest after unpublish: %q", out)
	}
	// and it can never come back.
	registrytest.WritePkg(t, pkg, map[string]any{"name": "e2e-pkg", "version": "1.1.0", "main": "index.js"}, map[string]string{"index.js": "x"})
	npm.Run(pkg, true, "publish")

	// A read-role user cannot publish.
	reader := registrytest.NewNpm(t, live.url)
	reader.Interactive(work, map[string]string{"Username:": "reader", "Password:": "pw-reader-secret"}, "login")
	registrytest.WritePkg(t, pkg, map[string]any{"name": "e2e-pkg", "version": "3.0.0", "main": "index.js"}, map[string]string{"index.js": "x"})
	out = reader.Run(pkg, true, "publish")
	if !strings.Contains(out, "403") {
		t.Errorf("read-role publish: %s", out)
	}
	// Nor can another publish-role user publish alice's package.
	out = carol.Run(pkg, true, "publish")
	if !strings.Contains(out, "403") {
		t.Errorf("non-maintainer publish: %s", out)
	}

	// Owners: alice adds carol, who may then publish.
	npm.Run(work, false, "owner", "add", "carol", "@e2e/lib")
	if out := npm.Run(work, false, "owner", "ls", "@e2e/lib"); !strings.Contains(out, "carol") || !strings.Contains(out, "alice") {
		t.Errorf("owner ls: %s", out)
	}
	registrytest.WritePkg(t, lib, map[string]any{"name": "@e2e/lib", "version": "1.0.1", "main": "index.js", "license": "MIT"}, map[string]string{"index.js": "x"})
	carol.Run(lib, false, "publish", "--access", "public")

	// Unpublish a whole package: gone, and its name@version never returns.
	npm.Run(work, false, "unpublish", "@e2e/lib", "--force")
	npm.Run(work, true, "view", "@e2e/lib")
	registrytest.WritePkg(t, lib, map[string]any{"name": "@e2e/lib", "version": "1.0.1", "main": "index.js", "license": "MIT"}, map[string]string{"index.js": "y"})
	npm.Run(lib, true, "publish", "--access", "public")

	// Tokens API and logout.
	if out := npm.Run(work, false, "token", "list", "--json"); !strings.Contains(out, `"key"`) {
		t.Errorf("token list: %s", out)
	}
	npm.Run(work, false, "logout")
	npm.Run(work, true, "whoami")
}

func httpGet(url string) ([]byte, error) {
	res, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return io.ReadAll(res.Body)
}
