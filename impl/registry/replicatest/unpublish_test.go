package replicatest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/registry/registrytest"
	"github.com/bun13/bun13/impl/testenv"
)

// TestUnpublishAcrossReplicas: npm unpublishes through replica A a
// version that replica B holds in memory (packument and tarball): within
// 5 s B serves neither, and neither B nor C takes that name@version
// again; after the whole package is unpublished through A, B and C
// answer 404 and refuse every version it had.
func TestUnpublishAcrossReplicas(t *testing.T) {
	testenv.LookPath(t, "npm", registrytest.ClientInstall("npm"))
	c := start(t, Options{})
	cl := NewClient()
	token, err := Login(cl, c.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	a, b, cc := c.Replicas[0], c.Replicas[1], c.Replicas[2]
	v0, v1 := NewVersion("gone-soon", "1.0.0", "v0"), NewVersion("gone-soon", "1.0.1", "v1")
	for _, v := range []Version{v0, v1} {
		if r, err := Publish(cl, a.URL, token, v); err != nil || r.Status != http.StatusCreated {
			t.Fatalf("publish %s: %d %v %s", v.Version, r.Status, err, r.Body)
		}
	}
	tarball := func(base string, v Version) string {
		return base + "/" + v.Name + "/-/" + v.Name + "-" + v.Version + ".tgz"
	}
	for _, r := range []*Replica{b, cc} {
		checkServed(t, cl, c.URL, r.URL, v0.Name, []Version{v0, v1})
		if res, err := Do(cl, http.MethodGet, tarball(r.URL, v0), "", nil); err != nil || res.Status != http.StatusOK {
			t.Fatalf("%s: tarball: %d %v", r.ID, res.Status, err)
		}
	}
	npm := registrytest.NewNpm(t, a.URL)
	npm.SetToken(token)
	work := t.TempDir()
	npm.Run(work, false, "unpublish", v0.Name+"@"+v0.Version)

	gone := func(r *Replica, url string) func() error {
		return func() error {
			res, err := Do(cl, http.MethodGet, url, "", nil)
			if err != nil {
				return err
			}
			if res.Status != http.StatusNotFound {
				return fmt.Errorf("%s: GET %s: %d, want 404", r.ID, url, res.Status)
			}
			return nil
		}
	}
	for _, r := range []*Replica{b, cc} {
		eventually(t, 5*time.Second, r.ID+" drops the unpublished version", func() error {
			p, res, err := GetPackument(cl, r.URL, v0.Name)
			if err != nil || res.Status != http.StatusOK {
				return fmt.Errorf("packument: %d %v", res.Status, err)
			}
			if _, ok := p.Versions[v0.Version]; ok {
				return fmt.Errorf("%s still lists %s", r.ID, v0.Version)
			}
			if _, ok := p.Versions[v1.Version]; !ok {
				return fmt.Errorf("%s lost %s", r.ID, v1.Version)
			}
			return nil
		})
		eventually(t, 5*time.Second, r.ID+" drops the unpublished tarball", gone(r, tarball(r.URL, v0)))
		again := NewVersion(v0.Name, v0.Version, "again-"+r.ID)
		if res, err := Publish(cl, r.URL, token, again); err != nil || (res.Status != http.StatusForbidden && res.Status != http.StatusConflict) {
			t.Errorf("%s: republish of an unpublished version: %d %v %s, want 403 or 409", r.ID, res.Status, err, res.Body)
		}
	}

	npm.Run(work, false, "unpublish", v0.Name, "--force")
	for _, r := range []*Replica{b, cc} {
		eventually(t, 5*time.Second, r.ID+" drops the unpublished package", gone(r, r.URL+"/"+v0.Name))
		eventually(t, 5*time.Second, r.ID+" drops its tarballs", gone(r, tarball(r.URL, v1)))
		again := NewVersion(v1.Name, v1.Version, "again-"+r.ID)
		if res, err := Publish(cl, r.URL, token, again); err != nil || (res.Status != http.StatusForbidden && res.Status != http.StatusConflict) {
			t.Errorf("%s: republish of a version of an unpublished package: %d %v %s, want 403 or 409", r.ID, res.Status, err, res.Body)
		}
	}
	// A new version of the name is still possible (npm's rule: a
	// name@version never comes back, the name may).
	fresh := NewVersion(v0.Name, "2.0.0", "fresh")
	if res, err := Publish(cl, cc.URL, token, fresh); err != nil || res.Status != http.StatusCreated {
		t.Errorf("publish of a new version after a full unpublish through %s: %d %v %s", cc.ID, res.Status, err, res.Body)
	}
	eventually(t, 5*time.Second, b.ID+" serves the new version", func() error {
		p, res, err := GetPackument(cl, b.URL, fresh.Name)
		if err != nil || res.Status != http.StatusOK {
			return fmt.Errorf("packument: %d %v", res.Status, err)
		}
		if _, ok := p.Versions[fresh.Version]; !ok {
			return fmt.Errorf("no %s yet", fresh.Version)
		}
		return nil
	})
	checkServed(t, cl, c.URL, b.URL, fresh.Name, []Version{fresh})
}
