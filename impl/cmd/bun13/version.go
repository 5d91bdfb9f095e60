package main

// bun13 version [--json]: the module version, VCS revision and time, and
// the Go toolchain, as the binary records them (runtime/debug.ReadBuildInfo).
// A release build from a tag reports the tag (Go stamps it); a build from
// a checkout reports a pseudo-version and the commit; `go run` reports
// "(devel)".

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
)

func init() {
	commands["version"] = (*env).versionCmd
	synopsis["version"] = "[--json]"
}

// buildVersion is what `bun13 version` prints.
type buildVersion struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func readBuildVersion(bi *debug.BuildInfo, ok bool) buildVersion {
	v := buildVersion{Version: "(unknown)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if !ok || bi == nil {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (e *env) versionCmd(args []string) error {
	fs := newFlags("version")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("version [--json]")
	}
	v := readBuildVersion(debug.ReadBuildInfo())
	if *asJSON {
		b, _ := json.Marshal(v)
		fmt.Fprintf(e.stdout, "%s\n", b)
		return nil
	}
	fmt.Fprintf(e.stdout, "bun13 %s\n", v.Version)
	if v.Commit != "" {
		dirty := ""
		if v.Modified {
			dirty = " (modified)"
		}
		fmt.Fprintf(e.stdout, "commit %s %s%s\n", v.Commit, v.Time, dirty)
	} else {
		fmt.Fprintf(e.stdout, "commit unknown (built without VCS information)\n")
	}
	fmt.Fprintf(e.stdout, "%s %s\n", v.Go, v.Platform)
	return nil
}
