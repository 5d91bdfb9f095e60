package compare

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchunit"
)

// WriteJSON writes the report with every number the verdict used.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// sections groups metrics for printing: per package, per unit.
type section struct {
	pkg, unit string
	rows      []row
}

type row struct {
	b *Benchmark
	m *Metric
}

func (r *Report) sections() []section {
	var pkgs []string
	units := map[string][]string{}
	byKey := map[[2]string][]row{}
	for _, b := range r.Benchmarks {
		if _, ok := units[b.Pkg]; !ok {
			pkgs = append(pkgs, b.Pkg)
			units[b.Pkg] = []string{}
		}
		for _, m := range b.Metrics {
			k := [2]string{b.Pkg, m.Unit}
			if _, ok := byKey[k]; !ok {
				units[b.Pkg] = append(units[b.Pkg], m.Unit)
			}
			byKey[k] = append(byKey[k], row{b, m})
		}
	}
	var out []section
	for _, pkg := range pkgs {
		var ordered []string
		// Gated units first, in a fixed order; others as they came.
		for _, u := range standardUnits {
			if _, ok := byKey[[2]string{pkg, u}]; ok {
				ordered = append(ordered, u)
			}
		}
		for _, u := range units[pkg] {
			if !slices.Contains(standardUnits, u) {
				ordered = append(ordered, u)
			}
		}
		for _, u := range ordered {
			out = append(out, section{pkg, u, byKey[[2]string{pkg, u}]})
		}
	}
	return out
}

// standardUnits come first in a report, in this order.
var standardUnits = []string{UnitInstr, UnitTime, UnitBytes, UnitAllocs}

// displayUnit maps our ns/op back to benchstat's sec/op so values scale to
// µ, m and so on.
func displayUnit(unit string) (string, float64) {
	if unit == UnitTime {
		return "sec/op", 1e-9
	}
	return unit, 1
}

// cells formats a metric's two sides on one scale, so the pair reads at a
// glance ("1.720µ" against "2.075µ").
func cells(m *Metric) (base, pr string) {
	unit, f := displayUnit(m.Unit)
	sc := benchunit.CommonScale([]float64{m.Base.Median * f, m.PR.Median * f}, benchunit.ClassOf(unit))
	side := func(s Side) string {
		sum := benchmath.Summary{Center: s.Median * f, Lo: inf(s.CILo, -1) * f, Hi: inf(s.CIHi, 1) * f}
		return sc.Format(s.Median*f) + " ± " + sum.PctRangeString()
	}
	return side(m.Base), side(m.PR)
}

// inf turns a missing interval bound back into the infinity benchmath
// prints as "∞".
func inf(p *float64, sign int) float64 {
	if p == nil {
		return math.Inf(sign)
	}
	return *p
}

// vsBase is benchstat's "vs base" cell: the median change, or "~" when the
// two-sided test sees no difference.
func vsBase(m *Metric, alpha float64) string {
	c := benchmath.Comparison{P: m.PTwoSided, N1: m.Base.N, N2: m.PR.N, Alpha: alpha}
	return c.FormatDelta(m.Base.Median, m.PR.Median) + " (" + c.String() + ")"
}

func fmtP(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'g', 3, 64)
}

func fmtMargin(m *Metric) string {
	if !m.Gated {
		return "-"
	}
	return strconv.FormatFloat(m.Margin, 'g', 4, 64)
}

func verdictText(m *Metric) string {
	v := m.Verdict
	switch m.Verdict {
	case VerdictRegression:
		v = "REGRESSION"
	case VerdictInconclusive:
		if m.Unit == UnitInstr && !m.Tested {
			return fmt.Sprintf("inconclusive (spread %.3g: more --repeat or a larger --n2)", deref(m.Spread))
		}
		return fmt.Sprintf("inconclusive (need -count %d)", m.CountNeeded)
	}
	if m.Unit == UnitInstr && m.Deterministic {
		v += fmt.Sprintf(" (Δ %+.3f, spread %.3f)", m.PR.Median-m.Base.Median, deref(m.Spread))
	}
	return v
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func benchName(b *Benchmark, byProcs bool) string {
	procs := cmp.Or(b.ProcsBase, b.ProcsPR)
	if byProcs && procs != "" {
		return b.Name + "-" + procs
	}
	return b.Name
}

func (r *Report) gateLine() string {
	if r.ToleranceInstr != nil {
		return fmt.Sprintf("instr/op: medians of repeats when their spread is under half the margin, else one-sided Mann-Whitney U; Holm-Bonferroni over %d tests, alpha %v, tolerance %v instr/op + %v%%, %v ns/op",
			r.Tests, r.Alpha, *r.ToleranceInstr, r.TolerancePct, r.ToleranceNs)
	}
	test := "one-sided Mann-Whitney U"
	if r.Paired {
		test = "one-sided Wilcoxon signed-rank on per-round log ratios"
	}
	return fmt.Sprintf("%s, Holm-Bonferroni over %d tests, alpha %v, tolerance %v ns/op and %v%%",
		test, r.Tests, r.Alpha, r.ToleranceNs, r.TolerancePct)
}

// Summary is the one-line outcome.
func (r *Report) Summary() string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Regressions, plural(r.Regressions, "regression", "regressions"))
	if r.AllowMissing {
		add(r.Missing, "missing (allowed)")
	} else {
		add(r.Missing, "missing")
	}
	add(r.New, "new")
	add(r.Inconclusive, "inconclusive")
	add(r.Improved, "improved")
	verdict := "PASS"
	if r.Failed {
		verdict = "FAIL"
	}
	if len(parts) == 0 {
		return verdict + ": no regression"
	}
	if !r.Failed {
		parts = append([]string{"no regression"}, parts...)
	}
	return verdict + ": " + strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (r *Report) listed(status string) []*Benchmark {
	var out []*Benchmark
	for _, b := range r.Benchmarks {
		if b.Status == status {
			out = append(out, b)
		}
	}
	return out
}

// WriteText writes a benchstat-like report.
func (r *Report) WriteText(w io.Writer) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "baseline: %s\npr:       %s\ngate:     %s\n", r.Baseline, r.PR, r.gateLine())
	for _, n := range r.Notes {
		fmt.Fprintf(&sb, "note:     %s\n", n)
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(&sb, "warning:  %s\n", wn)
	}
	pkg := "\x00"
	for _, s := range r.sections() {
		if s.pkg != pkg {
			pkg = s.pkg
			fmt.Fprintf(&sb, "\npkg: %s\n", pkg)
		} else {
			sb.WriteString("\n")
		}
		unit, _ := displayUnit(s.unit)
		tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\tbaseline\tpr\tvs base\tmargin\tp(1-sided)\tp(adj)\tverdict\n", unit)
		for _, row := range s.rows {
			m := row.m
			base, pr := cells(m)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				benchName(row.b, r.MatchedByProcs), base, pr,
				vsBase(m, r.Alpha), fmtMargin(m), fmtP(m.PRaw), fmtP(m.PAdjusted), verdictText(m))
		}
		tw.Flush()
	}
	if miss := r.listed(StatusMissing); len(miss) > 0 {
		if r.AllowMissing {
			sb.WriteString("\nmissing from PR (allowed by --allow-missing):\n")
		} else {
			sb.WriteString("\nmissing from PR (fails the gate; --allow-missing accepts it):\n")
		}
		for _, b := range miss {
			fmt.Fprintf(&sb, "  %s %s\n", b.Pkg, benchName(b, r.MatchedByProcs))
		}
	}
	if nw := r.listed(StatusNew); len(nw) > 0 {
		sb.WriteString("\nnew in PR (not compared):\n")
		for _, b := range nw {
			fmt.Fprintf(&sb, "  %s %s\n", b.Pkg, benchName(b, r.MatchedByProcs))
		}
	}
	fmt.Fprintf(&sb, "\n%s\n", r.Summary())
	_, err := io.WriteString(w, sb.String())
	return err
}

// WriteMarkdown writes a table for a PR comment or $GITHUB_STEP_SUMMARY.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var sb strings.Builder
	icon := "✅"
	if r.Failed {
		icon = "❌"
	}
	fmt.Fprintf(&sb, "### %s compare-bench: %s\n\n", icon, r.Summary())
	fmt.Fprintf(&sb, "Gate: %s. Baseline `%s`, PR `%s`.\n", r.gateLine(), r.Baseline, r.PR)
	for _, n := range r.Notes {
		fmt.Fprintf(&sb, "\n> **Note:** %s\n", mdEscape(n))
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(&sb, "\n> **Warning:** %s\n", mdEscape(wn))
	}
	if secs := r.sections(); len(secs) > 0 {
		sb.WriteString("\n| Package | Benchmark | Unit | Baseline | PR | vs base | p (1-sided) | p (adj) | Verdict |\n")
		sb.WriteString("|---|---|---|---:|---:|---:|---:|---:|---|\n")
		for _, s := range secs {
			unit, _ := displayUnit(s.unit)
			for _, row := range s.rows {
				m := row.m
				v := verdictText(m)
				if m.Verdict == VerdictRegression {
					v = "**" + v + "**"
				}
				base, pr := cells(m)
				fmt.Fprintf(&sb, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n",
					s.pkg, mdEscape(benchName(row.b, r.MatchedByProcs)), unit,
					base, pr, vsBase(m, r.Alpha),
					fmtP(m.PRaw), fmtP(m.PAdjusted), v)
			}
		}
	}
	if miss := r.listed(StatusMissing); len(miss) > 0 {
		if r.AllowMissing {
			sb.WriteString("\n**Missing from PR** (allowed by `--allow-missing`):\n\n")
		} else {
			sb.WriteString("\n**Missing from PR** (fails the gate; `--allow-missing` accepts it):\n\n")
		}
		for _, b := range miss {
			fmt.Fprintf(&sb, "- `%s` %s\n", b.Pkg, mdEscape(benchName(b, r.MatchedByProcs)))
		}
	}
	if nw := r.listed(StatusNew); len(nw) > 0 {
		sb.WriteString("\n**New in PR** (not compared):\n\n")
		for _, b := range nw {
			fmt.Fprintf(&sb, "- `%s` %s\n", b.Pkg, mdEscape(benchName(b, r.MatchedByProcs)))
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// mdEscape keeps benchmark names like "Sum/a|b" from breaking a table row.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
