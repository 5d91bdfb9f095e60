package configwatch

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bun13/bun13/impl/atomicfile"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
	"github.com/bun13/bun13/impl/metrics"
)

// syncBuf is a log sink safe for the watcher's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	path  string
	store *config.Store
	w     *Watcher
	log   *syncBuf
	reg   *prometheus.Registry
}

func start(t *testing.T, path string, lookup func(string) (string, bool)) *fixture {
	t.Helper()
	store, err := lockfile.OpenStore(path, true, lookup)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.WatchConfig(ctx, store)
	buf := &syncBuf{}
	w, err := Start(ctx, Options{Path: path, Store: store, Metrics: m, Logger: slog.New(slog.NewJSONHandler(buf, nil)), Poll: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-w.Done() })
	return &fixture{path: path, store: store, w: w, log: buf, reg: reg}
}

// eventually waits, bounded, for cond: the watcher runs on its own.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func encode(t *testing.T, c config.Config) []byte {
	t.Helper()
	b, err := lockfile.Encode(&lockfile.Lockfile{Config: c})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withRows(n uint8) config.Config { c := config.Default(); c.Rows = n; return c }

func TestFollowsEveryKindOfWrite(t *testing.T) {
	f := start(t, filepath.Join(t.TempDir(), "bun.lockb"), nil)
	// Another process's read-modify-write (what `bun13 config set` does).
	if _, err := lockfile.UpdateFrom(f.path, "cli", func(lf *lockfile.Lockfile) error { lf.Config.FeatureFlags &^= config.Metrics; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the CLI's change", func() bool { return !f.store.Enabled(config.Metrics) })
	// Rename-replacement by any tool.
	if err := atomicfile.Write(f.path, encode(t, withRows(40)), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the replaced file", func() bool { return f.store.Load().Rows == 40 })
	// An editor writing in place: truncate, then write.
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.Write(encode(t, withRows(41)))
	fh.Close()
	eventually(t, "the in-place write", func() bool { return f.store.Load().Rows == 41 })
	if got := testutil.ToFloat64(metricVec(t, f.reg, "cli")); got != 1 {
		t.Errorf("bun_config_updates_total{source=cli} = %v, want 1", got)
	}
	eventually(t, "the log", func() bool {
		return strings.Contains(f.log.String(), `"source":"cli","diff":["featureFlags: 0x000000b8 -> 0x00000038","disabled METRICS"]`)
	})
}

func metricVec(t *testing.T, reg *prometheus.Registry, source string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "bun_config_updates_total" {
			continue
		}
		for _, m := range mf.Metric {
			if m.Label[0].GetValue() == source {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, func() float64 { return m.Counter.GetValue() })
			}
		}
	}
	t.Fatalf("no bun_config_updates_total{source=%q}", source)
	return nil
}

func TestInvalidTornAndDeletedKeepLastGood(t *testing.T) {
	f := start(t, filepath.Join(t.TempDir(), "bun.lockb"), nil)
	good := f.store.Load()
	valid := func() float64 {
		mfs, _ := f.reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "bun_config_file_valid" {
				return mf.Metric[0].Gauge.GetValue()
			}
		}
		return -1
	}
	// A bit flip in the header: header-checksum at 0x11.
	b := encode(t, withRows(50))
	b[0x0E] ^= 0xff
	if err := atomicfile.Write(f.path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the invalid state", func() bool { return !f.w.Status().Valid })
	st := f.w.Status()
	if st.Code() != "header-checksum" || st.Offset() != 0x11 {
		t.Errorf("status %s at %d, want header-checksum at 17", st.Code(), st.Offset())
	}
	if f.store.Load() != good {
		t.Errorf("an invalid file was applied")
	}
	if valid() != 0 {
		t.Errorf("bun_config_file_valid = %v, want 0", valid())
	}
	if f.w.Ready() == nil {
		t.Errorf("Ready with an invalid file")
	}
	eventually(t, "the log line", func() bool {
		return strings.Contains(f.log.String(), `"msg":"config file invalid; keeping the last good config"`) && strings.Contains(f.log.String(), `"code":"header-checksum"`) &&
			strings.Contains(f.log.String(), `"offset":17`)
	})
	// Torn: the first 40 bytes of a valid file.
	if err := atomicfile.Write(f.path, encode(t, withRows(51))[:40], 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "truncated", func() bool { return f.w.Status().Code() == "truncated" })
	// Valid again: applied at once.
	if err := atomicfile.Write(f.path, encode(t, withRows(52)), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "valid again", func() bool { return f.store.Load().Rows == 52 && valid() == 1 && f.w.Ready() == nil })
	// Deleted: keep the last good config, say so.
	os.Remove(f.path)
	eventually(t, "deleted", func() bool { return f.w.Status().Code() == "io" })
	if f.store.Load().Rows != 52 {
		t.Errorf("deleting the file changed the live config")
	}
	eventually(t, "the deletion log", func() bool {
		return strings.Contains(f.log.String(), "config file deleted; keeping the last good config")
	})
	if err := atomicfile.Write(f.path, encode(t, withRows(53)), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "recreated", func() bool { return f.store.Load().Rows == 53 })
}

// TestConfigMapSwap follows a Kubernetes ConfigMap volume: the file is a
// symlink through "..data", which the kubelet swaps atomically.
func TestConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	gen := 0
	publish := func(c config.Config) {
		gen++
		ts := filepath.Join(dir, "..2026_12_01_0"+string(rune('0'+gen)))
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ts, "bun.lockb"), encode(t, c), 0o644); err != nil {
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
	publish(withRows(60))
	if err := os.Symlink("..data/bun.lockb", filepath.Join(dir, "bun.lockb")); err != nil {
		t.Fatal(err)
	}
	f := start(t, filepath.Join(dir, "bun.lockb"), nil)
	if f.store.Load().Rows != 60 {
		t.Fatalf("start: rows %d", f.store.Load().Rows)
	}
	publish(withRows(61))
	eventually(t, "the swapped ConfigMap", func() bool { return f.store.Load().Rows == 61 })
	publish(withRows(62))
	eventually(t, "the second swap", func() bool { return f.store.Load().Rows == 62 })
}

// TestOverridesNeverPersisted is the scenario: the environment
// overrides the flags, a write through the Store changes rows, and the
// file's flags stay what they were.
func TestOverridesNeverPersisted(t *testing.T) {
	env := map[string]string{config.EnvFlags: "DEBUG,METRICS"}
	f := start(t, filepath.Join(t.TempDir(), "bun.lockb"), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if got := f.store.Flags(); got != config.Debug|config.Metrics {
		t.Fatalf("live flags %s", got.Hex())
	}
	if _, err := f.store.UpdateFrom("api", func(c config.Config) (config.Config, error) { c.Rows = 30; return c, nil }); err != nil {
		t.Fatal(err)
	}
	lf, err := lockfile.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if lf.Config.FeatureFlags != config.Default().FeatureFlags || lf.Config.Rows != 30 {
		t.Errorf("file %s rows %d, want the default flags and rows 30", lf.Config.FeatureFlags.Hex(), lf.Config.Rows)
	}
	if got := f.store.Load(); got.FeatureFlags != config.Debug|config.Metrics || got.Rows != 30 {
		t.Errorf("live %s rows %d", got.FeatureFlags.Hex(), got.Rows)
	}
}
