package dashboard

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"testing"

	"github.com/bun13/bun13/impl/testenv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/metrics"
)

const rulesDir = "../../fixtures/prometheus"

// pendingMetrics are named by the alert rules but exported by the
// registry's header middleware, not by a package here.
var pendingMetrics = []string{"bun_config_drift_total", "bun_config_client_requests_total"}

// TestDashboardAlertRulesUseRealMetrics keeps the alert rules honest: every
// bun_* name they use is registered by impl/metrics or this package (or is
// one of the middleware's), so a renamed metric cannot silence an alert.
func TestDashboardAlertRulesUseRealMetrics(t *testing.T) {
	rules, err := os.ReadFile(rulesDir + "/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg); err != nil {
		t.Fatal(err)
	}
	s, _ := config.NewStore(config.Default())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := New(ctx, Options{Store: s, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	// Vectors without a child yet are not gathered; they are named below.
	known := map[string]bool{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		known[mf.GetName()] = true
	}
	for _, name := range []string{"bun_http_requests_total", "bun_auth_failures_total", "bun_rate_limited_total", "bun_config_info"} {
		known[name] = true // vectors with no child yet
	}
	for _, name := range pendingMetrics {
		known[name] = true
	}
	used := regexp.MustCompile(`\bbun_[a-z_]+`).FindAllString(string(rules), -1)
	slices.Sort(used)
	for _, name := range slices.Compact(used) {
		if !known[name] {
			t.Errorf("rules.yml uses %s, which nothing exports", name)
		}
	}
}

// TestDashboardAlertRules runs check.sh (promtool check and test rules)
// when promtool is installed; CI installs it.
func TestDashboardAlertRules(t *testing.T) {
	testenv.LookPath(t, "promtool", "apt-get install -y prometheus")
	out, err := exec.Command(rulesDir + "/check.sh").CombinedOutput()
	if err != nil {
		t.Fatalf("check.sh: %v\n%s", err, out)
	}
}
