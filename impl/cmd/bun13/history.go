package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/confighistory"
	"github.com/bun13/bun13/impl/configwatch"
	"github.com/bun13/bun13/impl/lockfile"
)

// configHistory lists the configs the lockfile has held (the sidecar
// FILE.history, impl/confighistory), oldest first.
func configHistory(e *env, args []string) error {
	fs := newFlags("config history")
	file := e.fileFlag(fs)
	asJSON := fs.Bool("json", false, "print the records as a JSON array")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("config history [--file F] [--json]")
	}
	hp := lockfile.HistoryPath(*file)
	recs, torn, err := confighistory.Read(hp)
	if err != nil {
		return err
	}
	if torn != nil {
		fmt.Fprintf(e.stderr, "warning: %s: %v (a writer was killed mid-append; the damaged tail is not trusted and is cut off by the next write)\n", hp, torn)
	}
	var cur *config.Config
	if lf, err := lockfile.ReadFile(*file); err == nil {
		cur = &lf.Config
	}
	if *asJSON {
		if recs == nil {
			recs = []confighistory.Record{}
		}
		b, _ := json.MarshalIndent(recs, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
		return nil
	}
	if len(recs) == 0 {
		fmt.Fprintf(e.stdout, "no history for %s yet (every write by bun13 records one)\n", *file)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "N\tTIME (UTC)\tSOURCE\tCONFIG\tFLAGS\tTERMINAL")
	for _, r := range recs {
		b := r.Config.Bytes()
		mark := ""
		if cur != nil && *cur == r.Config && r.N == len(recs) {
			mark = "<- current"
		} else if !r.Valid {
			mark = "(invalid: never restored)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%x\t%s\t%s\n", r.N, r.Time.Format(time.DateTime+".000"), r.Source, b[:], r.Config.FeatureFlags.Hex(), strings.TrimSpace(r.Config.Terminal()+" "+mark))
	}
	return tw.Flush()
}

// configRollback restores an earlier config from the history in one
// crash-safe read-modify-write (recorded as source "rollback"): record N
// with --to, else the newest record that differs from the file's config.
func configRollback(e *env, args []string) error {
	fs := newFlags("config rollback")
	file := e.fileFlag(fs)
	to := fs.Int("to", 0, "history record to restore (see `bun13 config history`); default: the config before the current one")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("config rollback [--to N] [--file F]")
	}
	recs, torn, err := confighistory.Read(lockfile.HistoryPath(*file))
	if err != nil {
		return err
	}
	if torn != nil {
		fmt.Fprintf(e.stderr, "warning: %v\n", torn)
	}
	if len(recs) == 0 {
		return usagef("config rollback: %s has no history to roll back to", *file)
	}
	var target *confighistory.Record
	var old config.Config
	_, err = e.updateFrom(*file, "rollback", func(c config.Config) (config.Config, error) {
		old = c
		target = nil
		if *to != 0 {
			if *to < 1 || *to > len(recs) {
				return c, usagef("config rollback: --to %d, want 1..%d", *to, len(recs))
			}
			target = &recs[*to-1]
		} else {
			for i := len(recs) - 1; i >= 0; i-- {
				if recs[i].Valid && recs[i].Config != c {
					target = &recs[i]
					break
				}
			}
			if target == nil {
				return c, usagef("config rollback: every config in the history is the current one")
			}
		}
		if !target.Valid {
			return c, fmt.Errorf("record %d holds an invalid config: %w", target.N, target.Config.Validate())
		}
		return target.Config, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rolled %s back to record %d (%s, %s)\n", *file, target.N, target.Time.Format(time.DateTime), target.Source)
	for _, d := range configwatch.Diff(old, target.Config) {
		fmt.Fprintf(e.stdout, "  %s\n", d)
	}
	return nil
}
