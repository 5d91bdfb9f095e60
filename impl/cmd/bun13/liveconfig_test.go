package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/frame"
	"github.com/bun13/bun13/impl/lockfile"
)

// liveServer is `bun13 registry serve` in-process with its own
// environment, the admin token and the lockfile's path.
type liveServer struct {
	*servedRegistry
	lock  string
	token string
}

func serveWithEnv(t *testing.T, envs map[string]string, prepare ...func(dir string)) *liveServer {
	t.Helper()
	dir := t.TempDir()
	for _, p := range prepare {
		p(dir)
	}
	lock := filepath.Join(dir, "bun.lockb")
	all := map[string]string{"BUN_LOCKFILE": lock}
	for k, v := range envs {
		all[k] = v
	}
	out, errb := &regLogBuffer{}, &regLogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{stdin: strings.NewReader(""), stdout: out, stderr: errb,
		lookup: func(k string) (string, bool) { v, ok := all[k]; return v, ok }, ctx: ctx}
	done := make(chan int, 1)
	go func() {
		done <- e.main([]string{"registry", "serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--access-log=false"})
	}()
	re := regexp.MustCompile(`"addr":"(http://127\.0\.0\.1:\d+)"`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(errb.String()); m != nil {
			s := &servedRegistry{url: m[1], dir: dir, stdout: out, stderr: errb}
			var once sync.Once
			code := 0
			s.stop = func() int { once.Do(func() { cancel(); code = <-done }); return code }
			t.Cleanup(func() { s.stop() })
			pw := regexp.MustCompile(`one-time password: (\S+)`).FindStringSubmatch(out.String())
			if pw == nil {
				t.Fatalf("no admin password in %q", out.String())
			}
			return &liveServer{servedRegistry: s, lock: lock, token: login(t, s.url, "admin", pw[1])}
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *liveServer) file(t *testing.T) config.Config {
	t.Helper()
	lf, err := lockfile.ReadFile(s.lock)
	if err != nil {
		t.Fatal(err)
	}
	return lf.Config
}

func (s *liveServer) post(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/_dashboard/api/config", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func (s *liveServer) live(t *testing.T) map[string]any {
	t.Helper()
	_, m := httpJSON(t, "GET", s.url+"/_dashboard/api/config", "", nil)
	return m
}

// TestServerFollowsTheFile is the first scenario: a CLI change
// turns /metrics off in the running server, and a dashboard change of
// another field keeps it.
func TestServerFollowsTheFile(t *testing.T) {
	s := serveWithEnv(t, nil)
	waitCode(t, s.url+"/metrics", "", 200)
	if _, errs, code := cliRun(t, "", nil, "", "config", "feature", "disable", "METRICS", "--file", s.lock); code != 0 {
		t.Fatalf("feature disable: %s", errs)
	}
	waitCode(t, s.url+"/metrics", "", 404)
	// The page's checksum from before the CLI change is stale: 409.
	stale := fmt.Sprintf("0x%016x", config.Default().Checksum())
	if code, m := s.post(t, `{"rows":30,"checksum":"`+stale+`"}`); code != 409 {
		t.Errorf("stale checksum: %d %v", code, m)
	}
	if code, m := s.post(t, `{"rows":30}`); code != 200 {
		t.Fatalf("post rows: %d %v", code, m)
	}
	if f := s.file(t); f.FeatureFlags != 0x38 || f.Rows != 30 {
		t.Errorf("file holds flags %s rows %d, want 0x00000038 and 30 (both changes)", f.FeatureFlags.Hex(), f.Rows)
	}
	waitCode(t, s.url+"/metrics", "", 404)
	// A rollback to the first record (the default config) is applied by
	// the running server like any other change.
	if out, errs, code := cliRun(t, "", nil, "", "config", "rollback", "--to", "1", "--file", s.lock); code != 0 {
		t.Fatalf("rollback: %s %s", out, errs)
	}
	waitCode(t, s.url+"/metrics", "", 200)
	cliRun(t, "", nil, "", "config", "feature", "disable", "METRICS", "--file", s.lock)
	waitCode(t, s.url+"/metrics", "", 404)
	for _, want := range []string{`"msg":"config changed"`, `"source":"cli"`, `"disabled METRICS"`, `"source":"api"`, `"rows: 24 -> 30"`, `"source":"rollback"`} {
		// The server's log is flushed every 100 ms: wait for the line.
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(s.stderr.String(), want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	// An invalid file is not applied; the API says so.
	corrupt := s.file(t)
	b, _ := lockfile.Encode(&lockfile.Lockfile{Config: corrupt})
	b[0x10] = 1 // reserved byte, header CRC then fails first
	writeFileInPlace(t, s.lock, b)
	waitUntil(t, "file invalid in api/config", 5*time.Second, func() bool {
		f, _ := s.live(t)["file"].(map[string]any)
		return f != nil && f["valid"] == false && f["error"] == "header-checksum"
	})
	if code, _ := httpJSON(t, "GET", s.url+"/metrics", "", nil); code != 404 {
		t.Errorf("invalid file changed the live config: /metrics %d", code)
	}
	if code, m := s.post(t, `{"cols":100}`); code != 409 || m["error"] != "lockfile-invalid" {
		t.Errorf("post over an invalid file: %d %v", code, m)
	}
}

func writeFileInPlace(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := writeInPlace(path, b); err != nil {
		t.Fatal(err)
	}
}

// TestOverridesStayRuntime is the second scenario: flags from the
// environment, a dashboard change of rows, and the file's flags untouched.
func TestOverridesStayRuntime(t *testing.T) {
	s := serveWithEnv(t, map[string]string{config.EnvFlags: "DEBUG,METRICS"})
	m := s.live(t)
	if m["featureFlags"] != "0x00000081" {
		t.Fatalf("live flags %v", m["featureFlags"])
	}
	src, _ := m["sources"].(map[string]any)
	if src["featureFlags"] != config.EnvFlags || src["rows"] != "file" {
		t.Errorf("sources %v", src)
	}
	// The page sends the checksum it was shown (the live config's).
	if code, r := s.post(t, `{"rows":33,"checksum":"`+m["checksum"].(string)+`"}`); code != 200 {
		t.Fatalf("post rows: %d %v", code, r)
	}
	if f := s.file(t); f.FeatureFlags != config.Default().FeatureFlags || f.Rows != 33 {
		t.Errorf("file flags %s rows %d: the override was persisted", f.FeatureFlags.Hex(), f.Rows)
	}
	if m := s.live(t); m["featureFlags"] != "0x00000081" || m["rows"] != float64(33) {
		t.Errorf("live %v", m)
	}
}

// TestConcurrentWritersLoseNothing runs the CLI, the dashboard API and
// WebSocket frames, each changing its own field many times at once. The
// file must end with every writer's last value and the server's live
// config must equal the file.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	s := serveWithEnv(t, nil)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	wg.Add(3)
	go func() { // the CLI: rows
		defer wg.Done()
		for i := 1; i <= n; i++ {
			if _, e, code := cliRun(t, "", nil, "", "config", "set", "rows", fmt.Sprint(100+i), "--file", s.lock); code != 0 {
				errs <- fmt.Errorf("config set rows: %s", e)
			}
		}
	}()
	go func() { // the API: cols
		defer wg.Done()
		for i := 1; i <= n; i++ {
			req, _ := http.NewRequest("POST", s.url+"/_dashboard/api/config", strings.NewReader(fmt.Sprintf(`{"cols":%d}`, 100+i)))
			req.Header.Set("Authorization", "Bearer "+s.token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				continue
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				errs <- fmt.Errorf("post cols: %d", res.StatusCode)
			}
		}
	}()
	go func() { // frames: the DEBUG flag on and off, ending on
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, strings.Replace(s.url, "http", "ws", 1)+"/_dashboard/ws",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + s.token}}})
		if err != nil {
			errs <- err
			return
		}
		defer c.CloseNow()
		for i := 1; i <= n; i++ {
			typ := frame.TypeFlagsDisable
			if i%2 == 0 {
				typ = frame.TypeFlagsEnable
			}
			for {
				b := frame.Encode(frame.Frame{Type: typ, Offset: config.OffsetFeatureFlags, Value: uint64(config.Debug)})
				if err := c.Write(ctx, websocket.MessageBinary, b[:]); err != nil {
					errs <- err
					return
				}
				reply, err := readReply(ctx, c)
				if err != nil {
					errs <- err
					return
				}
				if reply.Type == frame.TypeNak && frame.NakCode(reply.Value) == frame.NakRateLimited {
					time.Sleep(120 * time.Millisecond)
					continue
				}
				if reply.Type != frame.TypeAck {
					errs <- fmt.Errorf("frame %d: %v", i, reply)
				}
				break
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	f := s.file(t)
	if f.Rows != 100+n || f.Cols != 100+n || !f.Enabled(config.Debug) || !f.Enabled(config.Metrics) {
		t.Errorf("file rows %d cols %d flags %s: a change was lost", f.Rows, f.Cols, f.FeatureFlags.Hex())
	}
	b := f.Bytes()
	waitUntil(t, "the live config to equal the file", 5*time.Second, func() bool {
		return s.live(t)["hex"] == fmt.Sprintf("%x", b[:])
	})
}

// readReply reads until the ACK or NAK answering a frame (the server
// also broadcasts SET frames and stats).
func readReply(ctx context.Context, c *websocket.Conn) (frame.Frame, error) {
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return frame.Frame{}, err
		}
		if typ != websocket.MessageBinary {
			continue
		}
		f, err := frame.Decode(b)
		if err != nil {
			return f, err
		}
		if (f.Type == frame.TypeAck || f.Type == frame.TypeNak) && f.Offset == config.OffsetFeatureFlags {
			return f, nil
		}
	}
}

// writeInPlace rewrites path in place, as an editor does (no rename).
func writeInPlace(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// TestServeSweepsStaleTemps: temp files of writers killed in an earlier
// run are removed from the data directory at start.
func TestServeSweepsStaleTemps(t *testing.T) {
	var strays []string
	s := serveWithEnv(t, nil, func(dir string) {
		for _, p := range []string{"data/packages/left-pad/.package.json.tmp-123", "data/.users.json.tmp-4", "data/uplink/.x.tgz.tmp-99"} {
			p = filepath.Join(dir, p)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("partial"), 0o644)
			strays = append(strays, p)
		}
	})
	for _, p := range strays {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s survived the start", p)
		}
	}
	if !strings.Contains(s.stderr.String(), `"msg":"removed stale temp files of killed writers"`) || !strings.Contains(s.stderr.String(), `"count":3`) {
		t.Errorf("no sweep log: %s", s.stderr.String())
	}
}

// TestLiveConfigMap: `config live` follows a ConfigMap volume, whose
// bun.lockb is a symlink through "..data", swapped atomically.
func TestLiveConfigMap(t *testing.T) {
	dir := t.TempDir()
	gen := 0
	publish := func(c config.Config) {
		t.Helper()
		gen++
		ts := filepath.Join(dir, fmt.Sprintf("..2026_12_01_%02d", gen))
		b, _ := lockfile.Encode(&lockfile.Lockfile{Config: c})
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ts, "bun.lockb"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	publish(config.Default())
	path := filepath.Join(dir, "bun.lockb")
	if err := os.Symlink("..data/bun.lockb", path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: out, stderr: out, ctx: ctx,
		lookup: func(string) (string, bool) { return "", false }}
	done := make(chan int)
	go func() { done <- e.main([]string{"config", "live", "--file", path}) }()
	waitFor(t, out, "watching")
	c := config.Default()
	c.Rows = 61
	publish(c)
	waitFor(t, out, "rows: 24 -> 61")
	c.FeatureFlags |= config.Debug
	publish(c)
	waitFor(t, out, "enabled DEBUG")
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("live exited %d", code)
	}
}
