// Package replicatest runs the registry as it is deployed in distributed
// mode (issue 12): several `bun13 registry serve` processes sharing one
// PostgreSQL database and one S3 bucket, behind an nginx load balancer
// that spreads requests round-robin with no stickiness. Its tests drive
// the fleet through the balancer and through each replica directly.
//
// Every outside server comes through impl/testenv: PostgreSQL
// ($BUN13_TEST_POSTGRES, a fresh database per cluster), S3
// ($BUN13_TEST_S3, a fresh key prefix per cluster), nginx, and for the
// outage tests private PostgreSQL, versitygw and redis-server processes
// this package starts and stops itself.
package replicatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/testenv"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/bun13/bun13/impl/testenv/s3temp"
)

// Install hints of the servers and tools the harness needs.
const (
	InstallNginx    = "apt-get install -y nginx"
	InstallServices = pgtemp.Install
)

// Build compiles the bun13 command into dir and returns the binary's
// path; with race, under the race detector (a replica that reports a
// race fails the test using it, see Start).
func Build(dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "bun13")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "github.com/bun13/bun13/impl/cmd/bun13")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// Options configure a Cluster. Zero values take the defaults.
type Options struct {
	// Bin is the bun13 binary (Build). Required.
	Bin string
	// Replicas is the number of registry processes (3).
	Replicas int
	// Database is the PostgreSQL URL (default: a fresh database on
	// $BUN13_TEST_POSTGRES).
	Database string
	// Blobs is the blob store URL (default: a fresh key prefix in the
	// bucket of $BUN13_TEST_S3). Env carries its credentials.
	Blobs string
	// Redis is passed as --redis when set.
	Redis string
	// StoreTimeout is --store-timeout (2s).
	StoreTimeout time.Duration
	// Env is added to each replica's environment (AWS_* for a private
	// S3 server, say); the test's own environment is inherited.
	Env []string
	// Args are extra flags for every replica.
	Args []string
	// Users are created before the replicas start: name -> role
	// (read, publish, admin); each one's password is Password(name).
	Users map[string]string
}

// Password is the password the harness gives user name.
func Password(name string) string { return "pw-" + name + "-replicatest" }

// Cluster is N replicas behind nginx.
type Cluster struct {
	t        testing.TB
	opts     Options
	dir      string
	authDir  string
	URL      string // the load balancer, http://127.0.0.1:PORT
	Replicas []*Replica
	Database string
	Blobs    string
	nginx    *exec.Cmd
	nginxLog string
}

// Replica is one `bun13 registry serve` process.
type Replica struct {
	ID   string
	URL  string // http://127.0.0.1:PORT, bypassing the balancer
	addr string
	dir  string
	log  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// authInDatabase says where the replicas share users, tokens,
// revocations and signing keys: in PostgreSQL (impl/auth/pgauth, what
// registry serve uses with --database; each replica has a data
// directory, and a signing key, of its own, registered in the database),
// or in one --data directory shared by all (the interim before pgauth:
// its files are locked and polled, so several processes may use them;
// replicas start one after the other since each sweeps temp files there
// when it starts).
const authInDatabase = true

// authArgs are replica r's flags for the auth state (see authInDatabase).
func (c *Cluster) authArgs(r *Replica) []string {
	if authInDatabase {
		return []string{"--data", filepath.Join(r.dir, "data")}
	}
	return []string{"--data", c.authDir}
}

// addUser creates a user where the replicas will look for it.
func (c *Cluster) addUser(name, role string) {
	c.t.Helper()
	where := []string{"--data", c.authDir}
	if authInDatabase {
		where = []string{"--database", c.Database}
	}
	c.bun13(strings.NewReader(Password(name)+"\n"), append([]string{"user", "add", name, "--role", role}, where...)...)
}

// Start starts the cluster and nginx, waits until every replica is
// ready, and stops everything when t ends.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Bin == "" {
		t.Fatal("replicatest: Options.Bin is required (Build)")
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		// Debian's nginx is in /usr/sbin, not on every user's PATH.
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			testenv.Missing(t, "nginx", InstallNginx)
		}
		nginx = "/usr/sbin/nginx"
	}
	if o.Replicas == 0 {
		o.Replicas = 3
	}
	if o.StoreTimeout == 0 {
		o.StoreTimeout = 2 * time.Second
	}
	if o.Database == "" {
		o.Database = pgtemp.New(t)
	}
	if o.Blobs == "" {
		o.Blobs = FreshPrefix(t)
	}
	c := &Cluster{t: t, opts: o, dir: t.TempDir(), Database: o.Database, Blobs: o.Blobs}
	c.authDir = filepath.Join(c.dir, "auth")
	if err := os.MkdirAll(c.authDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range sortedKeys(o.Users) {
		c.addUser(name, o.Users[name])
	}
	lbPort := FreePort(t)
	c.URL = "http://127.0.0.1:" + strconv.Itoa(lbPort)
	t.Cleanup(c.stopAll)
	for i := range o.Replicas {
		r := &Replica{ID: fmt.Sprintf("replica-%d", i+1), dir: filepath.Join(c.dir, fmt.Sprintf("r%d", i+1))}
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		r.addr = "127.0.0.1:" + strconv.Itoa(FreePort(t))
		r.URL = "http://" + r.addr
		r.log = filepath.Join(r.dir, "server.log")
		c.Replicas = append(c.Replicas, r)
		c.startReplica(r)
		// One at a time: each sweeps the shared directory's temp files
		// when it starts (see authArgs).
		c.WaitReady(r, time.Minute)
	}
	c.startNginx(nginx, lbPort)
	return c
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

// bun13 runs one bun13 command to completion.
func (c *Cluster) bun13(stdin io.Reader, args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.opts.Bin, args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("bun13 %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Args are the flags replica r runs with.
func (c *Cluster) Args(r *Replica) []string {
	args := []string{"registry", "serve",
		"--addr", r.addr,
		"--lockfile", filepath.Join(r.dir, "bun.lockb"),
		"--database", c.Database,
		"--blobs", c.Blobs,
		"--replica-id", r.ID,
		"--public-url", c.URL,
		"--trusted-proxies", "127.0.0.1/32",
		"--store-timeout", c.opts.StoreTimeout.String(),
		// The tests publish and log in far more than one client would in
		// a minute, all from 127.0.0.1.
		"--rate-read", "1000000", "--rate-publish", "100000", "--rate-login", "100000",
		"--access-log=false",
	}
	args = append(args, c.authArgs(r)...)
	if c.opts.Redis != "" {
		args = append(args, "--redis", c.opts.Redis)
	}
	return append(args, c.opts.Args...)
}

func (c *Cluster) startReplica(r *Replica) {
	c.t.Helper()
	logf, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(c.opts.Bin, c.Args(r)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), c.opts.Env...)
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatal(err)
	}
	done := make(chan struct{})
	r.mu.Lock()
	r.cmd, r.done, r.err = cmd, done, nil
	r.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		close(done)
	}()
}

// Running reports whether r's process is alive.
func (r *Replica) Running() bool {
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Log returns the replica's log so far.
func (r *Replica) Log() string {
	b, _ := os.ReadFile(r.log)
	return string(b)
}

// Kill sends SIGKILL to r and waits until it is gone.
func (r *Replica) Kill() {
	r.signal(syscall.SIGKILL, 10*time.Second)
}

// Stop sends SIGTERM and waits (SIGKILL after 15 s).
func (r *Replica) Stop() {
	if !r.signal(syscall.SIGTERM, 15*time.Second) {
		r.signal(syscall.SIGKILL, 10*time.Second)
	}
}

func (r *Replica) signal(sig syscall.Signal, wait time.Duration) bool {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

// Ready is a parsed /-/readyz answer.
type Ready struct {
	Status int
	Ready  bool `json:"ready"`
	Checks []struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"checks"`
}

// Check reports the named check's result and whether it was present.
func (r Ready) Check(name string) (ok, found bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.OK, true
		}
	}
	return false, false
}

// Readyz asks base for its readiness.
func Readyz(base string) (Ready, error) {
	var rd Ready
	cl := &http.Client{Timeout: 10 * time.Second}
	res, err := cl.Get(base + "/-/readyz")
	if err != nil {
		return rd, err
	}
	defer res.Body.Close()
	rd.Status = res.StatusCode
	err = json.NewDecoder(res.Body).Decode(&rd)
	return rd, err
}

// WaitReady waits until r answers /-/readyz with 200, or fails the test
// with the replica's log.
func (c *Cluster) WaitReady(r *Replica, limit time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		rd, err := Readyz(r.URL)
		if err == nil && rd.Status == http.StatusOK && rd.Ready {
			return
		}
		if !r.Running() {
			c.t.Fatalf("%s exited: %v\n%s", r.ID, r.err, tail(r.Log(), 4000))
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not ready after %v: %+v %v\n%s", r.ID, limit, rd, err, tail(r.Log(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// problems returns the first max warning or error lines of a JSON log,
// but for request lines of 503s (an outage test causes those on purpose).
func problems(log string, max int) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if len(out) == max {
			break
		}
		if (strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, `"level":"WARN"`)) && !strings.Contains(l, `"status":503`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

const nginxConf = `# written by impl/registry/replicatest
daemon off;
master_process on;
user root;
worker_processes 1;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log warn;
events { worker_connections 1024; }
http {
	log_format upstream '$upstream_addr $status $request_method $uri';
	access_log {{dir}}/access.log upstream;
	client_body_temp_path {{dir}}/tmp/body;
	proxy_temp_path {{dir}}/tmp/proxy;
	fastcgi_temp_path {{dir}}/tmp/fastcgi;
	uwsgi_temp_path {{dir}}/tmp/uwsgi;
	scgi_temp_path {{dir}}/tmp/scgi;
	# Round-robin, no stickiness: consecutive requests of one client land
	# on different replicas.
	upstream replicas {
{{servers}}		keepalive 32;
	}
	server {
		listen {{listen}};
		client_max_body_size 64m;
		location / {
			proxy_pass http://replicas;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $http_host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto $scheme;
			proxy_request_buffering on;
			proxy_next_upstream error timeout;
			proxy_next_upstream_tries 3;
			proxy_read_timeout 60s;
		}
	}
}
`

func (c *Cluster) startNginx(bin string, port int) {
	c.t.Helper()
	dir := filepath.Join(c.dir, "nginx")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		c.t.Fatal(err)
	}
	var servers strings.Builder
	for _, r := range c.Replicas {
		// max_fails=0: a replica that refused a connection (restarting)
		// is not taken out of the rotation; nginx passes that request to
		// the next one (proxy_next_upstream error), and open-source nginx
		// has no active health checks to bring it back sooner.
		fmt.Fprintf(&servers, "\t\tserver %s max_fails=0;\n", r.addr)
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{servers}}", servers.String(), "{{listen}}", "127.0.0.1:"+strconv.Itoa(port)).Replace(nginxConf)
	if os.Geteuid() != 0 {
		conf = strings.Replace(conf, "user root;\n", "", 1)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.nginxLog = filepath.Join(dir, "error.log")
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", c.nginxLog)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.nginx = cmd
	deadline := time.Now().Add(30 * time.Second)
	for {
		if rd, err := Readyz(c.URL); err == nil && rd.Status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(c.nginxLog)
			c.t.Fatalf("nginx not answering on %s: %s\n%s", c.URL, out.String(), b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Served counts, from nginx's access log, the requests each replica
// answered through the balancer (keyed by Replica.ID; a request nginx
// retried on another replica counts for each one it tried).
func (c *Cluster) Served() map[string]int {
	b, _ := os.ReadFile(filepath.Join(c.dir, "nginx", "access.log"))
	byAddr := map[string]string{}
	for _, r := range c.Replicas {
		byAddr[r.addr] = r.ID
	}
	n := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		ups, _, _ := strings.Cut(line, " ")
		for _, a := range strings.Split(ups, ", ") {
			if id, ok := byAddr[a]; ok {
				n[id]++
			}
		}
	}
	return n
}

func (c *Cluster) stopAll() {
	if c.nginx != nil && c.nginx.Process != nil {
		_ = c.nginx.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { _ = c.nginx.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.nginx.Process.Kill()
			<-done
		}
	}
	var wg sync.WaitGroup
	for _, r := range c.Replicas {
		wg.Add(1)
		go func() { defer wg.Done(); r.Stop() }()
	}
	wg.Wait()
	for _, r := range c.Replicas {
		if log := r.Log(); strings.Contains(log, "WARNING: DATA RACE") {
			i := strings.Index(log, "WARNING: DATA RACE")
			c.t.Errorf("%s reported a data race:\n%s", r.ID, log[i:min(len(log), i+6000)])
		}
	}
	if c.t.Failed() {
		for _, r := range c.Replicas {
			c.t.Logf("log of %s (warnings and errors, then the end):\n%s\n%s", r.ID, problems(r.Log(), 30), tail(r.Log(), 1500))
		}
	}
}

// Restart starts a stopped or killed replica again and waits until it is
// ready.
func (c *Cluster) Restart(r *Replica) {
	c.t.Helper()
	r.Stop()
	c.startReplica(r)
	c.WaitReady(r, time.Minute)
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listened on a
// moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreshPrefix returns $BUN13_TEST_S3 with a key prefix of its own, so the
// cluster starts with no tarballs.
func FreshPrefix(t testing.TB) string {
	t.Helper()
	return s3temp.New(t, "replicatest")
}

// NewClient returns an HTTP client with a timeout and enough idle
// connections for concurrent tests.
func NewClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 128},
	}
}
