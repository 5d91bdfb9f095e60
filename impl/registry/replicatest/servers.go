package replicatest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/testenv"
)

// Install hints of the private servers.
const (
	InstallPostgres  = "apt-get install -y postgresql"
	InstallVersitygw = "go install github.com/versity/versitygw/cmd/versitygw@latest"
	InstallRedis     = "apt-get install -y redis-server"
)

// Postgres is a PostgreSQL cluster of the test's own, in a temp dir, that
// the test may stop and start (the shared one of .ci/services is not the
// test's to restart).
type Postgres struct {
	t     testing.TB
	bin   string
	data  string
	log   string
	port  int
	asPG  []string // runuser -u postgres -- when root
	URL   string   // postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
	mu    sync.Mutex
	state bool
}

// pgBinDir finds the newest Debian PostgreSQL bin directory holding
// initdb and pg_ctl, or the directory of initdb on PATH.
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// StartPostgres initializes and starts a private cluster, stopped when t
// ends. As root, initdb and pg_ctl run as the postgres user (they refuse
// root), who owns the cluster's directory.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		testenv.Missing(t, "PostgreSQL (initdb, pg_ctl)", InstallPostgres)
	}
	root, err := os.MkdirTemp("", "replicatest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	p := &Postgres{t: t, bin: bin, data: filepath.Join(root, "data"), log: filepath.Join(root, "server.log"), port: FreePort(t)}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres:", root).CombinedOutput(); err != nil {
			t.Fatalf("chown postgres %s: %v %s", root, err, out)
		}
		p.asPG = []string{"runuser", "-u", "postgres", "--"}
	}
	t.Cleanup(func() {
		p.Stop()
		os.RemoveAll(root)
	})
	p.run("initdb", "-D", p.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	p.Start()
	return p
}

func (p *Postgres) run(tool string, args ...string) {
	p.t.Helper()
	argv := append(append(append([]string{}, p.asPG...), filepath.Join(p.bin, tool)), args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(p.log)
		p.t.Fatalf("%s: %v\n%s\n%s", tool, err, out, tail(string(log), 3000))
	}
}

// Start starts the server (again) on its port and waits until it accepts
// connections.
func (p *Postgres) Start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data, "-l", p.log, "-w", "-t", "60",
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=200 -c fsync=off", p.port, filepath.Dir(p.data)), "start")
	p.mu.Lock()
	p.state = true
	p.mu.Unlock()
}

// Stop stops the server at once (pg_ctl -m immediate: no shutdown
// checkpoint, every connection cut, as a crash would).
func (p *Postgres) Stop() {
	p.mu.Lock()
	up := p.state
	p.state = false
	p.mu.Unlock()
	if !up {
		return
	}
	argv := append(append(append([]string{}, p.asPG...), filepath.Join(p.bin, "pg_ctl")), "-D", p.data, "-m", "immediate", "-w", "stop")
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		p.t.Errorf("pg_ctl stop: %v %s", err, out)
	}
}

// Process is a server process of the test's own (versitygw,
// redis-server) that it can stop and start again on the same port.
type Process struct {
	t    testing.TB
	argv []string
	env  []string
	log  string
	Port int
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func startProcess(t testing.TB, port int, log string, env []string, argv ...string) *Process {
	t.Helper()
	p := &Process{t: t, argv: argv, env: env, log: log, Port: port}
	t.Cleanup(p.Stop)
	p.Start()
	return p
}

// Start runs the process and waits until its port accepts connections.
func (p *Process) Start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), p.env...)
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p.Port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			b, _ := os.ReadFile(p.log)
			p.t.Fatalf("%s exited: %s", p.argv[0], tail(string(b), 3000))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not listening on %d", p.argv[0], p.Port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the process (SIGKILL: a crash, not a clean shutdown) and
// waits for it.
func (p *Process) Stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// S3 is a private versitygw (posix backend) with one bucket.
type S3 struct {
	*Process
	URL string   // s3://BUCKET?endpoint=...
	Env []string // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY for its clients
}

// StartS3 starts versitygw on a free port with a bucket "replicatest"
// (a directory under its root), stopped when t ends.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := testenv.LookPath(t, "versitygw", InstallVersitygw)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "data", "replicatest"), 0o755); err != nil {
		t.Fatal(err)
	}
	const key, secret = "replicatest", "replicatest-secret-key"
	port := FreePort(t)
	p := startProcess(t, port, filepath.Join(root, "versitygw.log"),
		[]string{"ROOT_ACCESS_KEY=" + key, "ROOT_SECRET_KEY=" + secret},
		bin, "--port", "127.0.0.1:"+strconv.Itoa(port), "posix", filepath.Join(root, "data"))
	return &S3{
		Process: p,
		URL:     fmt.Sprintf("s3://replicatest?endpoint=http://127.0.0.1:%d&region=us-east-1&use_path_style=true", port),
		Env:     []string{"AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret},
	}
}

// StartRedis starts a redis-server of the test's own (nothing saved to
// disk) and returns it and its URL.
func StartRedis(t testing.TB) (*Process, string) {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server", InstallRedis)
	dir := t.TempDir()
	port := FreePort(t)
	p := startProcess(t, port, filepath.Join(dir, "redis.log"), nil,
		bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	return p, fmt.Sprintf("redis://127.0.0.1:%d/0", port)
}
