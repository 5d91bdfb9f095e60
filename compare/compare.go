// Package compare gates Go benchmark results: a one-sided Mann-Whitney U test per benchmark and metric, Holm-Bonferroni corrected so that the whole gate fails a no-change PR at most alpha of the time.
package compare

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
)

// minSamples is the fewest samples per side the gate decides on. The exact
// one-sided test could reject at n=3+3 (p ≥ 1/20) only for alpha ≥ 0.05
// with a single benchmark, and medians of three are at the mercy of one
// outlier.
const minSamples = 4

// confidence is the level of the medians' confidence intervals.
const confidence = 0.95

// Metric names, as they appear in Report.
const (
	UnitTime   = "ns/op"
	UnitBytes  = "B/op"
	UnitAllocs = "allocs/op"
)

// Verdicts of one metric of one benchmark.
const (
	VerdictRegression   = "regression"
	VerdictOK           = "ok"
	VerdictImproved     = "improved"
	VerdictInconclusive = "inconclusive"
	VerdictInfo         = "info" // a metric the gate does not judge
)

// Statuses of one benchmark.
const (
	StatusRegression   = "regression"
	StatusOK           = "ok"
	StatusImproved     = "improved"
	StatusInconclusive = "inconclusive"
	StatusMissing      = "missing"
	StatusNew          = "new"
)

// Options configure a comparison. The zero value is not useful: use
// DefaultOptions and change what you need.
type Options struct {
	// Alpha is the family-wise error rate: the chance that a PR that
	// changed nothing fails the gate.
	Alpha float64
	// ToleranceNs and TolerancePct are non-inferiority margins for ns/op:
	// a slowdown only counts when it is significantly larger than both.
	// TolerancePct also applies to B/op.
	ToleranceNs  float64
	TolerancePct float64
	// AllowMissing lets benchmarks that are in the baseline but not in the
	// PR pass.
	AllowMissing bool
	// AllowEmptyBaseline accepts a baseline without results (every PR
	// benchmark is then new). The runner sets it: a base commit may
	// predate the benchmarks.
	AllowEmptyBaseline bool
	// Filter is a benchproc filter expression; "" means everything.
	Filter string
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{Alpha: 0.05}
}

func (o Options) validate() error {
	switch {
	case !(o.Alpha > 0 && o.Alpha < 1):
		return fmt.Errorf("alpha must be in (0, 1), got %v", o.Alpha)
	case o.ToleranceNs < 0 || math.IsNaN(o.ToleranceNs) || math.IsInf(o.ToleranceNs, 0):
		return fmt.Errorf("tolerance-ns must be a non-negative number, got %v", o.ToleranceNs)
	case o.TolerancePct < 0 || math.IsNaN(o.TolerancePct) || math.IsInf(o.TolerancePct, 0):
		return fmt.Errorf("tolerance-pct must be a non-negative number, got %v", o.TolerancePct)
	}
	return nil
}

// Report is the full outcome of a comparison, with every number the verdict
// used.
type Report struct {
	Baseline     string  `json:"baseline"`
	PR           string  `json:"pr"`
	Alpha        float64 `json:"alpha"`
	Correction   string  `json:"correction"`
	Test         string  `json:"test"`
	Tests        int     `json:"tests"` // size of the corrected family
	ToleranceNs  float64 `json:"tolerance_ns"`
	TolerancePct float64 `json:"tolerance_pct"`
	AllowMissing bool    `json:"allow_missing"`
	Filter       string  `json:"filter,omitempty"`

	BaselineCPUs []string `json:"baseline_cpus"`
	PRCPUs       []string `json:"pr_cpus"`
	CPUsDiffer   bool     `json:"cpus_differ"`
	// MatchedByProcs is set when some benchmark ran at several GOMAXPROCS
	// in one input (go test -cpu 1,2,4): the suffix is then part of the
	// identity instead of being ignored.
	MatchedByProcs bool     `json:"matched_by_procs"`
	Notes          []string `json:"notes"`
	Warnings       []string `json:"warnings"`

	Benchmarks []*Benchmark `json:"benchmarks"`

	Regressions  int  `json:"regressions"`
	Missing      int  `json:"missing"`
	New          int  `json:"new"`
	Inconclusive int  `json:"inconclusive"`
	Improved     int  `json:"improved"`
	Failed       bool `json:"failed"`
}

// Benchmark is one benchmark's comparison.
type Benchmark struct {
	Pkg        string    `json:"pkg"`
	Name       string    `json:"name"`
	ProcsBase  string    `json:"gomaxprocs_baseline,omitempty"`
	ProcsPR    string    `json:"gomaxprocs_pr,omitempty"`
	Status     string    `json:"status"`
	Metrics    []*Metric `json:"metrics"`
	OnlyInBase []string  `json:"units_only_in_baseline,omitempty"`
	OnlyInPR   []string  `json:"units_only_in_pr,omitempty"`
}

// Side summarizes one input's samples of a metric.
type Side struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	// CILo and CIHi bound the median's confidence interval; null when
	// there are too few samples for one (JSON has no infinity).
	CILo       *float64  `json:"ci_lo"`
	CIHi       *float64  `json:"ci_hi"`
	Confidence float64   `json:"ci_confidence"`
	Values     []float64 `json:"values"`
}

// Metric is one unit of one benchmark, compared.
type Metric struct {
	Unit  string `json:"unit"`
	Gated bool   `json:"gated"`
	Base  Side   `json:"baseline"`
	PR    Side   `json:"pr"`
	// DeltaPct is the change of the median, in percent of the baseline;
	// null when the baseline median is 0.
	DeltaPct *float64 `json:"delta_pct"`
	// PTwoSided is benchmath's two-sided U test (what benchstat shows).
	PTwoSided float64 `json:"p_two_sided"`
	// Margin is the non-inferiority margin subtracted from the PR samples
	// before the one-sided test, in Unit.
	Margin float64 `json:"margin"`
	// Deterministic is set when each side's samples are all equal, so
	// the metric was judged by comparing the two values.
	Deterministic bool `json:"deterministic"`
	// Tested is set when the metric is in the corrected family.
	Tested    bool     `json:"tested"`
	Method    string   `json:"method,omitempty"`
	U         *float64 `json:"u,omitempty"`
	PRaw      *float64 `json:"p_one_sided,omitempty"`
	PAdjusted *float64 `json:"p_adjusted,omitempty"`
	// PFaster is the Holm-adjusted p-value of the reverse one-sided test
	// (PR faster than baseline, no margin). It never fails the gate; it
	// keeps "improved" as trustworthy as "regression".
	PFaster *float64 `json:"p_faster_adjusted,omitempty"`
	// CountNeeded is set for inconclusive metrics: the -count at which
	// the test could reach significance with the family this size.
	CountNeeded int    `json:"count_needed,omitempty"`
	Verdict     string `json:"verdict"`
	Reason      string `json:"reason"`
}

// gated reports whether a unit can fail the gate.
func gated(unit string) bool {
	return unit == UnitTime || unit == UnitBytes || unit == UnitAllocs
}

// Compare judges pr against baseline.
func Compare(baseline, pr Input, opts Options) (*Report, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	k, err := newKeyer(opts.Filter)
	if err != nil {
		return nil, err
	}
	base, err := k.parse(baseline)
	if err != nil {
		if !opts.AllowEmptyBaseline || !isNoResults(err) {
			return nil, err
		}
		base = &parsed{}
	}
	head, err := k.parse(pr)
	if err != nil {
		return nil, err
	}

	rep := &Report{
		Baseline:     baseline.Name,
		PR:           pr.Name,
		Alpha:        opts.Alpha,
		Correction:   "holm-bonferroni",
		Test:         "one-sided Mann-Whitney U (exact conditional distribution for n ≤ 50 per side, else normal approximation), PR samples shifted down by the margin",
		ToleranceNs:  opts.ToleranceNs,
		TolerancePct: opts.TolerancePct,
		AllowMissing: opts.AllowMissing,
		Filter:       opts.Filter,
		BaselineCPUs: nonNil(base.cpus),
		PRCPUs:       nonNil(head.cpus),
		Notes:        []string{},
		Warnings:     []string{},
	}
	for _, w := range base.warnings {
		rep.Warnings = append(rep.Warnings, "baseline: "+w)
	}
	for _, w := range head.warnings {
		rep.Warnings = append(rep.Warnings, "pr: "+w)
	}
	if len(base.cpus) > 0 && len(head.cpus) > 0 && !slices.Equal(sorted(base.cpus), sorted(head.cpus)) {
		rep.CPUsDiffer = true
		rep.Notes = append(rep.Notes, fmt.Sprintf("baseline and PR ran on different CPUs (%q vs %q): a difference may be the machine, not the code", base.cpus, head.cpus))
	}

	rep.MatchedByProcs = multiProcs(base.series) || multiProcs(head.series)
	if rep.MatchedByProcs {
		rep.Notes = append(rep.Notes, "a benchmark ran at several GOMAXPROCS in one input: matching on the -N suffix too")
	}
	pairs := match(base.series, head.series, rep.MatchedByProcs)
	procsDiffer := false
	for _, p := range pairs {
		b := &Benchmark{Metrics: []*Metric{}}
		rep.Benchmarks = append(rep.Benchmarks, b)
		switch {
		case p.pr == nil:
			b.Pkg, b.Name, b.ProcsBase = p.base.pkg, p.base.name, p.base.procs
			b.Status = StatusMissing
			continue
		case p.base == nil:
			b.Pkg, b.Name, b.ProcsPR = p.pr.pkg, p.pr.name, p.pr.procs
			b.Status = StatusNew
			continue
		}
		b.Pkg, b.Name, b.ProcsBase, b.ProcsPR = p.base.pkg, p.base.name, p.base.procs, p.pr.procs
		if b.ProcsBase != b.ProcsPR {
			procsDiffer = true
		}
		for _, unit := range p.base.units {
			if _, ok := p.pr.vals[unit]; !ok {
				b.OnlyInBase = append(b.OnlyInBase, unit)
				continue
			}
			b.Metrics = append(b.Metrics, newMetric(unit, p.base.vals[unit], p.pr.vals[unit], opts))
		}
		for _, unit := range p.pr.units {
			if _, ok := p.base.vals[unit]; !ok {
				b.OnlyInPR = append(b.OnlyInPR, unit)
			}
		}
	}
	if procsDiffer {
		rep.Notes = append(rep.Notes, "GOMAXPROCS differs between baseline and PR for some benchmarks; they were matched by name")
	}

	decide(rep, opts)
	return rep, nil
}

func isNoResults(err error) bool { return errors.Is(err, ErrNoResults) }

func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

type pair struct{ base, pr *series }

// match pairs up benchmarks: baseline order first, then PR-only ones.
func match(base, pr []*series, byProcs bool) []pair {
	type id struct{ pkg, name, procs string }
	key := func(s *series) id {
		if byProcs {
			return id{s.pkg, s.name, s.procs}
		}
		return id{s.pkg, s.name, ""}
	}
	prBy := map[id]*series{}
	for _, s := range pr {
		prBy[key(s)] = s
	}
	var out []pair
	seen := map[id]bool{}
	for _, s := range base {
		seen[key(s)] = true
		out = append(out, pair{s, prBy[key(s)]})
	}
	for _, s := range pr {
		if !seen[key(s)] {
			out = append(out, pair{nil, s})
		}
	}
	return out
}

// multiProcs reports whether one benchmark appears with several GOMAXPROCS.
func multiProcs(ss []*series) bool {
	type id struct{ pkg, name string }
	first := map[id]string{}
	for _, s := range ss {
		k := id{s.pkg, s.name}
		if p, ok := first[k]; ok && p != s.procs {
			return true
		}
		first[k] = s.procs
	}
	return false
}

func summarize(vals []float64) Side {
	v := slices.Clone(vals)
	slices.Sort(v)
	s := benchmath.AssumeNothing.Summary(benchmath.NewSample(v, &benchmath.DefaultThresholds), confidence)
	return Side{N: len(v), Median: s.Center, CILo: finite(s.Lo), CIHi: finite(s.Hi), Confidence: s.Confidence, Values: v}
}

func allEqual(v []float64) bool {
	for _, x := range v {
		if x != v[0] {
			return false
		}
	}
	return true
}

// newMetric fills in everything that does not depend on the other metrics;
// decide then runs the corrected family.
func newMetric(unit string, base, pr []float64, opts Options) *Metric {
	m := &Metric{Unit: unit, Gated: gated(unit), Base: summarize(base), PR: summarize(pr)}
	if m.Base.Median != 0 {
		d := (m.PR.Median - m.Base.Median) / m.Base.Median * 100
		m.DeltaPct = &d
	}
	thr := benchmath.Thresholds{CompareAlpha: opts.Alpha}
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(m.Base.Values, &thr), benchmath.NewSample(m.PR.Values, &thr))
	m.PTwoSided = c.P

	if !m.Gated {
		m.Verdict = VerdictInfo
		m.Reason = "not gated"
		return m
	}
	switch unit {
	case UnitTime:
		m.Margin = math.Max(opts.ToleranceNs, opts.TolerancePct/100*m.Base.Median)
	case UnitBytes:
		m.Margin = opts.TolerancePct / 100 * m.Base.Median
	case UnitAllocs:
		// Allocations are counted, not timed: any steady increase is
		// a code change, so no tolerance applies.
		m.Margin = 0
	}

	nb, np := m.Base.N, m.PR.N
	if unit != UnitTime && nb >= 2 && np >= 2 && allEqual(m.Base.Values) && allEqual(m.PR.Values) {
		// Memory metrics are usually the same in every run; then one
		// look tells, and a rank test on constant samples would only
		// say "need more samples".
		m.Deterministic = true
		b, p := m.Base.Values[0], m.PR.Values[0]
		switch {
		case p > b+m.Margin:
			m.Verdict = VerdictRegression
			m.Reason = fmt.Sprintf("deterministic increase %v → %v", b, p)
		case p < b:
			m.Verdict = VerdictImproved
			m.Reason = fmt.Sprintf("deterministic decrease %v → %v", b, p)
		case p > b:
			m.Verdict = VerdictOK
			m.Reason = fmt.Sprintf("deterministic increase %v → %v within margin %v", b, p, m.Margin)
		default:
			m.Verdict = VerdictOK
			m.Reason = "unchanged"
		}
		return m
	}
	if nb < minSamples || np < minSamples {
		m.Verdict = VerdictInconclusive
		m.Reason = fmt.Sprintf("too few samples (%d baseline, %d PR; need ≥ %d each)", nb, np, minSamples)
		return m
	}
	shifted := make([]float64, np)
	for i, v := range m.PR.Values {
		shifted[i] = v - m.Margin
	}
	t := mannWhitneyGreater(shifted, m.Base.Values)
	m.Tested = true
	m.U, m.PRaw = &t.U, &t.P
	m.Method = "exact"
	if !t.Exact {
		m.Method = "normal"
	}
	return m
}

// decide runs the Holm-Bonferroni step over every tested metric and settles
// the verdicts and the overall outcome.
func decide(rep *Report, opts Options) {
	var family []*Metric
	tooFew := 0
	for _, b := range rep.Benchmarks {
		for _, m := range b.Metrics {
			switch {
			case m.Tested:
				family = append(family, m)
			case m.Verdict == VerdictInconclusive:
				tooFew++
			}
		}
	}
	rep.Tests = len(family)
	raw := make([]float64, len(family))
	rawFaster := make([]float64, len(family))
	for i, m := range family {
		raw[i] = *m.PRaw
		rawFaster[i] = mannWhitneyGreater(m.Base.Values, m.PR.Values).P
	}
	adj := holm(raw)
	adjFaster := holm(rawFaster)
	// The family if every metric had had enough samples: what a rerun
	// with a larger -count would be corrected over.
	need := countNeeded(opts.Alpha / float64(max(1, len(family)+tooFew)))
	firstStep := opts.Alpha / float64(max(1, len(family)))
	for i, m := range family {
		a, f := adj[i], adjFaster[i]
		m.PAdjusted, m.PFaster = &a, &f
		switch {
		case a <= opts.Alpha:
			m.Verdict = VerdictRegression
			if m.Margin > 0 {
				m.Reason = fmt.Sprintf("slower by more than the margin %.4g %s (p=%.3g adjusted)", m.Margin, m.Unit, a)
			} else {
				m.Reason = fmt.Sprintf("slower (p=%.3g adjusted)", a)
			}
		case minOneSidedP(m.Base.N, m.PR.N) > firstStep:
			m.Verdict = VerdictInconclusive
			m.CountNeeded = countNeeded(firstStep)
			m.Reason = fmt.Sprintf("%d+%d samples cannot reach p ≤ %.3g (alpha / %d tests)", m.Base.N, m.PR.N, firstStep, len(family))
		case f <= opts.Alpha:
			m.Verdict = VerdictImproved
			m.Reason = fmt.Sprintf("faster (p=%.3g adjusted; informational)", f)
		default:
			m.Verdict = VerdictOK
			m.Reason = "no significant slowdown beyond the margin"
		}
	}
	for _, b := range rep.Benchmarks {
		for _, m := range b.Metrics {
			if m.Verdict == VerdictInconclusive && m.CountNeeded == 0 {
				m.CountNeeded = need
			}
		}
	}

	for _, b := range rep.Benchmarks {
		if b.Status == "" {
			b.Status = benchStatus(b.Metrics)
		}
		switch b.Status {
		case StatusRegression:
			rep.Regressions++
		case StatusMissing:
			rep.Missing++
		case StatusNew:
			rep.New++
		case StatusInconclusive:
			rep.Inconclusive++
		case StatusImproved:
			rep.Improved++
		}
	}
	rep.Failed = rep.Regressions > 0 || (rep.Missing > 0 && !opts.AllowMissing)
}

// benchStatus folds metric verdicts: any regression wins, then an
// inconclusive time, then any improvement.
func benchStatus(ms []*Metric) string {
	status := StatusOK
	rank := map[string]int{StatusOK: 0, StatusImproved: 1, StatusInconclusive: 2, StatusRegression: 3}
	for _, m := range ms {
		s := ""
		switch m.Verdict {
		case VerdictRegression:
			s = StatusRegression
		case VerdictInconclusive:
			s = StatusInconclusive
		case VerdictImproved:
			s = StatusImproved
		default:
			continue
		}
		if rank[s] > rank[status] {
			status = s
		}
	}
	return status
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.SortFunc(c, cmp.Compare)
	return c
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
