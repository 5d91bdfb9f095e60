package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/proxy"
	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/registry/storage"
)

// uplinkTo returns an option making the registry uplink to upstream, with
// tarball URLs pointing back at the registry itself (*self, known once
// its listener exists).
func uplinkTo(t *testing.T, upstream string, self *string) (envOption, *proxy.Upstream) {
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	up := &proxy.Upstream{
		URL:        u,
		Tarballs:   storage.NewFS(t.TempDir()),
		TarballURL: func(name, file string) string { return *self + "/" + name + "/-/" + file },
	}
	t.Cleanup(func() { up.Close() })
	return func(o *Options) { up.Store = o.Store; o.Fallback = up.Handler() }, up
}

// TestUplinkTwoRegistries runs two real registries on loopback, B
// uplinking to A: B serves (and npm installs from B) a package published
// only to A; after A stops B still serves what it cached.
func TestUplinkTwoRegistries(t *testing.T) {
	a := newEnv(t, 0)
	a.publish("alice", "uplinked", "1.0.0")
	a.publish("alice", "@acme/scoped-up", "2.1.0")

	var bURL string
	opt, up := uplinkTo(t, a.http.URL, &bURL)
	b := newEnv(t, 0, opt)
	bURL = b.http.URL

	for _, name := range []string{"uplinked", "@acme/scoped-up"} {
		r := b.do("GET", "/"+escapeName(name), "", nil)
		if r.status != 200 {
			t.Fatalf("B packument of %s: %d %s", name, r.status, r.body)
		}
		doc := r.json(t)
		for v, ver := range doc["versions"].(map[string]any) {
			tarURL := ver.(map[string]any)["dist"].(map[string]any)["tarball"].(string)
			if !strings.HasPrefix(tarURL, bURL+"/") {
				t.Errorf("%s@%s tarball URL %s does not point at B", name, v, tarURL)
			}
			got := b.do("GET", strings.TrimPrefix(tarURL, bURL), "", nil)
			want := a.do("GET", strings.TrimPrefix(tarURL, bURL), "", nil)
			if got.status != 200 || !bytes.Equal(got.body, want.body) {
				t.Errorf("tarball through B: %d, equal to A's: %v", got.status, bytes.Equal(got.body, want.body))
			}
		}
	}
	if r := b.do("GET", "/uplinked/latest", "", nil); r.status != 200 || r.json(t)["version"] != "1.0.0" {
		t.Errorf("B version by tag: %d %s", r.status, r.body)
	}
	if r := b.do("GET", "/not-anywhere", "", nil); r.status != 404 {
		t.Errorf("missing everywhere: %d, want 404", r.status)
	}

	if _, err := exec.LookPath("npm"); err == nil {
		n := registrytest.NewNpm(t, bURL)
		proj := t.TempDir()
		registrytest.WritePkg(t, proj, map[string]any{"name": "consumer", "version": "1.0.0", "private": true}, nil)
		out := n.Run(proj, false, "install", "uplinked@1.0.0", "@acme/scoped-up")
		t.Logf("npm install through B: %s", strings.TrimSpace(out))
		for _, p := range []string{"node_modules/uplinked/package.json", "node_modules/@acme/scoped-up/package.json"} {
			if _, err := os.Stat(filepath.Join(proj, p)); err != nil {
				t.Errorf("npm install from B: %v", err)
			}
		}
		lock, _ := os.ReadFile(filepath.Join(proj, "package-lock.json"))
		if !strings.Contains(string(lock), bURL+"/uplinked/-/uplinked-1.0.0.tgz") {
			t.Errorf("package-lock.json does not resolve through B:\n%s", lock)
		}
	} else {
		t.Log("npm not on PATH: the npm install through B was skipped")
	}

	// A goes away: B serves its cached copies.
	a.http.Close()
	if r := b.do("GET", "/uplinked", "", nil); r.status != 200 {
		t.Errorf("B packument with A down: %d %s", r.status, r.body)
	}
	if r := b.do("GET", "/uplinked/-/uplinked-1.0.0.tgz", "", nil); r.status != 200 {
		t.Errorf("B tarball with A down: %d", r.status)
	}
	if st := up.Status(); st.Requests == 0 {
		t.Errorf("uplink status counted no requests: %+v", st)
	}

	// OFFLINE turns the uplink off for what is not cached.
	b.store.Update(func(c config.Config) (config.Config, error) { c.FeatureFlags |= config.Offline; return c, nil })
	if r := b.do("GET", "/never-fetched", "", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("OFFLINE uncached: %d, want 503", r.status)
	}
}

// TestUplinkRefusesTamperedTarball: an upstream whose tarball does not
// match its packument's integrity gets 502, and nothing is cached.
func TestUplinkRefusesTamperedTarball(t *testing.T) {
	good := tarball("tampered", "1.0.0")
	doc := publishDoc("tampered", "1.0.0", good)
	delete(doc, "_attachments")
	var fakeURL string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tampered":
			v := doc["versions"].(map[string]any)["1.0.0"].(map[string]any)
			v["dist"].(map[string]any)["tarball"] = fakeURL + "/tampered/-/tampered-1.0.0.tgz"
			json.NewEncoder(w).Encode(doc)
		case "/tampered/-/tampered-1.0.0.tgz":
			w.Write(append(bytes.Clone(good), 0)) // one byte more than what was signed
		default:
			http.NotFound(w, r)
		}
	}))
	defer fake.Close()
	fakeURL = fake.URL
	var self string
	opt, _ := uplinkTo(t, fake.URL, &self)
	b := newEnv(t, 0, opt)
	self = b.http.URL
	if r := b.do("GET", "/tampered", "", nil); r.status != 200 {
		t.Fatalf("packument: %d", r.status)
	}
	for range 2 {
		if r := b.do("GET", "/tampered/-/tampered-1.0.0.tgz", "", nil); r.status != http.StatusBadGateway {
			t.Fatalf("tampered tarball: %d %s, want 502", r.status, r.body)
		}
	}
}
