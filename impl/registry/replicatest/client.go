package replicatest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/bun13/bun13/impl/registry/registrytest"
)

// Login logs user in through base (PUT /-/user/org.couchdb.user:NAME)
// and returns the token.
func Login(cl *http.Client, base, user string) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": user, "password": Password(user)})
	req, _ := http.NewRequest(http.MethodPut, base+"/-/user/org.couchdb.user:"+user, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := cl.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login %s: %d %s", user, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("login %s: no token in %s", user, b)
	}
	return out.Token, nil
}

// Result is a finished request: status, Retry-After, body, and when the
// response arrived.
type Result struct {
	Status     int
	RetryAfter string
	Body       []byte
	At         time.Time
}

// Do sends one request with an optional bearer token.
func Do(cl *http.Client, method, url, token string, body []byte) (Result, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return Result{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := cl.Do(req)
	if err != nil {
		return Result{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return Result{Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After"), Body: b, At: time.Now()}, err
}

// Version is one published version: its tarball and integrity.
type Version struct {
	Name, Version string
	Tarball       []byte
	Integrity     string
}

// NewVersion builds name@version with a tarball whose content is unique
// to it (salt), so two publishers of one version send different bytes.
func NewVersion(name, version, salt string) Version {
	tgz := registrytest.Tarball(name, version, "salt.txt", salt)
	integ, _ := registrytest.Integrity(tgz)
	return Version{Name: name, Version: version, Tarball: tgz, Integrity: integ}
}

// Publish PUTs v to base with token.
func Publish(cl *http.Client, base, token string, v Version) (Result, error) {
	b, _ := json.Marshal(registrytest.PublishDoc(v.Name, v.Version, v.Tarball))
	return Do(cl, http.MethodPut, base+"/"+registrytest.EscapeName(v.Name), token, b)
}

// Packument is the part of a packument the tests read.
type Packument struct {
	Versions map[string]struct {
		Dist struct {
			Tarball   string `json:"tarball"`
			Integrity string `json:"integrity"`
		} `json:"dist"`
	} `json:"versions"`
}

// GetPackument fetches name's full packument from base.
func GetPackument(cl *http.Client, base, name string) (Packument, Result, error) {
	var p Packument
	r, err := Do(cl, http.MethodGet, base+"/"+registrytest.EscapeName(name), "", nil)
	if err != nil || r.Status != http.StatusOK {
		return p, r, err
	}
	err = json.Unmarshal(r.Body, &p)
	return p, r, err
}
