package registrytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Driving the real npm, pnpm, yarn and bun clients against a registry:
// each runs with its own HOME, cache and config, and none of the
// caller's npm_*/yarn_*/pnpm_*/bun_* variables.

// PostinstallScript writes postinstall-ran in the installed package's
// directory.
const PostinstallScript = `node -e "require('fs').writeFileSync('postinstall-ran', '1')"`

// Npm runs npm with its own HOME, userconfig and cache, against one
// registry only.
type Npm struct {
	T        testing.TB
	Home     string
	Registry string
}

// NewNpm returns an npm environment for registry (a base URL without the
// trailing slash).
func NewNpm(t testing.TB, registry string) *Npm {
	t.Helper()
	home := t.TempDir()
	rc := strings.Join([]string{
		"registry=" + registry + "/",
		"fetch-retries=0",
		"fetch-timeout=30000",
		"audit=false",
		"fund=false",
		"update-notifier=false",
		"loglevel=warn",
		"cache=" + filepath.Join(home, "cache"),
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(home, ".npmrc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	return &Npm{T: t, Home: home, Registry: registry}
}

// SetToken adds registry's auth token to the userconfig (what npm login
// would write).
func (n *Npm) SetToken(token string) {
	n.T.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(n.Registry, "http://"), "https://")
	f, err := os.OpenFile(filepath.Join(n.Home, ".npmrc"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		n.T.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "//%s/:_authToken=%s\n", host, token)
}

// Cmd is npm args in dir, not started.
func (n *Npm) Cmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "npm", append(args, "--userconfig", filepath.Join(n.Home, ".npmrc"))...)
	cmd.Dir = dir
	env := []string{"HOME=" + n.Home, "NO_UPDATE_NOTIFIER=1", "NO_COLOR=1",
		"npm_config_registry=" + n.Registry + "/", "npm_config_cache=" + filepath.Join(n.Home, "cache")}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToLower(k), "npm_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	cmd.WaitDelay = time.Second
	return cmd
}

// Run runs npm and returns its combined output; wantErr says whether it
// must fail.
func (n *Npm) Run(dir string, wantErr bool, args ...string) string {
	n.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := n.Cmd(ctx, dir, args...).CombinedOutput()
	if (err != nil) != wantErr {
		n.T.Fatalf("npm %s: err=%v (want error: %v)\n%s", strings.Join(args, " "), err, wantErr, out)
	}
	return string(out)
}

// Interactive runs npm answering its prompts (npm reads them from a pipe
// only one line at a time, so each answer waits for its prompt).
func (n *Npm) Interactive(dir string, answers map[string]string, args ...string) string {
	n.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := n.Cmd(ctx, dir, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		n.T.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		n.T.Fatal(err)
	}
	var out bytes.Buffer
	var mu sync.Mutex
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		answered := map[string]bool{}
		buf := make([]byte, 4096)
		for {
			k, err := pr.Read(buf)
			mu.Lock()
			out.Write(buf[:k])
			text := out.String()
			mu.Unlock()
			for prompt, answer := range answers {
				if !answered[prompt] && strings.Contains(text, prompt) {
					answered[prompt] = true
					io.WriteString(stdin, answer+"\n")
				}
			}
			if err != nil {
				return
			}
		}
	}()
	err = cmd.Wait()
	pw.Close()
	<-readDone
	if err != nil {
		n.T.Fatalf("npm %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// WritePkg writes dir/package.json from manifest, and files beside it.
func WritePkg(t testing.TB, dir string, manifest map[string]any, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(manifest, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "package.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ClientEnv is the environment of a pnpm, yarn or bun run with HOME set
// to home: the caller's, without its npm_/yarn_/pnpm_/bun_ variables.
func ClientEnv(home string) []string {
	env := []string{"HOME=" + home, "NO_COLOR=1", "CI=1"}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "npm_") || strings.HasPrefix(lk, "yarn_") || strings.HasPrefix(lk, "pnpm_") ||
			strings.HasPrefix(lk, "bun_") || k == "HOME" || k == "CI" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// RunClient runs name args in dir with env (90 s at most) and returns its
// combined output, failing t when it fails.
func RunClient(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The client configurations of a registry at base (no trailing slash)
// with token.

// PnpmRC is the .npmrc pnpm reads, with its store under home.
func PnpmRC(base, token, home string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
	return fmt.Sprintf("registry=%s/\n//%s/:_authToken=%s\nstore-dir=%s\nupdate-notifier=false\n", base, host, token, filepath.Join(home, "store"))
}

// YarnRC is the .yarnrc.yml of yarn berry. npmMinimalAgeGate: yarn 4.18
// quarantines versions younger than a minimum age by default; test
// packages were published a second ago.
func YarnRC(base, token string) string {
	return fmt.Sprintf("npmRegistryServer: %q\nnpmAuthToken: %q\nunsafeHttpWhitelist: [\"127.0.0.1\"]\nnodeLinker: node-modules\nenableGlobalCache: false\nnpmMinimalAgeGate: 0\n", base, token)
}

// YarnEnv is what yarn needs beside ClientEnv(home).
func YarnEnv(home string) []string {
	return []string{"YARN_ENABLE_TELEMETRY=0", "YARN_CACHE_FOLDER=" + filepath.Join(home, "cache"),
		"YARN_GLOBAL_FOLDER=" + filepath.Join(home, "global"), "YARN_ENABLE_IMMUTABLE_INSTALLS=0"}
}

// Bunfig is bun's bunfig.toml.
func Bunfig(base, token string) string {
	return fmt.Sprintf("[install]\nregistry = { url = %q, token = %q }\n", base+"/", token)
}

// BunEnv is what bun needs beside ClientEnv(home).
func BunEnv(home string) []string {
	return []string{"BUN_INSTALL_CACHE_DIR=" + filepath.Join(home, "cache"), "DO_NOT_TRACK=1"}
}

// CheckInstalled checks app/node_modules/PKG/index.js exists for each pkg.
func CheckInstalled(t testing.TB, app string, pkgs ...string) {
	t.Helper()
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(app, "node_modules", filepath.FromSlash(p), "index.js")); err != nil {
			t.Errorf("%s not installed: %v", p, err)
		}
	}
}

// CheckBinLinked checks node_modules/.bin/bin exists in app.
func CheckBinLinked(t testing.TB, app, bin string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(app, "node_modules", ".bin", bin)); err != nil {
		t.Errorf("bin %s not linked: %v", bin, err)
	}
}

// CheckPostinstallRan checks PostinstallScript ran in pkg's directory.
func CheckPostinstallRan(t testing.TB, app, pkg string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(app, "node_modules", filepath.FromSlash(pkg), "postinstall-ran")); err != nil {
		t.Errorf("postinstall of %s did not run: %v", pkg, err)
	}
}
