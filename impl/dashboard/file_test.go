package dashboard

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
)

// TestFileStatus: the lockfile's state (Options.File) is in api/config
// and in the stats the page draws its banner from; sources name the
// variable that overrides a field.
func TestFileStatus(t *testing.T) {
	var bad atomic.Bool
	off := 0x11
	file := func() FileStatus {
		if bad.Load() {
			return FileStatus{Path: "/x/bun.lockb", Error: "header-checksum", Offset: &off, Detail: "header-checksum at offset 17", Since: time.Unix(0, 0).UTC()}
		}
		c := config.Default()
		return FileStatus{Path: "/x/bun.lockb", Valid: true, Applied: true, Config: &c}
	}
	e := newEnv(t, Options{File: file, Interval: 20 * time.Millisecond,
		Sources: []config.FieldSource{{Field: "featureFlags", Source: config.EnvFlags}}})
	get := func() map[string]any {
		_, body := e.do("GET", Prefix+"/api/config", "", "")
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := get()
	f, _ := m["file"].(map[string]any)
	if f["valid"] != true || f["checksum"] != m["checksum"] {
		t.Errorf("file %v", f)
	}
	if src, _ := m["sources"].(map[string]any); src["featureFlags"] != config.EnvFlags || src["rows"] != "file" {
		t.Errorf("sources %v", m["sources"])
	}
	bad.Store(true)
	f, _ = get()["file"].(map[string]any)
	if f["valid"] != false || f["error"] != "header-checksum" || f["offset"] != float64(17) {
		t.Errorf("invalid file %v", f)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body := e.do("GET", Prefix+"/api/stats", "", "")
		var st struct {
			ConfigFile *FileStatus `json:"configFile"`
		}
		json.Unmarshal([]byte(body), &st)
		if st.ConfigFile != nil && !st.ConfigFile.Valid && st.ConfigFile.Error == "header-checksum" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never carried the invalid file: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
