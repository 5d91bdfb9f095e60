package deploy_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
	"github.com/bun13/bun13/impl/testenv"
)

// podman runs podman with runc as the runtime and a containers.conf
// without default ulimits: what works on these machines (the default
// runtime fails with "setrlimit ... Operation not permitted").
type podman struct {
	t    *testing.T
	bin  string
	conf string
}

func newPodman(t *testing.T) *podman {
	bin := testenv.LookPath(t, "podman", "apt-get install -y podman runc")
	testenv.LookPath(t, "runc", "apt-get install -y runc")
	conf := filepath.Join(t.TempDir(), "containers.conf")
	if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &podman{t: t, bin: bin, conf: conf}
}

func (p *podman) env() []string { return []string{"CONTAINERS_CONF=" + p.conf} }

func (p *podman) run(args ...string) string {
	p.t.Helper()
	return run(p.t, 5*time.Minute, p.env(), p.bin, append([]string{"--runtime", "runc"}, args...)...)
}

func (p *podman) try(stdin string, args ...string) (string, error) {
	return runErr(5*time.Minute, p.env(), stdin, p.bin, append([]string{"--runtime", "runc"}, args...)...)
}

// TestContainerImage builds the image with build.sh and runs it as a user
// would: a named data volume and a mounted config directory holding
// bun.lockb; a user made with `bun13 user add` in a one-off container;
// login, publish and install with the real npm; a change of the mounted
// lockfile applied by the running container (needs the live-config
// watcher); `podman stop` drains and shuts down gracefully (exit 0); a
// second container on the same volume serves the package and the token.
func TestContainerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	pm := newPodman(t)
	npm := testenv.LookPath(t, "npm", "apt-get install -y nodejs npm")
	root := repoRoot(t)
	id := strings.ToLower(rand.Text()[:10])
	image := "localhost/bun13:test-" + id
	out := run(t, 15*time.Minute, pm.env(), filepath.Join(root, "impl/deploy/container/build.sh"), image)
	t.Cleanup(func() { pm.try("", "rmi", "-f", image) })
	if !strings.Contains(out, "built "+image) {
		t.Fatalf("build.sh: %s", out)
	}

	// The image is what the Containerfile promises.
	var cfg struct {
		User         string
		ExposedPorts map[string]any
		Labels       map[string]string
		Volumes      map[string]any
	}
	if err := json.Unmarshal([]byte(pm.run("image", "inspect", "--format", "{{json .Config}}", image)), &cfg); err != nil {
		t.Fatalf("image inspect: %v", err)
	}
	var hc struct{ Test []string }
	if err := json.Unmarshal([]byte(pm.run("image", "inspect", "--format", "{{json .HealthCheck}}", image)), &hc); err != nil {
		t.Fatalf("image inspect: %v", err)
	}
	if cfg.User != "10001:10001" {
		t.Errorf("image user %q, want the non-root 10001:10001", cfg.User)
	}
	if _, ok := cfg.ExposedPorts["4873/tcp"]; !ok {
		t.Errorf("exposed ports %v", cfg.ExposedPorts)
	}
	if _, ok := cfg.Volumes["/data"]; !ok || len(cfg.Volumes) != 1 {
		t.Errorf("volumes %v, want /data only", cfg.Volumes)
	}
	for _, l := range []string{"org.opencontainers.image.source", "org.opencontainers.image.version", "org.opencontainers.image.revision"} {
		if cfg.Labels[l] == "" {
			t.Errorf("label %s missing: %v", l, cfg.Labels)
		}
	}
	if hc := strings.Join(hc.Test, " "); !strings.Contains(hc, "/usr/local/bin/bun13 health") {
		t.Errorf("healthcheck %q", hc)
	}

	// The config directory is mounted read-only and laid out as the
	// kubelet lays out a ConfigMap volume: bun.lockb -> ..data/bun.lockb,
	// ..data -> ..v1, and an update is a new ..vN swapped in by renaming
	// a new ..data symlink over the old one.
	cfgDir := filepath.Join(t.TempDir(), "config")
	if err := os.Mkdir(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.FeatureFlags |= config.Metrics
	configMapWrite(t, cfgDir, "..v1", c)
	if err := os.Symlink("..data/bun.lockb", filepath.Join(cfgDir, "bun.lockb")); err != nil {
		t.Fatal(err)
	}
	vol := "bun13-test-" + id
	pm.run("volume", "create", vol)
	t.Cleanup(func() { pm.try("", "volume", "rm", "-f", vol) })

	// A user, made by the image's own CLI on the volume.
	if out, err := pm.try("alice-container-pw\n", "run", "--rm", "-i", "-v", vol+":/data", image, "user", "add", "alice", "--role", "publish"); err != nil || !strings.Contains(out, "added user alice") {
		t.Fatalf("user add in the image: %v\n%s", err, out)
	}

	port := freePort(t)
	base := "http://127.0.0.1:" + port
	start := func(name string) {
		t.Helper()
		pm.run("run", "-d", "--name", name, "-p", "127.0.0.1:"+port+":4873",
			"-v", vol+":/data", "-v", cfgDir+":/etc/bun13:ro",
			"-e", "BUN_LOCKFILE=/etc/bun13/bun.lockb", "-e", "BUN13_REGISTRY_DRAIN_PERIOD=2s", image)
		t.Cleanup(func() { pm.try("", "rm", "-f", "-t", "0", name) })
		waitFor(t, 60*time.Second, name+" ready", func() bool { return status(base+"/-/readyz") == 200 })
		// HEALTHCHECK runs `bun13 health` inside the container.
		if out, err := pm.try("", "healthcheck", "run", name); err != nil {
			t.Fatalf("podman healthcheck run %s: %v\n%s", name, err, out)
		}
	}
	first := "bun13-test-1-" + id
	start(first)

	// Log in (the npm login endpoint), then npm itself from here on.
	tok := loginToken(t, base, "alice", "alice-container-pw")
	home := t.TempDir()
	rc := fmt.Sprintf("registry=%s/\n//127.0.0.1:%s/:_authToken=%s\naudit=false\nfund=false\nupdate-notifier=false\ncache=%s\n", base, port, tok, filepath.Join(home, "cache"))
	if err := os.WriteFile(filepath.Join(home, ".npmrc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	npmRun := func(dir string, args ...string) string {
		t.Helper()
		return runIn(t, dir, []string{"HOME=" + home, "npm_config_userconfig=" + filepath.Join(home, ".npmrc"), "NO_UPDATE_NOTIFIER=1"}, npm, args...)
	}
	if who := strings.TrimSpace(npmRun(home, "whoami")); who != "alice" {
		t.Fatalf("npm whoami: %q", who)
	}
	pkg := filepath.Join(t.TempDir(), "pkg")
	os.Mkdir(pkg, 0o755)
	os.WriteFile(filepath.Join(pkg, "package.json"), []byte(`{"name":"container-e2e","version":"1.0.0","main":"index.js","license":"MIT"}`), 0o644)
	os.WriteFile(filepath.Join(pkg, "index.js"), []byte("module.exports = 'from the container';\n"), 0o644)
	npmRun(pkg, "publish")
	install := func() {
		t.Helper()
		app := t.TempDir()
		os.WriteFile(filepath.Join(app, "package.json"), []byte(`{"name":"app","version":"0.0.0","private":true}`), 0o644)
		npmRun(app, "install", "--no-package-lock", "container-e2e@1.0.0", "--cache", filepath.Join(t.TempDir(), "cache"))
		b, err := os.ReadFile(filepath.Join(app, "node_modules", "container-e2e", "index.js"))
		if err != nil || !strings.Contains(string(b), "from the container") {
			t.Fatalf("installed package: %v %q", err, b)
		}
	}
	install()

	t.Run("ConfigMap-style lockfile swap applied live", func(t *testing.T) {
		// The live-config watcher (impl/configwatch) follows the
		// ..data swap through the read-only bind mount.
		if s := status(base + "/metrics"); s != 200 {
			t.Fatalf("/metrics with METRICS on: %d", s)
		}
		next := c
		next.FeatureFlags &^= config.Metrics
		configMapWrite(t, cfgDir, "..v2", next)
		deadline := time.Now().Add(10 * time.Second)
		for status(base+"/metrics") != http.StatusNotFound {
			if time.Now().After(deadline) {
				t.Fatalf("/metrics still served 10 s after METRICS was turned off in the mounted lockfile (impl/configwatch applies it)")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if s := status(base + "/-/readyz"); s != 200 {
			t.Errorf("readyz after the applied change: %d", s)
		}
	})

	// podman stop sends SIGTERM: readiness turns 503 while the drain
	// period runs, then the process exits 0 after a graceful shutdown.
	stopped := make(chan string, 1)
	go func() {
		out, err := pm.try("", "stop", "-t", "30", first)
		stopped <- fmt.Sprint(out, err)
	}()
	sawDrain := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s := status(base + "/-/readyz"); s == http.StatusServiceUnavailable {
			sawDrain = true
			break
		} else if s == 0 {
			break // already gone
		}
	}
	if !sawDrain {
		t.Error("readyz never answered 503 during the drain")
	}
	select {
	case s := <-stopped:
		t.Logf("podman stop: %s", strings.TrimSpace(s))
	case <-time.After(60 * time.Second):
		t.Fatal("podman stop did not return")
	}
	if code := strings.TrimSpace(pm.run("inspect", "--format", "{{.State.ExitCode}}", first)); code != "0" {
		t.Errorf("exit code after SIGTERM: %s", code)
	}
	logs := pm.run("logs", first)
	for _, want := range []string{`"msg":"draining"`, `"msg":"shutting down"`, `"msg":"registry stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("container log lacks %s:\n%s", want, logs)
		}
	}
	pm.run("rm", first)

	// The data survived: a second container on the same volume knows the
	// user, accepts the token (same signing key) and serves the package.
	second := "bun13-test-2-" + id
	start(second)
	if who := strings.TrimSpace(npmRun(home, "whoami")); who != "alice" {
		t.Fatalf("npm whoami on the second container: %q", who)
	}
	install()
}

// status returns the HTTP status of a GET, 0 when it fails.
func status(url string) int {
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func loginToken(t *testing.T, base, user, password string) string {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"password":%q}`, user, password)
	req, _ := http.NewRequest("PUT", base+"/-/user/org.couchdb.user:"+user, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || res.StatusCode != 201 || m.Token == "" {
		t.Fatalf("login %s: %d %v", user, res.StatusCode, err)
	}
	return m.Token
}

// runIn runs a command in dir with extra environment, failing on error.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// configMapWrite writes c as bun.lockb in cfgDir/version and points
// cfgDir/..data at it atomically (a new symlink renamed over the old),
// as the kubelet updates a ConfigMap volume.
func configMapWrite(t *testing.T, cfgDir, version string, c config.Config) {
	t.Helper()
	dir := filepath.Join(cfgDir, version)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := lockfile.Create(filepath.Join(dir, "bun.lockb"), c, true); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "bun.lockb.lock"))
	os.Chmod(filepath.Join(dir, "bun.lockb"), 0o644)
	tmp := filepath.Join(cfgDir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(cfgDir, "..data")); err != nil {
		t.Fatal(err)
	}
}
