package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/bun13/bun13/impl/testenv/s3temp"
)

// sharedURLs are a fresh database and bucket prefix for a test.
func sharedURLs(t *testing.T) (db, bucket string) {
	t.Helper()
	bucket = s3temp.New(t, "cmd")
	return pgtemp.New(t), bucket
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestRegistryMigrate: a single-node data directory moves into the
// distributed stores: every package and tarball, checked on the way; a
// package whose tarball is damaged is named and not copied; a second run
// copies nothing new and, once the damage is repaired, resumes.
func TestRegistryMigrate(t *testing.T) {
	db, bucket := sharedURLs(t)
	s := serveRegistry(t)
	m := regexp.MustCompile(`one-time password: (\S+)`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no admin password in %q", s.stdout.String())
	}
	tok := login(t, s.url, "admin", m[1])
	for _, p := range []struct{ name, version string }{
		{"mig-a", "1.0.0"}, {"mig-a", "1.1.0"}, {"@mig/b", "2.0.0"}, {"mig-broken", "1.0.0"},
	} {
		tgz := registrytest.Tarball(p.name, p.version)
		if code, body := httpJSON(t, "PUT", s.url+"/"+registrytest.EscapeName(p.name), tok, registrytest.PublishDoc(p.name, p.version, tgz)); code != 201 {
			t.Fatalf("publish %s@%s: %d %v", p.name, p.version, code, body)
		}
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	data := filepath.Join(s.dir, "data")
	broken := filepath.Join(data, "packages", "mig-broken", "mig-broken-1.0.0.tgz")
	good, err := os.ReadFile(broken)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, append([]byte("x"), good...), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"registry", "migrate", "--from", data, "--database", db, "--blobs", bucket}
	out, errs, code := cliRun(t, "", nil, "", args...)
	if !strings.Contains(out, "auth: 1 users") {
		t.Errorf("first migrate did not copy the admin: %s", out)
	}
	if code == 0 || !strings.Contains(out, "2 packages copied (3 tarballs") || !strings.Contains(errs, "not copied: mig-broken: tarball mig-broken-1.0.0.tgz: sha512 does not match") {
		t.Fatalf("migrate with a damaged tarball: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	if err := os.WriteFile(broken, good, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code = cliRun(t, "", nil, "", args...)
	if code != 0 || !strings.Contains(out, "1 packages copied (1 tarballs") || !strings.Contains(out, "2 already there") || !strings.Contains(out, "auth: 0 users") {
		t.Fatalf("migrate again: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}

	// A replica on the stores serves what was migrated, and knows the
	// users and the tokens the single node issued (with a signing key of
	// its own: the old key was registered by the migration).
	r := serveRegistry(t, "--database", db, "--blobs", bucket)
	if strings.Contains(r.stdout.String(), "one-time password") {
		t.Fatalf("a replica on a migrated database created an admin: %s", r.stdout.String())
	}
	if code, w := httpJSON(t, "GET", r.url+"/-/whoami", tok, nil); code != 200 || w["username"] != "admin" {
		t.Fatalf("whoami with the single node's token: %d %v", code, w)
	}
	if tok2 := login(t, r.url, "admin", m[1]); tok2 == "" {
		t.Fatal("no token")
	}
	for _, p := range []struct{ name, version string }{{"mig-a", "1.1.0"}, {"@mig/b", "2.0.0"}, {"mig-broken", "1.0.0"}} {
		code, body := get(t, r.url+"/"+registrytest.EscapeName(p.name))
		if code != 200 || !strings.Contains(string(body), `"`+p.version+`"`) {
			t.Fatalf("GET %s after migrate: %d %s", p.name, code, body)
		}
		_, bare, _ := strings.Cut(p.name, "/")
		if bare == "" {
			bare = p.name
		}
		code, tgz := get(t, r.url+"/"+p.name+"/-/"+bare+"-"+p.version+".tgz")
		if want := registrytest.Tarball(p.name, p.version); code != 200 || string(tgz) != string(want) {
			t.Fatalf("tarball of %s@%s after migrate: %d, %d bytes (want %d)", p.name, p.version, code, len(tgz), len(want))
		}
	}
	code, body := get(t, r.url+"/-/v1/search?text=mig")
	if code != 200 || !strings.Contains(string(body), `"total":3`) {
		t.Fatalf("search after migrate: %d %s", code, body)
	}
}

// TestSharedFlagsUsage: the distributed flags go together.
func TestSharedFlagsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"registry", "serve", "--database", "postgres://x/y"},
		{"registry", "serve", "--blobs", "file:///tmp/x"},
		{"registry", "serve", "--redis", "redis://127.0.0.1:1/0"},
		{"registry", "serve", "--database", "postgres://x/y", "--blobs", "file:///tmp/x", "--upstream", "https://registry.npmjs.org"},
		{"registry", "migrate", "--database", "postgres://x/y", "--blobs", "file:///tmp/x"},
		{"registry", "migrate", "--from", "/nonexistent"},
		{"registry", "sweep"},
	} {
		if _, errs, code := cliRun(t, t.TempDir(), nil, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs)
		}
	}
}

// TestRegistryReplicas: two `registry serve` on one database and bucket,
// each with its own data directory (so its own signing key): exactly one
// creates the admin; a token issued by one works on the other and, once
// revoked through one, is refused by the other; a publish through one is
// served by the other; both list the fleet.
func TestRegistryReplicas(t *testing.T) {
	db, bucket := sharedURLs(t)
	a := serveRegistry(t, "--database", db, "--blobs", bucket, "--replica-id", "ra")
	b := serveRegistry(t, "--database", db, "--blobs", bucket, "--replica-id", "rb")
	re := regexp.MustCompile(`one-time password: (\S+)`)
	ma, mb := re.FindStringSubmatch(a.stdout.String()), re.FindStringSubmatch(b.stdout.String())
	if (ma == nil) == (mb == nil) {
		t.Fatalf("admin created by %v and %v replicas, want exactly one", ma != nil, mb != nil)
	}
	m := ma
	if m == nil {
		m = mb
	}
	tok := login(t, b.url, "admin", m[1])
	if code, w := httpJSON(t, "GET", a.url+"/-/whoami", tok, nil); code != 200 || w["username"] != "admin" {
		t.Fatalf("replica a with replica b's token: %d %v", code, w)
	}
	tgz := registrytest.Tarball("rep-pkg", "1.0.0")
	if code, body := httpJSON(t, "PUT", a.url+"/rep-pkg", tok, registrytest.PublishDoc("rep-pkg", "1.0.0", tgz)); code != 201 {
		t.Fatalf("publish through a: %d %v", code, body)
	}
	if code, body := get(t, b.url+"/rep-pkg/-/rep-pkg-1.0.0.tgz"); code != 200 || string(body) != string(tgz) {
		t.Fatalf("tarball through b: %d", code)
	}
	// A tarball no document refers to (a replica died between the blob
	// and the commit): registry sweep lists it, then deletes it.
	bl, err := blobs.OpenURL(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	if err := bl.Put(context.Background(), "rep-pkg", "rep-pkg-2.0.0+bun13-dead.tgz", []byte("orphan")); err != nil {
		t.Fatal(err)
	}
	out, errs, code := cliRun(t, "", nil, "", "registry", "sweep", "--dry-run", "--database", db, "--blobs", bucket)
	if code != 0 || !strings.Contains(out, "orphan rep-pkg/rep-pkg-2.0.0+bun13-dead.tgz") || !strings.Contains(out, "1 orphaned tarballs found, 0 deleted") {
		t.Fatalf("sweep --dry-run: %d\n%s\n%s", code, out, errs)
	}
	out, errs, code = cliRun(t, "", nil, "", "registry", "sweep", "--grace", "10ms", "--database", db, "--blobs", bucket)
	if code != 0 || !strings.Contains(out, "1 orphaned tarballs found, 1 deleted") {
		t.Fatalf("sweep: %d\n%s\n%s", code, out, errs)
	}
	if files, err := bl.List(context.Background(), "rep-pkg"); err != nil || len(files) != 1 {
		t.Fatalf("after the sweep: %q %v (want the published tarball alone)", files, err)
	}
	if code, body := get(t, b.url+"/_dashboard/api/fleet"); code != 200 || !strings.Contains(string(body), `"ra"`) || !strings.Contains(string(body), `"rb"`) {
		waitFleet := time.Now().Add(15 * time.Second)
		for time.Now().Before(waitFleet) && !(strings.Contains(string(body), `"ra"`) && strings.Contains(string(body), `"rb"`)) {
			time.Sleep(200 * time.Millisecond)
			_, body = get(t, b.url+"/_dashboard/api/fleet")
		}
		if !strings.Contains(string(body), `"ra"`) || !strings.Contains(string(body), `"rb"`) {
			t.Fatalf("fleet through b: %s", body)
		}
	}
	// npm logout revokes the token through a; b refuses it within 1 s.
	req, _ := http.NewRequest("DELETE", a.url+"/-/user/token/"+tok, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("logout through a: %d", res.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := httpJSON(t, "GET", b.url+"/-/whoami", tok, nil)
		if code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica b still accepts the revoked token: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
