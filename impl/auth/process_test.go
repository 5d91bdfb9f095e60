package auth

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestHelperProcess is not a test: other tests run the test binary with
// AUTH_HELPER set to play a second process (the bun13 CLI) on the same
// files.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("AUTH_HELPER_PATH")
	switch os.Getenv("AUTH_HELPER") {
	case "":
		t.Skip("only run as a child process")
	case "add-users":
		u, err := OpenUsers(path)
		if err != nil {
			t.Fatal(err)
		}
		u.Cost = 4
		n, _ := strconv.Atoi(os.Getenv("AUTH_HELPER_N"))
		for i := range n {
			if err := u.Add(fmt.Sprintf("child-%d", i), "pw", RoleRead, t0); err != nil {
				t.Fatal(err)
			}
		}
	case "revoke":
		r, err := OpenRevocations(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Revoke(t0, Revocation{ID: os.Getenv("AUTH_HELPER_JTI")}); err != nil {
			t.Fatal(err)
		}
	}
}

func helper(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func TestOtherProcessAddsUsersConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), UsersFile)
	u := openUsers(t, path)
	cmd := helper(t, "AUTH_HELPER=add-users", "AUTH_HELPER_PATH="+path, "AUTH_HELPER_N=15")
	var out []byte
	var cmdErr error
	var wg sync.WaitGroup
	wg.Go(func() { out, cmdErr = cmd.CombinedOutput() })
	for i := range 15 {
		if err := u.Add(fmt.Sprintf("parent-%d", i), "pw", RoleRead, t0); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if cmdErr != nil {
		t.Fatalf("child: %v\n%s", cmdErr, out)
	}
	if n := len(openUsers(t, path).List(t0)); n != 30 {
		t.Errorf("%d users after 15+15 adds from two processes", n)
	}
	// The server's store sees the child's users once the interval passes.
	if _, ok := u.Get("child-14", t0.Add(time.Hour)); !ok {
		t.Errorf("user added by another process not visible")
	}
}

func TestOtherProcessRevokes(t *testing.T) {
	path := filepath.Join(t.TempDir(), RevocationsFile)
	revs, err := OpenRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	is, v, _ := setup(t)
	v.Revocations = revs
	tok, c := issue(t, is, "alice", RolePublish, t0)
	for range 2 { // cache it and arm the stat interval
		if _, err := v.Verify(tok, t0); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := helper(t, "AUTH_HELPER=revoke", "AUTH_HELPER_PATH="+path, "AUTH_HELPER_JTI="+c.ID).CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if _, err := v.Verify(tok, t0.Add(DefaultCheckInterval)); !errors.Is(err, ErrRevoked) {
		t.Errorf("token revoked by another process still verifies: %v", err)
	}
}
