package top

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/dashboard"
)

// view is everything one screen shows.
type view struct {
	url     string
	user    string
	admin   bool
	cfg     config.Config
	haveCfg bool
	stats   *dashboard.Stats
	state   string // "live", "connecting", "reconnecting: ...", "stale"
	mode    config.Mode
	now     time.Time
}

// SGR codes the screen uses.
const (
	sgrDim   = "2"
	sgrBold  = "1"
	sgrRed   = "31"
	sgrGreen = "32"
	sgrAmber = "33"
)

type seg struct{ text, sgr string }

type line []seg

func (l *line) add(text, sgr string) { *l = append(*l, seg{text, sgr}) }

func (l line) width() int {
	n := 0
	for _, s := range l {
		n += utf8.RuneCountInString(s.text)
	}
	return n
}

// pad appends spaces up to column col.
func (l *line) pad(col int) {
	if w := l.width(); w < col {
		l.add(strings.Repeat(" ", col-w), "")
	}
}

// format writes l clipped to cols visible characters, with colour when
// color is set.
func (l line) format(cols int, color bool) string {
	var b strings.Builder
	left := cols
	for _, s := range l {
		if left <= 0 {
			break
		}
		t := s.text
		if n := utf8.RuneCountInString(t); n > left {
			t = string([]rune(t)[:left])
		}
		left -= utf8.RuneCountInString(t)
		if color && s.sgr != "" {
			b.WriteString("\x1b[" + s.sgr + "m" + t + "\x1b[0m")
		} else {
			b.WriteString(t)
		}
	}
	return b.String()
}

// screen lays v out in at most rows lines of at most cols characters. The
// last line is the key help when there is room for it.
func screen(v view, rows, cols int, color bool, help string) []string {
	var ls []line
	add := func(l line) { ls = append(ls, l) }
	half := max(cols/2, 34)

	var head line
	head.add("bun13 top", sgrBold)
	head.add("  "+v.url, "")
	if v.user != "" {
		role := "reader"
		if v.admin {
			role = "admin"
		}
		head.add("  "+v.user+" ("+role+")", sgrDim)
	}
	right := v.state + "  " + v.now.Format("15:04:05")
	stateSGR := sgrAmber
	if v.state == "live" {
		stateSGR = sgrGreen
	}
	if w := head.width(); w+2+utf8.RuneCountInString(right) <= cols {
		head.pad(cols - utf8.RuneCountInString(right))
	} else {
		head.add("  ", "")
	}
	head.add(v.state, stateSGR)
	head.add("  "+v.now.Format("15:04:05"), sgrDim)
	add(head)
	add(line{{strings.Repeat("─", cols), sgrDim}})

	st := v.stats
	var fleet []line
	if st != nil {
		fleet = fleetLines(st.Fleet, v.now)
	}
	if st == nil {
		add(line{{"waiting for the first sample…", sgrDim}})
	} else {
		var l line
		label(&l, "requests")
		if st.Metrics {
			l.add(fmtRate(st.Requests.Rate)+"/s", sgrBold)
		} else {
			l.add("no metrics", sgrDim)
		}
		l.add("   p50 ", sgrDim)
		l.add(fmtSeconds(st.P50), sgrBold)
		l.add("   p99 ", sgrDim)
		l.add(fmtSeconds(st.P99), sgrBold)
		l.add("   "+fmtCount(st.Requests.Recent)+" in "+fmtWindow(st.Window), sgrDim)
		add(l)
		// The chart takes the rows the rest leaves, up to six.
		for _, r := range spark(st.History, cols, min(6, max(1, rows-fixedLines-len(fleet)))) {
			add(line{{r, sgrGreen}})
		}

		l = nil
		counter(&l, "5xx", st.Errors5xx, st.Window, sgrRed)
		l.pad(half)
		counter(&l, "4xx", st.Errors4xx, st.Window, "")
		add(l)
		l = nil
		counter(&l, "429", st.RateLimited, st.Window, sgrAmber)
		l.pad(half)
		counter(&l, "auth fail", st.AuthFailures, st.Window, sgrAmber)
		add(l)

		l = nil
		label(&l, "dns")
		switch {
		case st.DNS == nil:
			l.add("no cache", sgrDim)
		case st.DNS.HitRatio == nil:
			l.add("no lookups yet", sgrDim)
		default:
			l.add(strconv.FormatFloat(*st.DNS.HitRatio*100, 'f', 1, 64)+"% hits", sgrBold)
			l.add(", "+strconv.Itoa(st.DNS.Entries)+" entries", sgrDim)
		}
		l.pad(half)
		label(&l, "uplink")
		switch u := st.Uplink; {
		case u == nil:
			l.add("none", sgrDim)
		case u.Offline:
			l.add("offline", sgrAmber)
		case u.Up:
			l.add("up", sgrGreen)
			l.add(" "+host(u.URL), sgrDim)
		case u.Requests == 0:
			l.add("idle", sgrDim)
			l.add(" "+host(u.URL), sgrDim)
		default:
			l.add("down", sgrRed)
			l.add(" "+u.LastError, sgrDim)
		}
		add(l)
	}
	add(line{{strings.Repeat("─", cols), sgrDim}})

	if st != nil && st.ConfigFile != nil && !(st.ConfigFile.Valid && st.ConfigFile.Applied) {
		add(line{{fileBanner(st.ConfigFile), sgrRed}})
	}
	if !v.haveCfg {
		add(line{{"waiting for the config…", sgrDim}})
	} else {
		c := v.cfg
		b := c.Bytes()
		var l line
		label(&l, "config")
		l.add(fmt.Sprintf("%02x %x %x %02x %02x %02x %02x", b[0], b[1:5], b[5:9], b[9], b[10], b[11], b[12]), sgrBold)
		l.add(fmt.Sprintf("   crc 0x%016x", c.Checksum()), sgrDim)
		add(l)
		l = nil
		label(&l, "")
		l.add(fmt.Sprintf("version %d", c.Version), "")
		l.add(fmt.Sprintf("   registry 0x%08x", c.RegistryHash), "")
		l.add("   terminal "+c.TerminalMode.String()+" "+strconv.Itoa(int(c.Rows))+"x"+strconv.Itoa(int(c.Cols)), "")
		add(l)
		l = nil
		label(&l, "flags")
		l.add(c.FeatureFlags.Hex()+" ", sgrDim)
		if c.FeatureFlags == 0 {
			l.add("none", sgrDim)
		} else {
			l.add(strings.ReplaceAll(c.FeatureFlags.String(), "|", " "), "")
		}
		add(l)
	}
	if st != nil {
		var l line
		label(&l, "watching")
		n := st.Terminals["none"] + st.Terminals["cooked"] + st.Terminals["raw"]
		l.add(fmt.Sprintf("%s · %s (%d raw)", plural(st.Clients, "client"), plural(n, "terminal"), st.Terminals["raw"]), "")
		l.add("   config read "+fmtSeconds(st.ConfigReadSeconds), sgrDim)
		add(l)
	}
	for _, l := range fleet {
		add(l)
	}

	out := make([]string, 0, rows)
	for _, l := range ls {
		if len(out) == rows-1 && help != "" || len(out) == rows {
			break
		}
		out = append(out, l.format(cols, color))
	}
	if help != "" && rows > 1 {
		for len(out) < rows-1 {
			out = append(out, "")
		}
		out = append(out, line{{help, sgrDim}}.format(cols, color))
	}
	return out
}

// statsFields are the "none" mode's line for a sample, most important
// first: key=value pairs a script can split, no escape codes.
func statsFields(v view) []string {
	f := []string{v.now.Format("15:04:05")}
	if v.state != "live" {
		f = append(f, "state="+v.state)
	}
	st := v.stats
	if st == nil {
		return f
	}
	alerts, info := fleetFields(st.Fleet)
	f = append(f, alerts...)
	f = append(f, "req/s="+fmtRate(st.Requests.Rate), "p50="+fmtSeconds(st.P50), "p99="+fmtSeconds(st.P99),
		"5xx="+fmtCount(st.Errors5xx.Recent), "4xx="+fmtCount(st.Errors4xx.Recent),
		"429="+fmtCount(st.RateLimited.Recent), "auth="+fmtCount(st.AuthFailures.Recent))
	if st.DNS != nil && st.DNS.HitRatio != nil {
		f = append(f, "dns="+strconv.FormatFloat(*st.DNS.HitRatio*100, 'f', 1, 64)+"%")
	}
	if fs := st.ConfigFile; fs != nil && !(fs.Valid && fs.Applied) {
		f = append(f, "file="+fileState(fs))
	}

	if u := st.Uplink; u != nil {
		s := "down"
		switch {
		case u.Offline:
			s = "offline"
		case u.Up:
			s = "up"
		case u.Requests == 0:
			s = "idle"
		}
		f = append(f, "uplink="+s)
	}
	return append(f, info...)
}

// fileState is the lockfile's trouble in a word: its SPEC code (with the
// offset where there is one), "io" for a missing or unreadable file, or
// "not-applied" for a valid file whose config was not applied.
func fileState(fs *dashboard.FileStatus) string {
	s := fs.Error
	if s == "" {
		s = "not-applied"
	}
	if fs.Offset != nil {
		s += "@" + strconv.Itoa(*fs.Offset)
	}
	return s
}

// fileBanner is the line shown while the lockfile on disk is not the
// config being served.
func fileBanner(fs *dashboard.FileStatus) string {
	what := "lockfile invalid"
	if fs.Valid {
		what = "lockfile not applied"
	}
	s := "! " + what + ": " + fs.Error
	if fs.Offset != nil {
		s += fmt.Sprintf(" at offset %d", *fs.Offset)
	}
	if fs.Detail != "" {
		s += " (" + fs.Detail + ")"
	}
	return s + "; serving the last good config"
}

// configFields are the "none" mode's line for a config.
func configFields(v view) []string {
	c := v.cfg
	return []string{v.now.Format("15:04:05"), "config", "flags=" + c.FeatureFlags.Hex(),
		fmt.Sprintf("version=%d", c.Version), fmt.Sprintf("registry=0x%08x", c.RegistryHash),
		"terminal=" + c.Terminal(), fmt.Sprintf("crc=0x%016x", c.Checksum()),
		"(" + c.FeatureFlags.String() + ")"}
}

// joinFields joins whole fields up to cols characters: a narrow terminal
// loses the last fields, never half of one.
func joinFields(f []string, cols int) string {
	var b strings.Builder
	n := 0
	for i, s := range f {
		w := utf8.RuneCountInString(s)
		if i > 0 {
			w++
		}
		if n+w > cols {
			if i == 0 {
				return string([]rune(s)[:cols])
			}
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
		n += w
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func label(l *line, s string) {
	l.add(fmt.Sprintf("%-10s", s), sgrDim)
}

func counter(l *line, name string, c dashboard.Counter, window float64, alert string) {
	label(l, name)
	sgr := sgrBold
	if c.Recent > 0 && alert != "" {
		sgr = alert
	}
	l.add(fmtCount(c.Recent), sgr)
	l.add(" in "+fmtWindow(window)+" ("+fmtCount(c.Total)+" total)", sgrDim)
}

// fixedLines are the lines of a full screen besides the chart.
const fixedLines = 13

// eighths are the block characters from 1/8 to 8/8 of a cell.
var eighths = []rune("▁▂▃▄▅▆▇█")

// spark draws the newest width samples as a bar chart height rows high,
// right-aligned, its top a fifth above their peak (steady traffic reads as
// a plateau, not a wall); a sample above zero shows at least a sliver.
func spark(h []float64, width, height int) []string {
	if len(h) > width {
		h = h[len(h)-width:]
	}
	peak := 0.0
	for _, v := range h {
		peak = max(peak, v)
	}
	levels := make([]int, len(h)) // in eighths of a row
	for i, v := range h {
		if peak > 0 && v > 0 {
			levels[i] = max(1, int(math.Round(v/(peak*1.2)*float64(height*8))))
		}
	}
	rows := make([]string, height)
	for r := range height {
		base := (height - 1 - r) * 8 // eighths below this row
		line := make([]rune, 0, width)
		for range width - len(h) {
			line = append(line, ' ')
		}
		for _, l := range levels {
			switch {
			case l-base >= 8:
				line = append(line, eighths[7])
			case l-base > 0:
				line = append(line, eighths[l-base-1])
			case r == height-1:
				// The baseline: a sample of zero still has a place.
				line = append(line, eighths[0])
			default:
				line = append(line, ' ')
			}
		}
		rows[r] = string(line)
	}
	return rows
}

func fmtRate(r float64) string {
	switch {
	case r == 0:
		return "0"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return fmtCount(r)
}

// fmtCount writes n rounded, with thousands separators.
func fmtCount(n float64) string {
	s := strconv.FormatInt(int64(math.Round(n)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtSeconds(p *float64) string {
	if p == nil {
		return "–"
	}
	s := *p
	switch {
	case s < 1e-6:
		return strconv.FormatFloat(s*1e9, 'f', 1, 64) + "ns"
	case s < 1e-3:
		return strconv.FormatFloat(s*1e6, 'f', 0, 64) + "µs"
	case s < 1e-2:
		return strconv.FormatFloat(s*1e3, 'f', 2, 64) + "ms"
	case s < 1:
		return strconv.FormatFloat(s*1e3, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(s, 'f', 2, 64) + "s"
}

func fmtWindow(s float64) string {
	if s >= 90 {
		return strconv.Itoa(int(math.Round(s/60))) + "m"
	}
	return strconv.Itoa(int(math.Round(s))) + "s"
}

func host(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexByte(u, '/'); i >= 0 {
		u = u[:i]
	}
	return u
}
