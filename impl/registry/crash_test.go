package registry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
)

const crashDataEnv = "BUN13_CRASH_CHILD_DATA"

// TestCrashChild is the server process of TestCrash (it re-executes the
// test binary); it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	data := os.Getenv(crashDataEnv)
	if data == "" {
		t.Skip("child process of TestCrash only")
	}
	a, err := OpenAuth(AuthPaths{Dir: data}, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.FeatureFlags &^= config.RateLimit
	store, _ := config.NewStore(c)
	srv, err := New(context.Background(), Options{
		Store: store,
		Docs:  docs.NewFS(filepath.Join(data, "packages")), Blobs: blobs.NewFS(filepath.Join(data, "packages")),
		Auth:   a,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	srv.Serve(context.Background(), ln) // until SIGKILL
}

type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, data string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashDataEnv+"="+data)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case line <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(l, "ADDR ")
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child said %q", l)
		}
		return &child{cmd: cmd, addr: addr}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("child did not start")
	}
	return nil
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// TestCrash kills the server with SIGKILL in the middle of a publish loop,
// restarts it on the same data, and checks that every publish that got a
// 2xx is served with its exact tarball, and that nothing half-written is
// visible (every document parses; every listed version has its tarball).
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	data := t.TempDir()
	a, err := OpenAuth(AuthPaths{Dir: data}, 0)
	if err != nil {
		t.Fatal(err)
	}
	a.Users.(*auth.Users).Cost = 4
	if err := a.Users.Add("alice", "pw-alice-secret", auth.RolePublish, time.Now()); err != nil {
		t.Fatal(err)
	}
	token, _, err := a.Login("alice", "pw-alice-secret", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	acked := map[string][]byte{} // version -> tarball
	var mu sync.Mutex
	next := 0
	const workers = 4

	for round := range 3 {
		c := startChild(t, data)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					v := fmt.Sprintf("1.%d.%d", round, next)
					next++
					mu.Unlock()
					name := "crash-pkg"
					if w%2 == 1 {
						name = "@crash/pkg"
					}
					tgz := tarball(name, v, "pad", strings.Repeat("x", 1000*(w+1)))
					body, _ := json.Marshal(publishDoc(name, v, tgz))
					res, err := client.Do(mustReq("PUT", "http://"+c.addr+"/"+escapeName(name), token, body))
					if err != nil {
						return // the server died under us
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode/100 == 2 {
						mu.Lock()
						acked[name+"@"+v] = tgz
						mu.Unlock()
					} else {
						t.Errorf("publish %s@%s: %d", name, v, res.StatusCode)
					}
				}
			}()
		}
		// Let some publishes land, then kill at a random moment.
		time.Sleep(time.Duration(300+round*150) * time.Millisecond)
		c.kill()
		close(stop)
		wg.Wait()
	}
	if len(acked) < 10 {
		t.Fatalf("only %d publishes acknowledged; the test proves little", len(acked))
	}

	c := startChild(t, data) // fails if any document is unreadable
	defer c.kill()
	base := "http://" + c.addr
	served := map[string]map[string]any{}
	for _, name := range []string{"crash-pkg", "@crash/pkg"} {
		res, err := client.Get(base + "/" + escapeName(name))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		err = json.NewDecoder(res.Body).Decode(&doc)
		res.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		served[name] = doc["versions"].(map[string]any)
	}
	for id, tgz := range acked {
		name, v, _ := strings.Cut(id[1:], "@")
		name = id[:1] + name
		if _, ok := served[name][v]; !ok {
			t.Errorf("acknowledged %s lost", id)
			continue
		}
		res, err := client.Get(base + "/" + name + "/-/" + bare(name) + "-" + v + ".tgz")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !bytes.Equal(got, tgz) {
			t.Errorf("%s: tarball differs (%d bytes, want %d)", id, len(got), len(tgz))
		}
	}
	// Versions published but not acknowledged (killed before the answer)
	// may exist; if they do they must be whole.
	for name, vs := range served {
		for v := range vs {
			res, err := client.Get(base + "/" + name + "/-/" + bare(name) + "-" + v + ".tgz")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("%s@%s listed but tarball %d", name, v, res.StatusCode)
			}
		}
	}
	t.Logf("%d publishes acknowledged over 3 kills; %d+%d versions served", len(acked), len(served["crash-pkg"]), len(served["@crash/pkg"]))
}
