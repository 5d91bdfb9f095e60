package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/testenv"
)

const unitPath = "impl/deploy/systemd/bun13-registry.service"

// TestSystemdUnit: systemd-analyze verify accepts the unit (with
// ExecStart pointed at a freshly built binary, the only change), and
// `systemd-analyze security --offline=yes` scores it 2.0 or lower, the
// figure the README quotes. The unit keeps the settings a reviewer looks
// for, and the environment file names only variables serve reads.
func TestSystemdUnit(t *testing.T) {
	sa := testenv.LookPath(t, "systemd-analyze", "apt-get install -y systemd")
	root := repoRoot(t)
	unit, err := os.ReadFile(filepath.Join(root, unitPath))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify", "DynamicUser=yes", "StateDirectory=bun13", "ProtectSystem=strict", "ProtectHome=yes",
		"PrivateTmp=yes", "PrivateDevices=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
		"MemoryDenyWriteExecute=yes", "UMask=0077", "Restart=on-failure", "EnvironmentFile=-/etc/bun13/registry.env",
	} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q", want)
		}
	}

	bin := buildBun13(t)
	dir := t.TempDir()
	patched := strings.Replace(string(unit), "ExecStart=/usr/local/bin/bun13 ", "ExecStart="+bin+" ", 1)
	if patched == string(unit) {
		t.Fatal("ExecStart=/usr/local/bin/bun13 not found in the unit")
	}
	local := filepath.Join(dir, "bun13-registry.service")
	if err := os.WriteFile(local, []byte(patched), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runErr(time.Minute, nil, "", sa, "verify", local); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	out := run(t, time.Minute, nil, sa, "security", "--offline=yes", filepath.Join(root, unitPath))
	m := regexp.MustCompile(`Overall exposure level for bun13-registry\.service: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("systemd-analyze security --offline=yes: exposure %.1f", score)
	if score > 2.0 {
		t.Errorf("exposure %.1f > 2.0:\n%s", score, out)
	}
	// The README and the unit's comment quote the score; keep them true.
	readme, _ := os.ReadFile(filepath.Join(root, "README.md"))
	quoted := "scores it " + m[1]
	for name, text := range map[string]string{"README.md": string(readme), unitPath: string(unit)} {
		if !strings.Contains(text, quoted) {
			t.Errorf("%s does not say %q (the measured score)", name, quoted)
		}
	}

	// The environment file sets only variables serve knows.
	env, err := os.ReadFile(filepath.Join(root, "impl/deploy/systemd/bun13-registry.env"))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(filepath.Join(root, "impl/cmd/bun13/registry.go"))
	for _, line := range strings.Split(string(env), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		k, _, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(k, " \t") || k == "" {
			continue
		}
		if !strings.Contains(string(src), `"`+k+`"`) {
			t.Errorf("registry.env names %s, which registry serve does not read", k)
		}
	}
}
