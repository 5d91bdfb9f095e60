// Package top is bun13 top: a live terminal view of a registry's dashboard.
//
// It speaks the dashboard's WebSocket (see impl/dashboard): the config
// arrives as SPEC frames, the numbers as stats messages once a second.
// The terminal follows the config's terminal fields (the server's live
// config, or Options.Terminal when set):
//
//   - raw: the terminal is put in raw mode and single keys act (q or
//     Ctrl-C quits, r refreshes); the view is redrawn in place on the
//     alternate screen.
//   - cooked: the same view, but the terminal stays in line mode: type q
//     or r and Enter.
//   - none: one plain line per sample, no escape codes, for logs and pipes.
//
// The view is at most the config's rows × cols, clipped to the real
// terminal when its size is known. Raw needs a terminal on both ends and
// falls back to cooked when the input is not one; raw and cooked fall back
// to none when the output is not a terminal.
//
// Whatever ends the view (q, a signal, a lost terminal, a panic), the
// terminal is put back before Run returns, and the server is told so: the
// dashboard counts a raw-mode client that vanishes without saying it as a
// terminal-mode leak (bun_terminal_mode_leaks_total).
package top

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/term"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/dashboard"
	"github.com/bun13/bun13/impl/frame"
)

// Options configure Run.
type Options struct {
	// URL is the registry, e.g. http://127.0.0.1:4873.
	URL string
	// Token is a bearer token, sent when not empty.
	Token string
	// Terminal, when not empty, replaces the config's terminal fields:
	// "MODE;ROWSxCOLS" as in X-Bun-Terminal (BUN_CONFIG_TERMINAL).
	Terminal string
	// Stdin and Stdout are the keys and the screen. Raw and cooked modes
	// need them to be terminals (*os.File).
	Stdin  io.Reader
	Stdout io.Writer
	// NoColor draws without colours (NO_COLOR).
	NoColor bool
	// DialTimeout bounds each connection attempt and the wait for the
	// first config. Zero means 10 s.
	DialTimeout time.Duration
}

// event is what a connection's reader reports.
type event struct {
	gen   int
	frame *frame.Frame
	text  []byte
	err   error
}

// key is one key press (raw) or the first letter of a line (cooked, none);
// eof when the input ended.
type key struct {
	r   byte
	eof bool
}

// session is the state of one Run.
type session struct {
	o     Options
	wsURL string

	conn    *websocket.Conn
	connCtx context.Context
	gen     int
	events  chan event

	user    string
	admin   bool
	cfg     config.Config // the config the last complete batch described
	pending config.Config // fields of the batch being received
	haveCfg bool
	stats   *dashboard.Stats
	state   string
	lastMsg time.Time

	override      bool
	oMode         config.Mode
	oRows, oCols  uint8
	mode          config.Mode
	inFd, outFd   int
	inTTY, outTTY bool
	termState     *term.State
	restoreOnce   sync.Once
	resync        bool // a batch did not match its CRC: ask for a snapshot
	// What the none mode printed last: it prints each sample and each
	// config once.
	printedCfg    bool
	lastPrinted   config.Config
	lastStatsLine time.Time
	announcedMode string
}

// Run shows the view until ctx ends or the user quits. It returns an
// error when the first connection fails; later ones are retried.
func Run(ctx context.Context, o Options) (err error) {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	s := &session{o: o, events: make(chan event, 256), state: "connecting", inFd: -1, outFd: -1}
	// Connections outlive ctx, which a signal cancels, so that the
	// goodbye below still reaches the server; they end with Run.
	var cancel context.CancelFunc
	s.connCtx, cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	if s.wsURL, err = wsURL(o.URL); err != nil {
		return err
	}
	if o.Terminal != "" {
		m, r, c, err := config.ParseTerminal(o.Terminal)
		if err != nil {
			return fmt.Errorf("terminal %q: %w", o.Terminal, err)
		}
		s.override, s.oMode, s.oRows, s.oCols = true, m, r, c
	}
	if f, ok := o.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.inFd, s.inTTY = int(f.Fd()), true
	}
	if f, ok := o.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.outFd, s.outTTY = int(f.Fd()), true
	}

	if err := s.connect(ctx); err != nil {
		return err
	}
	defer func() {
		if s.conn != nil {
			s.conn.Close(websocket.StatusNormalClosure, "bye")
		}
	}()
	if err := s.awaitConfig(ctx); err != nil {
		return err
	}

	s.mode = s.pickMode()
	if err := s.enter(); err != nil {
		return err
	}
	// From here on the terminal is ours: every way out restores it. A
	// panic here restores and goes on panicking; goroutines below do the
	// same through guard.
	defer s.restore()
	defer func() {
		if r := recover(); r != nil {
			s.restore()
			panic(r)
		}
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGWINCH)
	defer signal.Stop(sigs)

	keys := make(chan key, 16)
	go s.readKeys(s.connCtx, keys)
	s.announce()
	return s.loop(ctx, keys, sigs)
}

func wsURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("bad registry URL %q", raw)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("bad registry URL %q: want http or https", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/") + dashboard.Prefix + "/ws"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// connect dials once and starts the connection's reader.
func (s *session) connect(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, s.o.DialTimeout)
	defer cancel()
	h := http.Header{}
	if s.o.Token != "" {
		h.Set("Authorization", "Bearer "+s.o.Token)
	}
	c, resp, err := websocket.Dial(dctx, s.wsURL, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return fmt.Errorf("%s: %s (a token is needed: --token or BUN13_TOKEN)", s.o.URL, resp.Status)
		}
		return fmt.Errorf("cannot reach the dashboard of %s: %w", s.o.URL, err)
	}
	c.SetReadLimit(1 << 20)
	s.gen++
	s.conn = c
	s.state = "live"
	s.lastMsg = time.Now()
	go s.read(s.connCtx, c, s.gen)
	return nil
}

func (s *session) read(ctx context.Context, c *websocket.Conn, gen int) {
	defer s.guard()
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			select {
			case s.events <- event{gen: gen, err: err}:
			case <-ctx.Done():
			}
			return
		}
		ev := event{gen: gen}
		if typ == websocket.MessageBinary {
			f, err := frame.Decode(b)
			if err != nil {
				continue // not ours to answer; the server never sends one
			}
			ev.frame = &f
		} else {
			ev.text = b
		}
		select {
		case s.events <- ev:
		case <-ctx.Done():
			return
		}
	}
}

// awaitConfig handles messages until the first snapshot is complete.
func (s *session) awaitConfig(ctx context.Context) error {
	timeout := time.NewTimer(s.o.DialTimeout)
	defer timeout.Stop()
	for !s.haveCfg {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return fmt.Errorf("%s sent no config within %v", s.o.URL, s.o.DialTimeout)
		case ev := <-s.events:
			if ev.err != nil {
				return fmt.Errorf("%s: %w", s.o.URL, ev.err)
			}
			s.handle(ev)
			s.resyncIfNeeded()
		}
	}
	return nil
}

// resyncIfNeeded asks for a snapshot after a batch that did not match its
// CRC (changes lost on the way): the next one replaces every field.
func (s *session) resyncIfNeeded() {
	if s.resync {
		s.resync = false
		b := frame.Encode(frame.Frame{Type: frame.TypeSnapshot})
		s.send(websocket.MessageBinary, b[:])
	}
}

// handle applies one message; it reports whether the view changed.
func (s *session) handle(ev event) bool {
	if ev.gen != s.gen {
		return false
	}
	s.lastMsg = time.Now()
	if s.state != "live" {
		s.state = "live"
	}
	if f := ev.frame; f != nil {
		switch {
		case f.Type == frame.TypeSet:
			s.pending = frame.SetField(s.pending, f.Offset, f.Value)
		case f.Type == frame.TypeAck && f.Offset == 0:
			// The batch is complete; the server's CRC says which config
			// it describes, so a torn batch is never shown.
			if s.pending.Checksum() == f.Value {
				s.cfg, s.haveCfg = s.pending, true
			} else {
				s.resync = true
			}
			return true
		}
		return false
	}
	var m struct {
		Type  string `json:"type"`
		User  string `json:"user"`
		Admin bool   `json:"admin"`
	}
	if json.Unmarshal(ev.text, &m) != nil {
		return false
	}
	switch m.Type {
	case "hello":
		s.user, s.admin = m.User, m.Admin
	case "stats":
		var st dashboard.Stats
		if json.Unmarshal(ev.text, &st) == nil {
			s.stats = &st
			return true
		}
	}
	return false
}

// terminal is the mode and size the config asks for.
func (s *session) terminal() (config.Mode, int, int) {
	if s.override {
		return s.oMode, int(s.oRows), int(s.oCols)
	}
	return s.cfg.TerminalMode, int(s.cfg.Rows), int(s.cfg.Cols)
}

// pickMode is the config's mode as far as the streams allow it.
func (s *session) pickMode() config.Mode {
	m, _, _ := s.terminal()
	if m != config.None && !s.outTTY {
		return config.None
	}
	if m == config.Raw && !s.inTTY {
		return config.Cooked
	}
	return m
}

// size is the config's size clipped to the terminal's.
func (s *session) size() (rows, cols int) {
	_, rows, cols = s.terminal()
	if s.outTTY {
		if w, h, err := term.GetSize(s.outFd); err == nil && w > 0 && h > 0 {
			rows, cols = min(rows, h), min(cols, w)
		}
	}
	return max(rows, 1), max(cols, 1)
}

// Escape sequences of the screen modes.
const (
	altOn      = "\x1b[?1049h"
	altOff     = "\x1b[?1049l"
	cursorOff  = "\x1b[?25l"
	cursorOn   = "\x1b[?25h"
	home       = "\x1b[H"
	clearLine  = "\x1b[K"
	clearBelow = "\x1b[J"
)

func (s *session) enter() error {
	switch s.mode {
	case config.Raw:
		st, err := term.MakeRaw(s.inFd)
		if err != nil {
			return fmt.Errorf("raw mode: %w", err)
		}
		s.termState = st
		io.WriteString(s.o.Stdout, altOn+cursorOff)
	case config.Cooked:
		io.WriteString(s.o.Stdout, altOn)
	}
	return nil
}

// restore puts the terminal back: screen first, so that whatever runs
// next in it finds the normal screen and a visible cursor, then the line
// discipline. It is safe to call more than once, from any goroutine.
func (s *session) restore() {
	s.restoreOnce.Do(func() {
		switch s.mode {
		case config.Raw:
			io.WriteString(s.o.Stdout, cursorOn+altOff)
			if s.termState != nil {
				term.Restore(s.inFd, s.termState)
			}
		case config.Cooked:
			io.WriteString(s.o.Stdout, cursorOn+altOff)
		}
	})
}

// guard restores the terminal when a goroutine of the session panics: a
// panic elsewhere than in Run's goroutine kills the process without
// running Run's defers.
func (s *session) guard() {
	if r := recover(); r != nil {
		s.restore()
		panic(r)
	}
}

// announce tells the server the terminal in use, for
// bun_terminal_sessions and the leak count.
func (s *session) announce() {
	_, rows, cols := s.terminal()
	b, _ := json.Marshal(map[string]any{"type": "terminal", "mode": s.mode.String(), "rows": rows, "cols": cols})
	s.send(websocket.MessageText, b)
	s.announcedMode = s.mode.String()
}

// send writes one message, bounded in time: a stalled server must not
// stall the view (or its exit).
func (s *session) send(typ websocket.MessageType, b []byte) {
	if s.conn == nil {
		return
	}
	wctx, cancel := context.WithTimeout(s.connCtx, 2*time.Second)
	defer cancel()
	s.conn.Write(wctx, typ, b)
}

// readKeys turns the input into keys. It blocks in Read and ends with the
// process; an input that ends early sends eof.
func (s *session) readKeys(ctx context.Context, keys chan<- key) {
	defer s.guard()
	if s.o.Stdin == nil {
		return
	}
	put := func(k key) bool {
		select {
		case keys <- k:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if s.mode == config.Raw {
		buf := make([]byte, 64)
		for {
			n, err := s.o.Stdin.Read(buf)
			for _, b := range buf[:n] {
				if !put(key{r: b}) {
					return
				}
			}
			if err != nil {
				put(key{eof: true})
				return
			}
		}
	}
	sc := bufio.NewScanner(s.o.Stdin)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" && !put(key{r: t[0]}) {
			return
		}
	}
	put(key{eof: true})
}

func (s *session) loop(ctx context.Context, keys <-chan key, sigs <-chan os.Signal) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var retry <-chan time.Time
	backoff := 500 * time.Millisecond
	s.draw()
	for {
		select {
		case <-ctx.Done():
			s.goodbye()
			return nil
		case sig := <-sigs:
			if sig == syscall.SIGWINCH {
				s.draw()
				continue
			}
			s.goodbye()
			return nil
		case k := <-keys:
			switch {
			case k.eof:
				// Ctrl-D at a terminal quits; a script's empty stdin
				// (</dev/null) must not end the view at once.
				if s.inTTY && s.mode != config.None {
					s.goodbye()
					return nil
				}
			case k.r == 'q' || k.r == 'Q' || k.r == 3 || k.r == 4: // Ctrl-C, Ctrl-D in raw mode
				s.goodbye()
				return nil
			case k.r == 'r' || k.r == 'R' || k.r == 12: // Ctrl-L
				b := frame.Encode(frame.Frame{Type: frame.TypeSnapshot})
				s.send(websocket.MessageBinary, b[:])
				s.draw()
			}
		case ev := <-s.events:
			if ev.gen != s.gen {
				continue
			}
			if ev.err != nil {
				s.conn.CloseNow()
				s.conn = nil
				s.state = "reconnecting"
				retry = time.After(backoff)
				s.draw()
				continue
			}
			if s.handle(ev) {
				s.draw()
			}
			s.resyncIfNeeded()
		case <-retry:
			retry = nil
			if err := s.connect(ctx); err != nil {
				backoff = min(backoff*2, 10*time.Second)
				s.state = "reconnecting"
				retry = time.After(backoff)
				continue
			}
			backoff = 500 * time.Millisecond
			s.announce()
			s.draw()
		case <-tick.C:
			if s.conn != nil && time.Since(s.lastMsg) > 3*time.Second {
				s.state = "stale"
			}
			if s.mode != config.None {
				s.draw()
			}
		}
	}
}

// goodbye restores the terminal, then says so to the server, in that
// order: the terminal must not wait for the network.
func (s *session) goodbye() {
	s.restore()
	if s.announcedMode == config.Raw.String() {
		s.send(websocket.MessageText, []byte(`{"type":"terminal","restored":true}`))
	}
}

func (s *session) view() view {
	return view{
		url: s.o.URL, user: s.user, admin: s.admin, cfg: s.cfg, haveCfg: s.haveCfg,
		stats: s.stats, state: s.state, mode: s.mode, now: time.Now(),
	}
}

func (s *session) draw() {
	rows, cols := s.size()
	if s.mode == config.None {
		v := s.view()
		if s.haveCfg && (!s.printedCfg || s.lastPrinted != s.cfg) {
			s.printedCfg, s.lastPrinted = true, s.cfg
			io.WriteString(s.o.Stdout, joinFields(configFields(v), cols)+"\n")
		}
		if s.stats != nil && s.stats.Time != s.lastStatsLine {
			s.lastStatsLine = s.stats.Time
			io.WriteString(s.o.Stdout, joinFields(statsFields(v), cols)+"\n")
		}
		return
	}
	help := "q quit · r refresh"
	if s.mode == config.Cooked {
		help = "type q⏎ to quit, r⏎ to refresh › "
	}
	lines := screen(s.view(), rows, cols, !s.o.NoColor, help)
	var b strings.Builder
	b.WriteString(home)
	for i, l := range lines {
		b.WriteString(l)
		b.WriteString(clearLine)
		// No newline after the last line: on a screen exactly rows high
		// it would scroll the view up by one.
		if i < len(lines)-1 {
			b.WriteString("\r\n")
		}
	}
	// Clear what an earlier, taller view left, without moving: in cooked
	// mode the cursor stays at the prompt.
	b.WriteString(clearBelow)
	io.WriteString(s.o.Stdout, b.String())
}
