package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/confighistory"
	"github.com/bun13/bun13/impl/lockfile"
)

// TestHelpEverywhere: every command and subcommand answers -h/--help with
// its own usage on stdout and exit 0, and so does `bun13 help COMMAND`.
func TestHelpEverywhere(t *testing.T) {
	paths := [][]string{
		{}, {"config"}, {"config", "init"}, {"config", "get"}, {"config", "set"}, {"config", "feature"},
		{"config", "validate"}, {"config", "dump"}, {"config", "repair"}, {"config", "migrate"},
		{"config", "env"}, {"config", "env", "export"}, {"config", "live"}, {"config", "history"}, {"config", "rollback"},
		{"lockfile"}, {"lockfile", "decode"}, {"lockfile", "encode"}, {"lockfile", "import"}, {"lockfile", "dump"},
		{"frame"}, {"frame", "decode"}, {"frame", "encode"}, {"headers"}, {"headers", "validate"},
		{"validate"}, {"registry"}, {"registry", "serve"}, {"registry", "top"}, {"top"},
		{"user"}, {"user", "add"}, {"user", "list"}, {"token"}, {"token", "issue"}, {"token", "list"},
		{"proxy"}, {"proxy", "test"}, {"status"}, {"metrics"}, {"benchmark"},
		{"scope"}, {"scope", "add"}, {"scope", "list"}, {"key"}, {"key", "list"}, {"key", "retire"},
	}
	for _, p := range paths {
		for _, h := range []string{"--help", "-h"} {
			args := append(append([]string{}, p...), h)
			out, errs, code := cliRun(t, t.TempDir(), nil, "", args...)
			if code != 0 || !strings.Contains(out, "usage") && !strings.Contains(out, "bun13:") {
				t.Errorf("bun13 %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errs)
			}
		}
		if len(p) > 0 {
			out, errs, code := cliRun(t, t.TempDir(), nil, "", append([]string{"help"}, p...)...)
			if code != 0 || !strings.Contains(out, "usage") {
				t.Errorf("bun13 help %s: exit %d, %q %q", strings.Join(p, " "), code, out, errs)
			}
		}
	}
	// The server's own help lists its flags.
	out, _, _ := cliRun(t, "", nil, "", "registry", "serve", "--help")
	for _, f := range []string{"-addr", "-data", "-lockfile", "-upstream", "-rate-read", "-log-level"} {
		if !strings.Contains(out, f) {
			t.Errorf("registry serve --help lacks %s:\n%s", f, out)
		}
	}
	if _, _, code := cliRun(t, "", nil, "", "help", "nosuch"); code != 2 {
		t.Errorf("help nosuch: exit %d, want 2", code)
	}
}

func TestFlagsBeforeSubcommand(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "other.lockb")
	if _, errs, code := cliRun(t, dir, nil, "", "config", "--file", f, "init"); code != 0 {
		t.Fatalf("config --file F init: %s", errs)
	}
	out, errs, code := cliRun(t, dir, nil, "", "config", "--file", f, "get", "rows")
	if code != 0 || out != "24\n" {
		t.Errorf("config --file F get rows: %d %q %q", code, out, errs)
	}
	if out, _, code := cliRun(t, dir, nil, "", "config", "--file="+f, "validate", "--json"); code != 0 || out != `{"valid":true}`+"\n" {
		t.Errorf("config --file=F validate --json: %d %q", code, out)
	}
}

// TestSetEveryGetField: config set accepts every field config get prints
// (but the computed checksum), with the value get prints.
func TestSetEveryGetField(t *testing.T) {
	dir := t.TempDir()
	cliRun(t, dir, nil, "", "config", "init")
	for field := range getters {
		out, _, code := cliRun(t, dir, nil, "", "config", "get", field)
		if code != 0 {
			t.Fatalf("get %s: %d", field, code)
		}
		val := strings.TrimSpace(out)
		_, errs, code := cliRun(t, dir, nil, "", "config", "set", field, val)
		if field == "checksum" {
			if code != 2 {
				t.Errorf("set checksum: exit %d", code)
			}
			continue
		}
		if code != 0 {
			t.Errorf("config set %s %s (from get): exit %d: %s", field, val, code, errs)
		}
	}
	for _, tc := range []struct{ field, val, want string }{{"rows", "40", "40"}, {"cols", "120", "120"}, {"terminalMode", "raw", "raw"}} {
		if _, errs, code := cliRun(t, dir, nil, "", "config", "set", tc.field, tc.val); code != 0 {
			t.Fatalf("set %s: %s", tc.field, errs)
		}
		if out, _, _ := cliRun(t, dir, nil, "", "config", "get", tc.field); strings.TrimSpace(out) != tc.want {
			t.Errorf("get %s = %q", tc.field, out)
		}
	}
	if _, errs, code := cliRun(t, dir, nil, "", "config", "set", "rows", "0"); code != 1 || !strings.HasPrefix(errs, "error: terminal-size at offset 14") {
		t.Errorf("set rows 0: %d %q", code, errs)
	}
	if _, errs, code := cliRun(t, dir, nil, "", "config", "set", "cols", "256"); code != 1 || !strings.HasPrefix(errs, "error: terminal-size at offset 15") {
		t.Errorf("set cols 256: %d %q", code, errs)
	}
}

func TestValidateMissingFile(t *testing.T) {
	dir := t.TempDir()
	out, _, code := cliRun(t, dir, nil, "", "config", "validate", "--json")
	var v map[string]any
	if code != 2 || json.Unmarshal([]byte(out), &v) != nil || v["valid"] != false || v["error"] != "io" {
		t.Fatalf("validate --json on a missing file: exit %d, %q", code, out)
	}
	if h, _ := v["hint"].(string); !strings.Contains(h, "bun13 config init") {
		t.Errorf("no init hint: %v", v)
	}
	_, errs, code := cliRun(t, dir, nil, "", "config", "validate")
	if code != 2 || !strings.Contains(errs, "bun13 config init") {
		t.Errorf("validate on a missing file: %d %q", code, errs)
	}
	// Unreadable (a directory): io too, no init hint.
	os.Mkdir(filepath.Join(dir, "bun.lockb"), 0o755)
	out, _, code = cliRun(t, dir, nil, "", "config", "validate", "--json")
	if code != 2 || !strings.Contains(out, `"error":"io"`) || strings.Contains(out, "hint") {
		t.Errorf("validate --json on a directory: %d %q", code, out)
	}
}

// parseShell reads `export NAME='value'` lines as a POSIX shell would.
func sourceShell(t *testing.T, script string) map[string]string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal("no sh")
	}
	cmd := exec.Command(sh, "-c", script+"\nenv")
	cmd.Env = []string{}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, "BUN_") {
			m[k] = v
		}
	}
	return m
}

// TestEnvExportRoundTrip: the shell export, sourced, reproduces the
// config over any file, and no variable the loader ignores is emitted.
func TestEnvExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cliRun(t, dir, nil, "", "config", "init")
	const reg = "https://npm.example.com:8443/registry"
	for _, args := range [][]string{
		{"config", "migrate", "--to", "2"}, {"config", "feature", "enable", "OFFLINE", "DEBUG"},
		{"config", "set", "terminal", "raw;50x132"}, {"config", "set", "registry", reg},
	} {
		if _, errs, code := cliRun(t, dir, nil, "", args...); code != 0 {
			t.Fatalf("%v: %s", args, errs)
		}
	}
	want, _, _ := cliRun(t, dir, nil, "", "config", "get")
	// Without the URL the hash cannot be exported: say so.
	out, errs, code := cliRun(t, dir, nil, "", "config", "env", "export")
	if code != 0 || !strings.Contains(errs, "BUN_CONFIG_REGISTRY not exported") || strings.Contains(out, "BUN_CONFIG_REGISTRY=") {
		t.Errorf("export without a known URL: %d %q %q", code, out, errs)
	}
	out, errs, code = cliRun(t, dir, nil, "", "config", "env", "export", "--registry", reg)
	if code != 0 {
		t.Fatalf("export --registry: %s", errs)
	}
	vars := sourceShell(t, out)
	for k := range vars {
		switch k {
		case config.EnvVersion, config.EnvRegistry, config.EnvFlags, config.EnvTerminal:
		default:
			t.Errorf("exported %s, which the loader ignores", k)
		}
	}
	// Over a fresh default file, the variables give the same config.
	other := t.TempDir()
	cliRun(t, other, nil, "", "config", "init")
	got, errs, _ := cliRun(t, other, vars, "", "config", "get")
	if got != want {
		t.Errorf("round trip:\n got %s (%s)\nwant %s", got, errs, want)
	}
	// A --registry whose hash is not the config's is refused.
	if _, errs, code := cliRun(t, dir, nil, "", "config", "env", "export", "--registry", "https://registry.npmjs.org"); code != 1 || !strings.HasPrefix(errs, "error: registry-hash") {
		t.Errorf("mismatched --registry: %d %q", code, errs)
	}
	// The default registry is known without a flag.
	out, _, _ = cliRun(t, other, nil, "", "config", "env", "export")
	if !strings.Contains(out, "export BUN_CONFIG_REGISTRY='https://registry.npmjs.org'") {
		t.Errorf("default registry not exported: %q", out)
	}
}

func TestGetExplain(t *testing.T) {
	dir := t.TempDir()
	cliRun(t, dir, nil, "", "config", "init")
	out, errs, code := cliRun(t, dir, map[string]string{config.EnvFlags: "DEBUG"}, "", "config", "get", "--explain")
	if code != 0 {
		t.Fatal(errs)
	}
	for _, re := range []string{`featureFlags\s+0x00000001\s+BUN_CONFIG_FEATURE_FLAGS\s+0x000000b8`, `rows\s+24\s+file\s+=`, `version\s+1\s+file`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("explain lacks %s:\n%s", re, out)
		}
	}
}

func TestRepairExplains(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bun.lockb")
	// Truncated: no header to rebuild.
	os.WriteFile(path, []byte("BUN1\x01"), 0o644)
	out, errs, code := cliRun(t, dir, nil, "", "config", "repair")
	if code != 1 || !strings.HasPrefix(errs, "error: truncated") || !strings.Contains(out, "refused:") || !strings.Contains(out, "no header to rebuild") {
		t.Errorf("truncated: %d %q %q", code, out, errs)
	}
	// A damaged record: named.
	body, _ := os.ReadFile("../../../fixtures/corrupt/crc-mismatch-zeroed-page.lockb")
	os.WriteFile(path, body, 0o644)
	out, _, code = cliRun(t, dir, nil, "", "config", "repair")
	if code != 1 || !strings.Contains(out, "found: body-checksum") || !strings.Contains(out, "refused: cannot repair a damaged body") {
		t.Errorf("damaged body: %d %q", code, out)
	}
	// One damaged config byte is corrected: every field kept, not reset.
	c := config.Default()
	c.Version, c.FeatureFlags, c.Rows, c.Cols, c.TerminalMode = 2, config.Offline|config.Metrics, 50, 132, config.Raw
	good, _ := lockfile.Encode(&lockfile.Lockfile{Config: c})
	bad := append([]byte(nil), good...)
	bad[0x0A] ^= 0x40 // a byte of the registry hash
	os.WriteFile(path, bad, 0o644)
	out, errs, code = cliRun(t, dir, nil, "", "config", "repair")
	if code != 0 || !strings.Contains(out, "one damaged byte at offset 0x0A") {
		t.Fatalf("one damaged byte: %d %q %q", code, out, errs)
	}
	if lf, err := lockfile.ReadFile(path); err != nil || lf.Config != c {
		t.Errorf("repaired config %+v %v, want %+v", lf, err, c)
	}
	// Damage in the reserved bytes: the CRC proves the config intact.
	bad = append([]byte(nil), good...)
	bad[0x20] = 0xff
	os.WriteFile(path, bad, 0o644)
	out, _, code = cliRun(t, dir, nil, "", "config", "repair")
	if lf, err := lockfile.ReadFile(path); code != 0 || err != nil || lf.Config != c || !strings.Contains(out, "every config field kept") {
		t.Errorf("reserved damage: %d %q", code, out)
	}
}

func TestValidateHeadersAlias(t *testing.T) {
	args := []string{"X-Bun-Config-Version: 1", "X-Bun-Registry-Hash: 0x5e9b6bd5"}
	a1, e1, c1 := cliRun(t, "", nil, "", append([]string{"headers", "validate"}, args...)...)
	a2, e2, c2 := cliRun(t, "", nil, "", append([]string{"validate", "headers"}, args...)...)
	if a1 != a2 || e1 != e2 || c1 != c2 || c1 != 1 {
		t.Errorf("alias differs: (%q %q %d) vs (%q %q %d)", a1, e1, c1, a2, e2, c2)
	}
	if _, _, code := cliRun(t, "", nil, "", "validate", "headers", "X-Bun-Terminal", "raw;24x80"); code != 0 {
		t.Errorf("validate headers NAME VALUE: exit %d", code)
	}
}

func TestHistoryAndRollback(t *testing.T) {
	dir := t.TempDir()
	cliRun(t, dir, nil, "", "config", "init")
	out, _, _ := cliRun(t, dir, nil, "", "config", "history")
	if !strings.Contains(out, "init") {
		t.Errorf("history after init: %q", out)
	}
	cliRun(t, dir, nil, "", "config", "set", "rows", "30")
	cliRun(t, dir, nil, "", "config", "feature", "disable", "METRICS")
	out, _, _ = cliRun(t, dir, nil, "", "config", "history")
	if n := strings.Count(out, "\n"); n != 4 || !strings.Contains(out, "<- current") {
		t.Errorf("history (header + 3 records):\n%s", out)
	}
	// Rollback undoes the last change, and is itself recorded.
	out, errs, code := cliRun(t, dir, nil, "", "config", "rollback")
	if code != 0 || !strings.Contains(out, "enabled METRICS") {
		t.Fatalf("rollback: %d %q %q", code, out, errs)
	}
	if got, _, _ := cliRun(t, dir, nil, "", "config", "get", "featureFlags"); got != "0x000000b8\n" {
		t.Errorf("after rollback: flags %q", got)
	}
	if out, _, _ := cliRun(t, dir, nil, "", "config", "history"); !strings.Contains(out, "rollback") {
		t.Errorf("rollback not recorded:\n%s", out)
	}
	if _, _, code := cliRun(t, dir, nil, "", "config", "rollback", "--to", "1"); code != 0 {
		t.Fatal("rollback --to 1")
	}
	if got, _, _ := cliRun(t, dir, nil, "", "config", "get", "rows"); got != "24\n" {
		t.Errorf("after rollback --to 1: rows %q", got)
	}
	if _, _, code := cliRun(t, dir, nil, "", "config", "rollback", "--to", "99"); code != 2 {
		t.Errorf("rollback --to 99: exit %d", code)
	}
	var recs []map[string]any
	out, _, _ = cliRun(t, dir, nil, "", "config", "history", "--json")
	if json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 5 {
		t.Errorf("history --json: %q", out)
	}
}

func TestBenchmarkCommand(t *testing.T) {
	out, errs, code := cliRun(t, "", nil, "", "benchmark", "dns")
	if code != 0 || !regexp.MustCompile(`DNS cache hit\s+[0-9.]+\s+\d+\s+\d+\s+50 ns`).MatchString(out) {
		t.Errorf("benchmark dns: %d %q %q", code, out, errs)
	}
	if _, _, code := cliRun(t, "", nil, "", "benchmark", "nosuch"); code != 2 {
		t.Errorf("benchmark nosuch: exit %d", code)
	}
}

// TestStatusAndMetrics asks a running registry, and a dead address.
func TestStatusAndMetrics(t *testing.T) {
	dir := t.TempDir()
	cliRun(t, dir, nil, "", "config", "init")
	out, _, code := cliRun(t, dir, map[string]string{config.EnvTerminal: "raw;30x90"}, "", "status", "--registry", "http://127.0.0.1:1")
	if code != 0 || !strings.Contains(out, ": valid") || !strings.Contains(out, "not reachable") ||
		!regexp.MustCompile(`rows\s+30\s+BUN_CONFIG_TERMINAL`).MatchString(out) || !regexp.MustCompile(`version\s+1\s+file`).MatchString(out) {
		t.Errorf("status, no registry: %d\n%s", code, out)
	}
	s := serveWithEnv(t, nil)
	out, errs, code := cliRun(t, "", nil, "", "status", "--file", s.lock, "--registry", s.url)
	if code != 0 || !strings.Contains(out, ": up") || !strings.Contains(out, "agrees with this lockfile") {
		t.Errorf("status: %d %q %q", code, out, errs)
	}
	// Another lockfile than the server's: they disagree, exit 1.
	if out, _, code := cliRun(t, dir, map[string]string{}, "", "config", "set", "rows", "31"); code != 0 {
		t.Fatal(out)
	}
	if out, _, code := cliRun(t, dir, nil, "", "status", "--registry", s.url); code != 1 || !strings.Contains(out, "DISAGREES") {
		t.Errorf("status, other file: %d %q", code, out)
	}
	out, errs, code = cliRun(t, "", nil, "", "metrics", "--registry", s.url)
	if code != 0 || !strings.Contains(out, "bun_config_file_valid 1") || !strings.Contains(out, `bun_config_updates_total{source="file"}`) {
		t.Errorf("metrics: %d %q", code, errs)
	}
	out, errs, code = cliRun(t, "", nil, "", "metrics", "--registry", s.url, "--summary")
	if code != 0 || !regexp.MustCompile(`lockfile valid\s+yes`).MatchString(out) || !strings.Contains(out, "requests") {
		t.Errorf("metrics --summary: %d %q %q", code, out, errs)
	}
	cliRun(t, "", nil, "", "config", "feature", "disable", "METRICS", "--file", s.lock)
	waitCode(t, s.url+"/metrics", "", 404)
	if _, errs, code := cliRun(t, "", nil, "", "metrics", "--registry", s.url); code != 2 || !strings.Contains(errs, "METRICS flag is off") {
		t.Errorf("metrics with METRICS off: %d %q", code, errs)
	}
}

// A record newer than the current config's (a writer killed between its
// history record and its replace) is skipped by a plain rollback.
func TestRollbackSkipsUnappliedRecord(t *testing.T) {
	dir := t.TempDir()
	cliRun(t, dir, nil, "", "config", "init")
	cliRun(t, dir, nil, "", "config", "set", "rows", "30")
	path := filepath.Join(dir, "bun.lockb")
	never := config.Default()
	never.Rows = 99
	cur := config.Default()
	cur.Rows = 30
	if _, err := confighistory.Append(lockfile.HistoryPath(path), time.Now(), "cli", &cur, never); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := cliRun(t, dir, nil, "", "config", "rollback"); code != 0 {
		t.Fatal(errs)
	}
	if got, _, _ := cliRun(t, dir, nil, "", "config", "get", "rows"); got != "24\n" {
		t.Errorf("rollback went to rows %q, want 24 (the config before the current one)", got)
	}
}
