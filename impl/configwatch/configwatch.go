// Package configwatch makes a running process follow its lockfile: the file is the truth, and the live config.Store is reloaded from it whenever it changes on disk.
//
// A [Watcher] watches the lockfile's directory with fsnotify, not the
// file: writers replace the file by rename (a watch on the old inode
// would go quiet), editors write it in place, and a Kubernetes ConfigMap
// volume swaps a "..data" symlink beside it; all three show up as events
// in the directory. After an event settles (Options.Settle) the file is
// read and decoded in full (SPEC section 3): a valid file's config, with
// the environment's overrides (the Store's Backing), is published
// through Store.Reload, which runs under the lock that serializes the
// Store's own read-modify-writes, so a reload never undoes an in-process
// change. A poll (Options.Poll) catches what a filesystem does not
// report.
//
// An invalid, torn, unreadable or deleted file is never applied: the
// Store keeps the last good config, the Watcher logs the SPEC code and
// offset once per distinct failure, bun_config_file_valid drops to 0 and
// Status/Ready say why; the file is applied again as soon as it is valid.
//
// Every change of the Store, whoever made it (the file, the dashboard,
// a WebSocket frame), is logged as "config changed" with its source and a
// field-by-field diff; bun_config_updates_total{source} counts them (see
// metrics.WatchConfig). A change read from the file is attributed to the
// source its writer recorded in the history sidecar (cli, rollback, ...)
// when the newest record holds that config, else to "file".
package configwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/confighistory"
	"github.com/bun13/bun13/impl/lockfile"
	"github.com/bun13/bun13/impl/metrics"
)

// Defaults of zero Options fields.
const (
	DefaultSettle   = 2 * time.Millisecond
	DefaultMaxDelay = 20 * time.Millisecond
	DefaultPoll     = 2 * time.Second
)

// Options configure a Watcher. Path and Store are required.
type Options struct {
	// Path is the lockfile.
	Path string
	// Store is the live config the file's config is published to; its
	// Backing (lockfile.Backing) puts the environment over the file.
	Store *config.Store
	// Logger receives the change and validity logs. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Metrics receives bun_config_file_valid. Nil records nothing.
	Metrics *metrics.Metrics
	// Settle is how long the directory must be quiet after an event
	// before the file is read (a writer's create, write, chmod, rename
	// come in a burst); MaxDelay caps the wait under a stream of events.
	// Zero means DefaultSettle and DefaultMaxDelay.
	Settle, MaxDelay time.Duration
	// Poll is the interval of a re-read without an event. Zero means
	// DefaultPoll; negative disables it.
	Poll time.Duration
	// Now is the clock of Status.Since. Nil means time.Now.
	Now func() time.Time
}

// Status is the lockfile's state as the Watcher last read it.
type Status struct {
	Path string
	// Valid is whether the file decoded (SPEC section 3).
	Valid bool
	// Applied is whether the live config is the file's config with the
	// environment's overrides (false also when the overrides leave an
	// invalid config over a valid file).
	Applied bool
	// Err is why the file is not valid or not applied (nil otherwise).
	Err error
	// File is the file's own config, when Valid.
	File config.Config
	// Since is when the state last changed between good and bad.
	Since time.Time
}

// Code is Err's SPEC code, "io" for a missing or unreadable file, ""
// when there is no error.
func (s Status) Code() string {
	if s.Err == nil {
		return ""
	}
	if c := codes.Of(s.Err); c != "" {
		return string(c)
	}
	return "io"
}

// Offset is Err's byte offset, or codes.NoOffset.
func (s Status) Offset() int { return codes.OffsetOf(s.Err) }

// Watcher follows one lockfile. Create it with Start.
type Watcher struct {
	o   Options
	log *slog.Logger
	fw  *fsnotify.Watcher

	mu        sync.Mutex
	st        Status
	lastBytes []byte
	dirs      map[string]bool
	real      string // the file's path with symlinks resolved, "" when unknown

	done chan struct{}
}

// Start reads the file once, starts watching it and returns; the watch
// ends with ctx (Done then closes). The Store should hold the file's
// config already (lockfile.OpenStore).
func Start(ctx context.Context, o Options) (*Watcher, error) {
	if o.Path == "" || o.Store == nil {
		return nil, errors.New("configwatch: Options.Path and Options.Store are required")
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, err
	}
	o.Path = abs
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.Poll == 0 {
		o.Poll = DefaultPoll
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Watcher{o: o, log: o.Logger, dirs: map[string]bool{}, done: make(chan struct{})}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.log = w.log.With("component", "config", "lockfile", o.Path)
	w.st = Status{Path: o.Path, Valid: true, Applied: true, File: o.Store.Load(), Since: o.Now()}
	if w.fw, err = fsnotify.NewWatcher(); err != nil {
		return nil, err
	}
	if err := w.watchDirs(); err != nil {
		w.fw.Close()
		return nil, err
	}
	changes, cancel := o.Store.Subscribe(64)
	w.Check()
	go w.logChanges(ctx, changes, cancel)
	go w.loop(ctx)
	return w, nil
}

// Done is closed when the watch has ended.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Status returns the file's state as last read.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st
}

// Ready returns nil when the lockfile is valid and its config (with the
// environment's overrides) is the live config: what a readiness probe
// asks. Otherwise the error says why, with the SPEC code and offset.
func (w *Watcher) Ready() error {
	st := w.Status()
	if st.Valid && st.Applied {
		return nil
	}
	return fmt.Errorf("config not applied: %s: %w", st.Path, st.Err)
}

// watchDirs watches the file's directory and, when the file is a symlink
// into another directory, that one too (re-evaluated on every check).
func (w *Watcher) watchDirs() error {
	want := map[string]bool{filepath.Dir(w.o.Path): true}
	real, err := filepath.EvalSymlinks(w.o.Path)
	if err == nil {
		want[filepath.Dir(real)] = true
	} else {
		real = ""
	}
	w.mu.Lock()
	w.real = real
	w.mu.Unlock()
	for d := range want {
		if !w.dirs[d] {
			if err := w.fw.Add(d); err != nil {
				if d == filepath.Dir(w.o.Path) {
					return err
				}
				continue // the target's directory may come and go
			}
			w.dirs[d] = true
		}
	}
	for d := range w.dirs {
		if !want[d] {
			w.fw.Remove(d)
			delete(w.dirs, d)
		}
	}
	return nil
}

// relevant reports whether an event may have changed what Path reads.
func (w *Watcher) relevant(name string) bool {
	w.mu.Lock()
	real := w.real
	w.mu.Unlock()
	return Relevant(w.o.Path, real, name)
}

// Relevant reports whether an fsnotify event on name may have changed
// what path reads: path itself, real (path with its symlinks resolved,
// "" when unknown), or an entry whose name begins with ".." beside them
// (a Kubernetes ConfigMap volume swaps "..data" and creates "..data_tmp"
// and a timestamped "..2026_..." directory). `bun13 config live` uses it
// too.
func Relevant(path, real, name string) bool {
	name = filepath.Clean(name)
	if name == path || real != "" && name == real {
		return true
	}
	return strings.HasPrefix(filepath.Base(name), "..")
}

func (w *Watcher) loop(ctx context.Context) {
	defer close(w.done)
	defer w.fw.Close()
	var poll <-chan time.Time
	if w.o.Poll > 0 {
		t := time.NewTicker(w.o.Poll)
		defer t.Stop()
		poll = t.C
	}
	var settle *time.Timer
	var settleC <-chan time.Time
	var first time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			// An overflow loses events: read the file rather than trust
			// the last state.
			w.log.Warn("config watch error; re-reading the lockfile", "err", err)
			w.Check()
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if !w.relevant(ev.Name) {
				continue
			}
			now := time.Now()
			if settle == nil {
				first = now
				settle = time.NewTimer(w.o.Settle)
				settleC = settle.C
			} else if now.Sub(first) < w.o.MaxDelay {
				settle.Reset(w.o.Settle)
			}
		case <-settleC:
			settle, settleC = nil, nil
			w.watchDirs()
			w.Check()
		case <-poll:
			w.watchDirs()
			w.Check()
		}
	}
}

// Check reads the file now and applies it when it is valid and new. The
// loop calls it; tests and tools may too.
func (w *Watcher) Check() {
	// The common case of a poll or a stray event: nothing new, nothing
	// to do (the load below re-checks under the Store's lock).
	if b, err := os.ReadFile(w.o.Path); err == nil {
		w.mu.Lock()
		same := w.st.Valid && w.st.Applied && bytes.Equal(b, w.lastBytes)
		w.mu.Unlock()
		if same {
			return
		}
	}
	var st Status
	w.o.Store.Reload(w.source(), func() (config.Config, error) {
		b, err := os.ReadFile(w.o.Path)
		w.mu.Lock()
		defer w.mu.Unlock()
		prev := w.st
		st = prev
		if err == nil && prev.Valid && prev.Applied && bytes.Equal(b, w.lastBytes) {
			return config.Config{}, errUnchanged
		}
		var eff config.Config
		switch {
		case errors.Is(err, fs.ErrNotExist):
			st.Valid, st.Applied, st.Err = false, false, fmt.Errorf("the lockfile is missing: %w", err)
		case err != nil:
			st.Valid, st.Applied, st.Err = false, false, err
		default:
			var lf *lockfile.Lockfile
			if lf, err = lockfile.Decode(b); err != nil {
				st.Valid, st.Applied, st.Err = false, false, err
			} else if eff, err = w.o.Store.Effective(lf.Config); err != nil {
				st.Valid, st.Applied, st.File, st.Err = true, false, lf.Config, err
			} else {
				st.Valid, st.Applied, st.File, st.Err = true, true, lf.Config, nil
				w.lastBytes = b
			}
		}
		good := st.Valid && st.Applied
		if good != (prev.Valid && prev.Applied) {
			st.Since = w.o.Now()
		}
		w.st = st
		w.report(prev, st)
		if !good {
			return config.Config{}, st.Err
		}
		return eff, nil
	})
}

var errUnchanged = errors.New("unchanged")

// report logs and exports a change of validity, once per distinct error.
// w.mu is held.
func (w *Watcher) report(prev, st Status) {
	good := st.Valid && st.Applied
	w.o.Metrics.SetConfigFileValid(good)
	prevGood := prev.Valid && prev.Applied
	switch {
	case good && !prevGood:
		w.log.Info("config file valid again; applying it", "was", prev.Code())
	case !good && (prevGood || errString(prev.Err) != errString(st.Err)):
		attrs := []any{"code", st.Code(), "err", st.Err.Error()}
		if off := st.Offset(); off != codes.NoOffset {
			attrs = append(attrs, "offset", off)
		}
		msg := "config file invalid; keeping the last good config"
		switch {
		case st.Code() == "io" && errors.Is(st.Err, fs.ErrNotExist):
			msg = "config file deleted; keeping the last good config"
		case st.Valid:
			msg = "environment overrides leave an invalid config over the file; keeping the last good config"
		}
		w.log.Error(msg, attrs...)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// source attributes a change read from the file: the source the newest
// history record names, when that record is recent, else "file".
func (w *Watcher) source() string {
	rec, ok, err := confighistory.Last(lockfile.HistoryPath(w.o.Path))
	if err != nil || !ok || time.Since(rec.Time) > 10*time.Second {
		return "file"
	}
	b, err := os.ReadFile(w.o.Path)
	if err != nil {
		return "file"
	}
	h, err := lockfile.DecodeHeader(b)
	if err != nil || h.Config != rec.Config {
		return "file"
	}
	switch rec.Source {
	case "other", "initial":
		return "file"
	}
	return rec.Source
}

func (w *Watcher) logChanges(ctx context.Context, changes <-chan config.Change, cancel func()) {
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case ch, ok := <-changes:
			if !ok {
				return
			}
			src := ch.Source
			if src == "" {
				src = "other"
			}
			w.log.Info("config changed", "source", src, "diff", Diff(ch.Old, ch.New),
				"flags", ch.New.FeatureFlags.String(), "checksum", fmt.Sprintf("0x%016x", ch.New.Checksum()))
		}
	}
}

// Diff lists the fields that differ between a and b as "field: old -> new",
// in SPEC order, then the flags switched on and off by name.
func Diff(a, b config.Config) []string {
	var out []string
	add := func(field, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s: %s -> %s", field, x, y))
		}
	}
	add("version", fmt.Sprint(a.Version), fmt.Sprint(b.Version))
	add("registryHash", fmt.Sprintf("0x%08x", a.RegistryHash), fmt.Sprintf("0x%08x", b.RegistryHash))
	add("featureFlags", a.FeatureFlags.Hex(), b.FeatureFlags.Hex())
	add("terminalMode", a.TerminalMode.String(), b.TerminalMode.String())
	add("rows", fmt.Sprint(a.Rows), fmt.Sprint(b.Rows))
	add("cols", fmt.Sprint(a.Cols), fmt.Sprint(b.Cols))
	if on := b.FeatureFlags &^ a.FeatureFlags; on != 0 {
		out = append(out, "enabled "+on.String())
	}
	if off := a.FeatureFlags &^ b.FeatureFlags; off != 0 {
		out = append(out, "disabled "+off.String())
	}
	return out
}
