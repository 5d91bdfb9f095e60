package registry

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/config"
)

func TestPublishAndRead(t *testing.T) {
	e := newEnv(t, 0)
	for _, name := range []string{"left-pad", "@acme/util"} {
		t.Run(name, func(t *testing.T) {
			e.publish("alice", name, "1.0.0")
			e.now = e.now.Add(time.Minute)
			e.publish("alice", name, "1.1.0")
			e.now = e.now.Add(time.Minute)
			e.publish("alice", name, "2.0.0-beta.1", "next")

			for _, path := range []string{"/" + name, "/" + escapeName(name), "/" + strings.Replace(name, "/", "%2F", 1)} {
				r := e.do("GET", path, "", nil)
				if r.status != 200 {
					t.Fatalf("GET %s: %d %s", path, r.status, r.body)
				}
				m := r.json(t)
				if m["name"] != name || m["_id"] != name {
					t.Errorf("name %v", m["name"])
				}
				tags := m["dist-tags"].(map[string]any)
				if d := cmp.Diff(map[string]any{"latest": "1.1.0", "next": "2.0.0-beta.1"}, tags); d != "" {
					t.Errorf("dist-tags (-want +got):\n%s", d)
				}
				vs := m["versions"].(map[string]any)
				if len(vs) != 3 {
					t.Errorf("versions: %v", vs)
				}
				v := vs["1.0.0"].(map[string]any)
				dist := v["dist"].(map[string]any)
				_, bare, _ := strings.Cut(name, "/")
				if bare == "" {
					bare = name
				}
				wantURL := e.http.URL + "/" + name + "/-/" + bare + "-1.0.0.tgz"
				if dist["tarball"] != wantURL {
					t.Errorf("tarball %v, want %v", dist["tarball"], wantURL)
				}
				integ, shasum := integrity(tarball(name, "1.0.0"))
				if dist["integrity"] != integ || dist["shasum"] != shasum {
					t.Errorf("dist %v", dist)
				}
				tm := m["time"].(map[string]any)
				for _, k := range []string{"created", "modified", "1.0.0", "1.1.0", "2.0.0-beta.1"} {
					if _, ok := tm[k]; !ok {
						t.Errorf("time lacks %s: %v", k, tm)
					}
				}
				if u := v["_npmUser"].(map[string]any); u["name"] != "alice" {
					t.Errorf("_npmUser %v", u)
				}
				if ms := m["maintainers"].([]any); len(ms) != 1 || ms[0].(map[string]any)["name"] != "alice" {
					t.Errorf("maintainers %v", ms)
				}
				if m["description"] != "test package "+name {
					t.Errorf("description %v", m["description"])
				}
			}

			// Abbreviated.
			r := e.do("GET", "/"+escapeName(name), "", nil, "Accept", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*")
			if r.status != 200 || r.header.Get("Content-Type") != abbreviatedType {
				t.Fatalf("abbreviated: %d %s", r.status, r.header)
			}
			m := r.json(t)
			if m["modified"] == nil || m["time"] != nil || m["_rev"] != nil {
				t.Errorf("abbreviated doc: %s", r.body)
			}
			v := m["versions"].(map[string]any)["1.0.0"].(map[string]any)
			if v["description"] != nil || v["dist"] == nil || v["name"] != name {
				t.Errorf("abbreviated version: %v", v)
			}
			etag := r.header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			r = e.do("GET", "/"+escapeName(name), "", nil, "Accept", abbreviatedType, "If-None-Match", etag)
			if r.status != 304 || len(r.body) != 0 {
				t.Errorf("If-None-Match: %d %q", r.status, r.body)
			}
			full := e.do("GET", "/"+escapeName(name), "", nil)
			if full.header.Get("ETag") == etag {
				t.Error("full and abbreviated share an ETag")
			}

			// Version and tag.
			for path, want := range map[string]string{"/1.1.0": "1.1.0", "/latest": "1.1.0", "/next": "2.0.0-beta.1"} {
				r := e.do("GET", "/"+name+path, "", nil)
				if r.status != 200 || r.json(t)["version"] != want {
					t.Errorf("GET %s: %d %s", path, r.status, r.body)
				}
			}
			if r := e.do("GET", "/"+name+"/9.9.9", "", nil); r.status != 404 {
				t.Errorf("missing version: %d", r.status)
			}

			// Tarball.
			tgz := tarball(name, "1.1.0")
			path := "/" + name + "/-/" + bare(name) + "-1.1.0.tgz"
			for i := 0; i < 2; i++ { // second from the memory cache
				r = e.do("GET", path, "", nil)
				if r.status != 200 || !bytes.Equal(r.body, tgz) {
					t.Fatalf("tarball: %d %d bytes", r.status, len(r.body))
				}
				if r.header.Get("Content-Length") != fmt.Sprint(len(tgz)) {
					t.Errorf("Content-Length %q", r.header.Get("Content-Length"))
				}
			}
			_, shasum := integrity(tgz)
			if r.header.Get("ETag") != `"`+shasum+`"` {
				t.Errorf("tarball ETag %q", r.header.Get("ETag"))
			}
			if r := e.do("GET", path, "", nil, "If-None-Match", `"`+shasum+`"`); r.status != 304 {
				t.Errorf("tarball If-None-Match: %d", r.status)
			}
			if r := e.do("GET", "/"+name+"/-/"+bare(name)+"-9.9.9.tgz", "", nil); r.status != 404 {
				t.Errorf("missing tarball: %d", r.status)
			}
		})
	}
}

func bare(name string) string {
	if _, b, ok := strings.Cut(name, "/"); ok {
		return b
	}
	return name
}

func TestRepublishRefused(t *testing.T) {
	e := newEnv(t, 0)
	e.publish("alice", "pkg", "1.0.0")
	e.publish("alice", "pkg", "1.0.1")
	r := e.do("PUT", "/pkg", "tok-alice", publishDoc("pkg", "1.0.0", tarball("pkg", "1.0.0", "x", "y")))
	if r.status != 403 {
		t.Fatalf("republish: %d %s", r.status, r.body)
	}
	// Unpublish 1.0.0 the way npm does, then try again.
	doc := e.do("GET", "/pkg?write=true", "tok-alice", nil).json(t)
	delete(doc["versions"].(map[string]any), "1.0.0")
	r = e.do("PUT", "/pkg/-rev/"+doc["_rev"].(string), "tok-alice", doc)
	if r.status != 200 {
		t.Fatalf("unpublish PUT: %d %s", r.status, r.body)
	}
	doc = e.do("GET", "/pkg?write=true", "tok-alice", nil).json(t)
	r = e.do("DELETE", "/pkg/-/pkg-1.0.0.tgz/-rev/"+doc["_rev"].(string), "tok-alice", nil)
	if r.status != 200 {
		t.Fatalf("tarball DELETE: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/pkg/-/pkg-1.0.0.tgz", "", nil); r.status != 404 {
		t.Errorf("unpublished tarball served: %d", r.status)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "pkg", "pkg-1.0.0.tgz")); !os.IsNotExist(err) {
		t.Errorf("tarball file left: %v", err)
	}
	r = e.do("PUT", "/pkg", "tok-alice", publishDoc("pkg", "1.0.0", tarball("pkg", "1.0.0")))
	if r.status != 403 {
		t.Fatalf("republish after unpublish: %d %s", r.status, r.body)
	}
	// Unpublish everything; the name stays a tombstone.
	doc = e.do("GET", "/pkg?write=true", "tok-alice", nil).json(t)
	if r := e.do("DELETE", "/pkg/-rev/"+doc["_rev"].(string), "tok-alice", nil); r.status != 200 {
		t.Fatalf("unpublish all: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/pkg", "", nil); r.status != 404 {
		t.Errorf("unpublished package: %d", r.status)
	}
	if r := e.do("PUT", "/pkg", "tok-alice", publishDoc("pkg", "1.0.1", tarball("pkg", "1.0.1"))); r.status != 403 {
		t.Errorf("republish after full unpublish: %d %s", r.status, r.body)
	}
	e.publish("alice", "pkg", "1.0.2")
}

func TestMaintainers(t *testing.T) {
	e := newEnv(t, 0)
	e.publish("alice", "owned", "1.0.0")
	if r := e.do("PUT", "/owned", "tok-bob", publishDoc("owned", "1.0.1", tarball("owned", "1.0.1"))); r.status != 403 {
		t.Errorf("non-maintainer publish: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", "/-/package/owned/dist-tags/evil", "tok-bob", `"1.0.0"`); r.status != 403 {
		t.Errorf("non-maintainer tag: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", "/owned", "tok-reader", publishDoc("owned", "1.0.1", tarball("owned", "1.0.1"))); r.status != 403 {
		t.Errorf("read-role publish: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", "/owned", "", publishDoc("owned", "1.0.1", tarball("owned", "1.0.1"))); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous publish: %d %s", r.status, r.body)
	}
	e.publish("admin", "owned", "1.0.1") // admins may
	doc := e.do("GET", "/owned", "", nil).json(t)
	if ms := doc["maintainers"].([]any); len(ms) != 1 {
		t.Errorf("maintainers changed by admin publish: %v", ms)
	}
	// Owner add via packument PUT.
	doc["maintainers"] = []any{map[string]any{"name": "alice"}, map[string]any{"name": "bob"}}
	if r := e.do("PUT", "/owned/-rev/"+doc["_rev"].(string), "tok-alice", doc); r.status != 200 {
		t.Fatalf("owner add: %d %s", r.status, r.body)
	}
	e.publish("bob", "owned", "1.0.2")
}

func TestDistTags(t *testing.T) {
	e := newEnv(t, 0)
	e.publish("alice", "@s/tags", "1.0.0")
	e.publish("alice", "@s/tags", "1.1.0")
	if r := e.do("PUT", "/-/package/@s%2ftags/dist-tags/beta", "tok-alice", `"1.0.0"`); r.status != 201 {
		t.Fatalf("tag add: %d %s", r.status, r.body)
	}
	r := e.do("GET", "/-/package/@s%2ftags/dist-tags", "", nil)
	if d := cmp.Diff(map[string]any{"latest": "1.1.0", "beta": "1.0.0"}, r.json(t)); d != "" {
		t.Errorf("tags (-want +got):\n%s", d)
	}
	if r := e.do("PUT", "/-/package/@s%2ftags/dist-tags/beta", "tok-alice", `"9.0.0"`); r.status != 404 {
		t.Errorf("tag to missing version: %d", r.status)
	}
	if r := e.do("PUT", "/-/package/@s%2ftags/dist-tags/1.0", "tok-alice", `"1.0.0"`); r.status != 400 {
		t.Errorf("version-like tag: %d", r.status)
	}
	if r := e.do("DELETE", "/-/package/@s/tags/dist-tags/latest", "tok-alice", nil); r.status != 400 {
		t.Errorf("delete latest: %d", r.status)
	}
	if r := e.do("DELETE", "/-/package/@s/tags/dist-tags/beta", "tok-alice", nil); r.status != 200 {
		t.Errorf("delete beta: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/-/package/@s/tags/dist-tags", "", nil)
	if d := cmp.Diff(map[string]any{"latest": "1.1.0"}, r.json(t)); d != "" {
		t.Errorf("tags (-want +got):\n%s", d)
	}
}

func TestDeprecate(t *testing.T) {
	e := newEnv(t, 0)
	e.publish("alice", "old", "1.0.0")
	e.publish("alice", "old", "1.0.1")
	doc := e.do("GET", "/old?write=true", "tok-alice", nil).json(t)
	doc["versions"].(map[string]any)["1.0.0"].(map[string]any)["deprecated"] = "use 1.0.1"
	if r := e.do("PUT", "/old", "tok-alice", doc); r.status != 200 {
		t.Fatalf("deprecate: %d %s", r.status, r.body)
	}
	ab := e.do("GET", "/old", "", nil, "Accept", abbreviatedType).json(t)
	vs := ab["versions"].(map[string]any)
	if vs["1.0.0"].(map[string]any)["deprecated"] != "use 1.0.1" || vs["1.0.1"].(map[string]any)["deprecated"] != nil {
		t.Errorf("deprecated: %v", vs)
	}
	doc = e.do("GET", "/old?write=true", "tok-alice", nil).json(t)
	doc["versions"].(map[string]any)["1.0.0"].(map[string]any)["deprecated"] = ""
	if r := e.do("PUT", "/old", "tok-alice", doc); r.status != 200 {
		t.Fatalf("undeprecate: %d %s", r.status, r.body)
	}
	ab = e.do("GET", "/old", "", nil, "Accept", abbreviatedType).json(t)
	if ab["versions"].(map[string]any)["1.0.0"].(map[string]any)["deprecated"] != nil {
		t.Error("undeprecate kept the message")
	}
	if r := e.do("PUT", "/old", "tok-bob", doc); r.status != 403 {
		t.Errorf("non-maintainer deprecate: %d", r.status)
	}
}

// TestBadInput is the Security list of the README: each request is refused
// with a 4xx JSON error and nothing is stored.
func TestBadInput(t *testing.T) {
	e := newEnv(t, config.StrictIntegrity, func(o *Options) { o.MaxPublishBytes = 64 << 10 })
	good := func() map[string]any { return publishDoc("good", "1.0.0", tarball("good", "1.0.0")) }
	mutate := func(f func(m map[string]any)) map[string]any { m := good(); f(m); return m }
	ver := func(m map[string]any) map[string]any { return m["versions"].(map[string]any)["1.0.0"].(map[string]any) }
	att := func(m map[string]any) map[string]any {
		return m["_attachments"].(map[string]any)["good-1.0.0.tgz"].(map[string]any)
	}
	long := strings.Repeat("a", 215)
	big := make([]byte, 100<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		want   int
	}{
		{"dotdot", "PUT", "/..", "tok-alice", publishDoc("..", "1.0.0", tarball("..", "1.0.0")), 400},
		{"proto", "PUT", "/__proto__", "tok-alice", publishDoc("__proto__", "1.0.0", tarball("x", "1.0.0")), 400},
		{"scoped dotdot", "PUT", "/@s%2f..", "tok-alice", publishDoc("@s/..", "1.0.0", tarball("x", "1.0.0")), 400},
		{"encoded dotdot", "PUT", "/%2e%2e", "tok-alice", publishDoc("..", "1.0.0", tarball("x", "1.0.0")), 400},
		{"encoded dotdot get", "GET", "/%2e%2e", "", nil, 400},
		{"encoded traversal tarball", "GET", "/good/-/..%2f..%2fetc%2fpasswd", "", nil, 400},
		{"uppercase", "PUT", "/Upper", "tok-alice", publishDoc("Upper", "1.0.0", tarball("Upper", "1.0.0")), 400},
		{"215 bytes", "PUT", "/" + long, "tok-alice", publishDoc(long, "1.0.0", tarball(long, "1.0.0")), 400},
		{"wildcard", "PUT", "/a*b", "tok-alice", publishDoc("a*b", "1.0.0", tarball("a*b", "1.0.0")), 400},
		{"core module", "PUT", "/http", "tok-alice", publishDoc("http", "1.0.0", tarball("http", "1.0.0")), 400},
		{"name mismatch", "PUT", "/other", "tok-alice", good(), 400},
		{"two versions", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) {
			m["versions"].(map[string]any)["1.0.1"] = ver(m)
		}), 400},
		{"two attachments", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) {
			m["_attachments"].(map[string]any)["good-1.0.1.tgz"] = att(m)
		}), 400},
		{"attachment traversal", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) {
			a := m["_attachments"].(map[string]any)
			a["../x.tgz"] = a["good-1.0.0.tgz"]
			delete(a, "good-1.0.0.tgz")
		}), 400},
		{"bad base64", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) { att(m)["data"] = "!!!not base64" }), 400},
		{"length mismatch", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) { att(m)["length"] = 3 }), 400},
		{"integrity mismatch", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) {
			ver(m)["dist"].(map[string]any)["integrity"] = "sha512-" + strings.Repeat("A", 86) + "=="
		}), 400},
		{"shasum mismatch", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) {
			ver(m)["dist"].(map[string]any)["shasum"] = strings.Repeat("0", 40)
		}), 400},
		{"strict without sha512", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) {
			delete(ver(m)["dist"].(map[string]any), "integrity")
		}), 400},
		{"bad version", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) {
			vs := m["versions"].(map[string]any)
			v := vs["1.0.0"].(map[string]any)
			v["version"] = "1.0"
			vs["1.0"] = v
			delete(vs, "1.0.0")
		}), 400},
		{"manifest name mismatch", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) { ver(m)["name"] = "evil" }), 400},
		{"proto dist-tag", "PUT", "/good", "tok-alice", mutate(func(m map[string]any) {
			m["dist-tags"] = map[string]any{"__proto__": "1.0.0"}
		}), 400},
		{"oversized", "PUT", "/good", "tok-alice", publishDoc("good", "1.0.0", big), 413},
		{"not json", "PUT", "/good", "tok-alice", "{nope", 400},
		{"alg none", "GET", "/-/whoami", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.", nil, 401},
		{"unknown token", "PUT", "/good", "garbage", good(), 401},
		{"huge auth header", "GET", "/-/ping", strings.Repeat("x", 8<<10), nil, 431},
		{"tarball other package", "GET", "/good/-/evil-1.0.0.tgz", "", nil, 400},
		{"tarball wildcard", "GET", "/good/-/good-*.tgz", "", nil, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.token, tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			var m map[string]any
			if err := json.Unmarshal(r.body, &m); err != nil || m["error"] == nil || m["error"] == "" {
				t.Errorf("body %q is not {\"error\": ...}", r.body)
			}
		})
	}
	// Nothing was stored.
	entries, _ := os.ReadDir(e.dir)
	if len(entries) != 0 {
		var names []string
		for _, x := range entries {
			names = append(names, x.Name())
		}
		t.Errorf("stored after bad input: %v", names)
	}
	// And the good one still works.
	if r := e.do("PUT", "/good", "tok-alice", good()); r.status != 201 {
		t.Errorf("good publish: %d %s", r.status, r.body)
	}
}

func TestConcurrentPublish(t *testing.T) {
	// Every publish must be able to hold its body at once: this test is
	// about the key lock, not the publish-slot bound (TestPublishSlots).
	e := newEnv(t, 0, func(o *Options) { o.MaxConcurrentPublishes = 64 })
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := fmt.Sprintf("1.0.%d", i)
			req, _ := json.Marshal(publishDoc("@c/race", v, tarball("@c/race", v)))
			res, err := http.DefaultClient.Do(mustReq("PUT", e.http.URL+"/@c%2frace", "tok-alice", req))
			if err != nil {
				errs <- err.Error()
				return
			}
			res.Body.Close()
			if res.StatusCode != 201 {
				errs <- fmt.Sprintf("%s: %d", v, res.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	check := func(e *testEnv, what string) {
		doc := e.do("GET", "/@c%2frace", "", nil).json(t)
		vs := doc["versions"].(map[string]any)
		if len(vs) != n {
			var got []string
			for v := range vs {
				got = append(got, v)
			}
			sort.Strings(got)
			t.Fatalf("%s: %d versions, want %d: %v", what, len(vs), n, got)
		}
		for i := range n {
			p := fmt.Sprintf("/@c/race/-/race-1.0.%d.tgz", i)
			if r := e.do("GET", p, "", nil); r.status != 200 {
				t.Errorf("%s: %s: %d", what, p, r.status)
			}
		}
	}
	check(e, "cached")
	// A fresh server on the same directory sees the same.
	check(newEnv(t, 0, func(o *Options) { o.Docs, o.Blobs = e.srv.docStore, e.srv.blobStore }), "reloaded")
}

func mustReq(method, url, token string, body []byte) *http.Request {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestAuthRequired(t *testing.T) {
	e := newEnv(t, 0)
	e.publish("alice", "priv", "1.0.0")
	if r := e.do("GET", "/priv", "", nil); r.status != 200 {
		t.Fatalf("open read: %d", r.status)
	}
	e.store.Update(func(c config.Config) (config.Config, error) { c.FeatureFlags |= config.AuthRequired; return c, nil })
	for _, p := range []string{"/priv", "/priv/-/priv-1.0.0.tgz", "/-/v1/search?text=priv", "/-/package/priv/dist-tags"} {
		r := e.do("GET", p, "", nil)
		if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s without token: %d %q", p, r.status, r.header.Get("WWW-Authenticate"))
		}
		if r := e.do("GET", p, "tok-reader", nil); r.status != 200 {
			t.Errorf("%s with token: %d", p, r.status)
		}
	}
	if r := e.do("GET", "/-/ping", "", nil); r.status != 200 {
		t.Errorf("ping: %d", r.status)
	}
	if r := e.do("GET", "/priv", "", nil); !strings.Contains(string(r.body), "error") {
		t.Errorf("401 body %s", r.body)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t, 0)
	body := map[string]any{"_id": "org.couchdb.user:alice", "name": "alice", "password": "pw-alice", "type": "user", "roles": []any{}, "date": "2025-01-01T00:00:00.000Z"}
	r := e.do("PUT", "/-/user/org.couchdb.user:alice", "", body)
	if r.status != 201 {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	m := r.json(t)
	tok, _ := m["token"].(string)
	if m["ok"] != true || tok == "" || m["id"] != "org.couchdb.user:alice" {
		t.Fatalf("login body %v", m)
	}
	if r := e.do("GET", "/-/whoami", tok, nil); r.status != 200 || r.json(t)["username"] != "alice" {
		t.Errorf("whoami: %d %s", r.status, r.body)
	}
	body["password"] = "wrong"
	if r := e.do("PUT", "/-/user/org.couchdb.user:alice", "", body); r.status != 401 {
		t.Errorf("bad password: %d", r.status)
	}
	// A stale token does not stop a login.
	body["password"] = "pw-alice"
	if r := e.do("PUT", "/-/user/org.couchdb.user:alice", "stale", body); r.status != 201 {
		t.Errorf("login with stale token: %d %s", r.status, r.body)
	}
	// Registration is closed by default.
	nb := map[string]any{"name": "carol", "password": "pw-carol", "email": "c@x"}
	if r := e.do("PUT", "/-/user/org.couchdb.user:carol", "", nb); r.status != 401 {
		t.Errorf("closed registration: %d %s", r.status, r.body)
	}
	e.srv.opts.OpenRegistration = true
	if r := e.do("PUT", "/-/user/org.couchdb.user:carol", "", nb); r.status != 201 {
		t.Errorf("open registration: %d %s", r.status, r.body)
	}
	// npm's web login gets a 4xx so npm falls back to the PUT above.
	if r := e.do("POST", "/-/v1/login", "", map[string]any{}); r.status < 400 || r.status > 499 {
		t.Errorf("web login: %d", r.status)
	}
	// Logout revokes.
	if r := e.do("DELETE", "/-/user/token/"+tok, tok, nil); r.status != 200 {
		t.Errorf("logout: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/-/whoami", tok, nil); r.status != 401 {
		t.Errorf("whoami after logout: %d", r.status)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, config.RateLimit, func(o *Options) {
		o.Limits = newClasses(5, 2, 2)
	})
	e.publish("alice", "rl", "1.0.0") // publish class: 1 of 2
	var last resp
	for range 6 {
		last = e.do("GET", "/rl", "", nil)
	}
	if last.status != 429 || last.header.Get("Retry-After") == "" || last.header.Get("RateLimit-Limit") != "5" {
		t.Fatalf("6th read: %d %v", last.status, last.header)
	}
	// Another user is not limited by anonymous reads; alice's reads have
	// their own key.
	if r := e.do("GET", "/rl", "tok-bob", nil); r.status != 200 {
		t.Errorf("bob: %d", r.status)
	}
	// Logins have their own small budget.
	lb := map[string]any{"name": "alice", "password": "wrong"}
	codes := []int{}
	for range 3 {
		codes = append(codes, e.do("PUT", "/-/user/org.couchdb.user:alice", "", lb).status)
	}
	if d := cmp.Diff([]int{401, 401, 429}, codes); d != "" {
		t.Errorf("login statuses (-want +got):\n%s", d)
	}
	e.now = e.now.Add(3 * time.Minute)
	if r := e.do("GET", "/rl", "", nil); r.status != 200 {
		t.Errorf("after the window: %d", r.status)
	}
	// Turning RATE_LIMIT off applies at once.
	e.store.Update(func(c config.Config) (config.Config, error) { c.FeatureFlags &^= config.RateLimit; return c, nil })
	for range 10 {
		if r := e.do("GET", "/rl", "", nil); r.status != 200 {
			t.Fatalf("without RATE_LIMIT: %d", r.status)
		}
	}
}

func TestCompression(t *testing.T) {
	e := newEnv(t, config.Compression)
	for i := range 5 {
		e.publish("alice", "gz", fmt.Sprintf("1.0.%d", i))
	}
	plain := e.do("GET", "/gz", "", nil)
	r := e.do("GET", "/gz", "", nil, "Accept-Encoding", "gzip")
	if r.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", r.header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, plain.body) {
		t.Error("gzip body differs")
	}
	if r.header.Get("ETag") == plain.header.Get("ETag") {
		t.Error("gzip and identity share an ETag")
	}
	if r2 := e.do("GET", "/gz", "", nil, "Accept-Encoding", "gzip", "If-None-Match", r.header.Get("ETag")); r2.status != 304 {
		t.Errorf("gzip 304: %d", r2.status)
	}
	tr := e.do("GET", "/gz/-/gz-1.0.0.tgz", "", nil, "Accept-Encoding", "gzip")
	if tr.header.Get("Content-Encoding") != "" {
		t.Error("tarball gzipped")
	}
	e.store.Update(func(c config.Config) (config.Config, error) { c.FeatureFlags &^= config.Compression; return c, nil })
	if r := e.do("GET", "/gz", "", nil, "Accept-Encoding", "gzip"); r.header.Get("Content-Encoding") != "" {
		t.Error("gzip after COMPRESSION was turned off")
	}
}

func TestSearch(t *testing.T) {
	e := newEnv(t, 0)
	e.publish("alice", "alpha-tool", "1.0.0")
	e.publish("bob", "@s/beta", "2.0.0")
	e.publish("alice", "gamma", "0.1.0")
	r := e.do("GET", "/-/v1/search?text=alpha&size=20&from=0", "", nil)
	m := r.json(t)
	if m["total"] != float64(1) {
		t.Fatalf("search: %s", r.body)
	}
	obj := m["objects"].([]any)[0].(map[string]any)
	pkg := obj["package"].(map[string]any)
	for _, k := range []string{"name", "version", "description", "keywords", "date", "links", "publisher", "maintainers"} {
		if _, ok := pkg[k]; !ok {
			t.Errorf("package lacks %s", k)
		}
	}
	if pkg["name"] != "alpha-tool" || pkg["publisher"].(map[string]any)["username"] != "alice" {
		t.Errorf("package %v", pkg)
	}
	if _, ok := obj["score"].(map[string]any)["final"]; !ok || obj["searchScore"] == nil {
		t.Errorf("score %v", obj)
	}
	if m := e.do("GET", "/-/v1/search?text=test&size=2", "", nil).json(t); m["total"] != float64(3) || len(m["objects"].([]any)) != 2 {
		t.Errorf("paging: %v", m)
	}
	if m := e.do("GET", "/-/v1/search?text=maintainer:bob", "", nil).json(t); m["total"] != float64(1) {
		t.Errorf("maintainer: %v", m)
	}
}

func TestAudit(t *testing.T) {
	e := newEnv(t, 0)
	for _, p := range []string{"/-/npm/v1/security/advisories/bulk", "/-/npm/v1/security/audits/quick"} {
		r := e.do("POST", p, "", map[string]any{"x": []string{"1.0.0"}})
		if r.status != 200 || string(r.body) != "{}" {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}

func TestBodyLimit413(t *testing.T) {
	e := newEnv(t, 0, func(o *Options) { o.MaxPublishBytes = 1000 })
	// Chunked, so the limit is hit while reading, not from Content-Length.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"name":"x","versions":{},"_attachments":{"x-1.0.0.tgz":{"data":"`))
		pw.Write(bytes.Repeat([]byte("A"), 5000))
		pw.Write([]byte(`"}}}`))
		pw.Close()
	}()
	req, _ := http.NewRequest("PUT", e.http.URL+"/x", pr)
	req.Header.Set("Authorization", "Bearer tok-alice")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 413 || !strings.Contains(string(b), "error") {
		t.Errorf("chunked oversize: %d %s", res.StatusCode, b)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t, config.Metrics)
	e.publish("alice", "m1", "1.0.0")
	e.publish("alice", "m1", "1.0.1")
	e.publish("alice", "@s/m2", "1.0.0")
	e.do("GET", "/m1", "", nil)
	e.do("GET", "/does-not-exist-xyz", "", nil)
	e.do("GET", "/m1/-/m1-1.0.0.tgz", "", nil)
	for _, p := range []string{"/metrics", "/_dashboard/api/metrics"} {
		r := e.do("GET", p, "", nil)
		if r.status != 200 {
			t.Fatalf("%s: %d", p, r.status)
		}
		text := string(r.body)
		for _, want := range []string{
			"bun_registry_packages 2", "bun_registry_versions 3",
			`bun_http_requests_total{method="GET",route="/:name",status="200"} 1`,
			`bun_http_requests_total{method="GET",route="/:name",status="404"} 1`,
			`bun_http_requests_total{method="GET",route="/:name/-/:file",status="200"} 1`,
			`bun_http_requests_total{method="PUT",route="/:name",status="201"} 3`,
			"bun_config_reads_total",
			`bun_config_info{feature_flags="0x00000080",registry_hash="0x5e9b6bd5",version="2"} 1`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", p, want)
			}
		}
		if strings.Contains(text, "does-not-exist") {
			t.Error("a raw path became a label")
		}
	}
	// Tarball bytes follow unpublish.
	doc := e.do("GET", "/m1?write=true", "tok-alice", nil).json(t)
	delete(doc["versions"].(map[string]any), "1.0.1")
	e.do("PUT", "/m1/-rev/"+doc["_rev"].(string), "tok-alice", doc)
	if r := e.do("GET", "/metrics", "", nil); !strings.Contains(string(r.body), "bun_registry_versions 2") {
		t.Error("versions gauge after unpublish")
	}
	e.store.Update(func(c config.Config) (config.Config, error) { c.FeatureFlags &^= config.Metrics; return c, nil })
	if r := e.do("GET", "/metrics", "", nil); r.status != 404 {
		t.Errorf("/metrics without METRICS: %d", r.status)
	}
}

func TestScopedPathForms(t *testing.T) {
	e := newEnv(t, 0)
	e.publish("alice", "@scope/pkg", "1.0.0")
	for _, p := range []string{"/@scope/pkg", "/@scope%2fpkg", "/@scope%2Fpkg", "/@scope/pkg/1.0.0", "/@scope%2fpkg/latest",
		"/@scope/pkg/-/pkg-1.0.0.tgz", "/@scope%2fpkg/-/pkg-1.0.0.tgz", "/-/package/@scope%2fpkg/dist-tags", "/-/package/@scope/pkg/dist-tags"} {
		if r := e.do("GET", p, "", nil); r.status != 200 {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	for _, p := range []string{"/@scope", "/@scope/", "/@/pkg", "/@scope/pkg/-/other-1.0.0.tgz", "/@scope/pkg/-/@scope/pkg-1.0.0.tgz"} {
		if r := e.do("GET", p, "", nil); r.status < 400 || r.status > 499 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

func TestReadme(t *testing.T) {
	e := newEnv(t, 0)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		doc := publishDoc("rd", v, tarball("rd", v))
		m := doc["versions"].(map[string]any)[v].(map[string]any)
		m["readme"] = "# rd " + v
		m["readmeFilename"] = "README.md"
		if r := e.do("PUT", "/rd", "tok-alice", doc); r.status != 201 {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
	}
	m := e.do("GET", "/rd", "", nil).json(t)
	if m["readme"] != "# rd 1.1.0" || m["readmeFilename"] != "README.md" {
		t.Errorf("top-level readme %v %v", m["readme"], m["readmeFilename"])
	}
	for v, man := range m["versions"].(map[string]any) {
		if _, ok := man.(map[string]any)["readme"]; ok {
			t.Errorf("version %s repeats the readme", v)
		}
	}
}

func TestHooks(t *testing.T) {
	var fellBack []string
	e := newEnv(t, 0, func(o *Options) {
		o.Fallback = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := IdentityFrom(r.Context())
			fellBack = append(fellBack, r.URL.Path+" "+id.User)
			w.Write([]byte(`{"from":"uplink"}`))
		})
	})
	e.srv.Mux.HandleFunc("/_dashboard/whoami", func(w http.ResponseWriter, r *http.Request) {
		id, _ := IdentityFrom(r.Context())
		w.Write([]byte(id.User))
	})
	e.publish("alice", "local", "1.0.0")
	for _, p := range []string{"/remote-pkg", "/@s/remote", "/remote-pkg/1.0.0", "/remote-pkg/-/remote-pkg-1.0.0.tgz", "/local/9.9.9"} {
		if r := e.do("GET", p, "tok-bob", nil); r.status != 200 || string(r.body) != `{"from":"uplink"}` {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	if len(fellBack) != 5 || fellBack[0] != "/remote-pkg bob" {
		t.Errorf("fallback saw %v", fellBack)
	}
	if r := e.do("GET", "/local", "", nil); r.status != 200 || strings.Contains(string(r.body), "uplink") {
		t.Errorf("local package went to the fallback")
	}
	if r := e.do("PUT", "/remote-pkg/-rev/1", "tok-alice", "{}"); r.status == 200 {
		t.Errorf("a write reached the fallback")
	}
	if r := e.do("GET", "/_dashboard/whoami", "tok-alice", nil); string(r.body) != "alice" {
		t.Errorf("mux identity: %q", r.body)
	}
	if r := e.do("GET", "/_nothing", "", nil); r.status != 400 {
		t.Errorf("unmounted /_ path: %d", r.status)
	}
}

func TestDebugLogging(t *testing.T) {
	var buf syncBuf
	e := newEnv(t, 0, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	e.do("GET", "/-/ping", "", nil)
	if strings.Contains(buf.String(), "/-/ping") {
		t.Errorf("successful read logged without access log or DEBUG: %s", buf.String())
	}
	e.store.Update(func(c config.Config) (config.Config, error) { c.FeatureFlags |= config.Debug; return c, nil })
	e.do("GET", "/-/ping", "", nil, "User-Agent", "npm/11")
	if !strings.Contains(buf.String(), `"route":"/-/ping"`) || !strings.Contains(buf.String(), `"ua":"npm/11"`) {
		t.Errorf("DEBUG did not log the request: %s", buf.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestMountedHijack(t *testing.T) {
	e := newEnv(t, 0)
	e.srv.Mux.HandleFunc("/_dashboard/ws", func(w http.ResponseWriter, r *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijacker", 500)
			return
		}
		conn, rw, err := hj.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhello")
		rw.Flush()
	})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /_dashboard/ws HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 101") || !strings.HasSuffix(string(b), "hello") {
		t.Errorf("got %q", b)
	}
}
