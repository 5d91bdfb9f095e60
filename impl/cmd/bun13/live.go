package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/configwatch"
	"github.com/bun13/bun13/impl/lockfile"
)

// configLive prints a field-by-field diff of the lockfile's config on
// every change. It watches the directory, not the file: writers replace
// the file by rename, which would end a watch on the old inode.
func configLive(e *env, args []string) error {
	fs := newFlags("config live")
	file := e.fileFlag(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("config live [--file F]")
	}
	path, err := filepath.Abs(*file)
	if err != nil {
		return err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		return err
	}
	// A symlinked file (a ConfigMap volume: bun.lockb -> ..data/bun.lockb)
	// changes where the link points: watch that directory too.
	real, _ := filepath.EvalSymlinks(path)
	if real != "" && filepath.Dir(real) != filepath.Dir(path) {
		w.Add(filepath.Dir(real))
	}
	cur, curErr := readConfig(path)
	if curErr != nil {
		fmt.Fprintf(e.stdout, "%s watching %s: %v\n", stamp(), *file, curErr)
	} else {
		b, _ := cur.MarshalJSON()
		fmt.Fprintf(e.stdout, "%s watching %s: %s\n", stamp(), *file, b)
	}
	for {
		select {
		case <-e.ctx.Done():
			return nil
		case err := <-w.Errors:
			return err
		case ev := <-w.Events:
			if !configwatch.Relevant(path, real, ev.Name) {
				continue
			}
			if r, err := filepath.EvalSymlinks(path); err == nil && r != real {
				if real == "" || filepath.Dir(r) != filepath.Dir(real) {
					w.Add(filepath.Dir(r))
				}
				real = r
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				if _, err := os.Stat(path); err != nil {
					fmt.Fprintf(e.stdout, "%s %s removed\n", stamp(), *file)
					curErr = err
					continue
				}
			}
			next, err := readConfig(path)
			if err == nil && curErr == nil && next == cur {
				continue // an event that changed nothing (a ConfigMap's temp entries)
			}
			switch {
			case err != nil:
				if curErr == nil || err.Error() != curErr.Error() {
					fmt.Fprintf(e.stdout, "%s %s invalid: %v\n", stamp(), *file, err)
				}
			case curErr != nil:
				b, _ := next.MarshalJSON()
				fmt.Fprintf(e.stdout, "%s %s valid again: %s\n", stamp(), *file, b)
			default:
				for _, d := range diffConfig(cur, next) {
					fmt.Fprintf(e.stdout, "%s %s %s\n", stamp(), *file, d)
				}
			}
			if err == nil {
				cur = next
			}
			curErr = err
		}
	}
}

func readConfig(path string) (config.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return config.Config{}, err
	}
	h, err := lockfile.DecodeHeader(b)
	return h.Config, err
}

func stamp() string { return time.Now().UTC().Format("15:04:05.000") }

// diffConfig lists the fields that differ as "field: old -> new".
func diffConfig(a, b config.Config) []string {
	var out []string
	add := func(field, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s: %s -> %s", field, x, y))
		}
	}
	for _, f := range []string{"version", "registryHash", "featureFlags", "terminal.mode", "rows", "cols"} {
		add(f, getters[f](a), getters[f](b))
	}
	if a.FeatureFlags != b.FeatureFlags {
		on, off := b.FeatureFlags&^a.FeatureFlags, a.FeatureFlags&^b.FeatureFlags
		if on != 0 {
			out = append(out, "  enabled "+on.String())
		}
		if off != 0 {
			out = append(out, "  disabled "+off.String())
		}
	}
	return out
}
