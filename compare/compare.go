// Package compare gates Go benchmark results: a one-sided Mann-Whitney U test per benchmark and metric, Holm-Bonferroni corrected so that the whole gate fails a no-change PR at most alpha of the time.
package compare

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchunit"
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

// Direction says which way a unit is better.
type Direction string

// Directions of a metric; DirIgnore turns gating off for a unit.
const (
	DirLower  Direction = "lower"
	DirHigher Direction = "higher"
	DirIgnore Direction = "ignore"
)

// ParseDirection parses the value of --metric UNIT=DIR.
func ParseDirection(s string) (Direction, error) {
	switch d := Direction(s); d {
	case DirLower, DirHigher, DirIgnore:
		return d, nil
	}
	return "", fmt.Errorf("direction must be higher, lower or ignore, got %q", s)
}

// NormalizeUnit writes a unit the way results carry it: benchfmt tidies
// units (MB/s becomes B/s, p99-ns becomes p99-sec) and ns/op stays ns/op.
func NormalizeUnit(unit string) string {
	_, u := benchunit.Tidy(1, unit)
	if u == "sec/op" {
		return UnitTime
	}
	return u
}

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
	// Paired judges each metric with a one-sided Wilcoxon signed-rank
	// test on the per-round log ratios (the i-th PR sample against the
	// i-th baseline sample, as run and aa write them: one round each)
	// instead of the Mann-Whitney U test. Metrics whose sides have
	// different sample counts fall back to the U test.
	Paired bool
	// ToleranceInstr is the margin of instr/op, in instructions per op;
	// TolerancePct of the baseline is added to it.
	ToleranceInstr float64
	// Metrics sets the direction of units (keys as NormalizeUnit writes
	// them), overriding the standard ones. A unit with no known
	// direction is reported, not gated.
	Metrics map[string]Direction
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{Alpha: 0.05, ToleranceInstr: 0.5}
}

// Direction returns the direction of unit and whether it is known: from
// Metrics, else the standard units (ns/op, instr/op, B/op, allocs/op,
// sec/* and ns/* lower is better; */s, such as MB/s, higher is better).
func (o Options) Direction(unit string) (Direction, bool) {
	if d, ok := o.Metrics[unit]; ok {
		return d, true
	}
	switch {
	case unit == UnitTime, unit == UnitInstr, unit == UnitBytes, unit == UnitAllocs,
		strings.HasPrefix(unit, "sec/"), strings.HasPrefix(unit, "ns/"):
		return DirLower, true
	case strings.HasSuffix(unit, "/s"):
		return DirHigher, true
	}
	return "", false
}

func (o Options) validate() error {
	switch {
	case !(o.Alpha > 0 && o.Alpha < 1):
		return fmt.Errorf("alpha must be in (0, 1), got %v", o.Alpha)
	case o.ToleranceNs < 0 || math.IsNaN(o.ToleranceNs) || math.IsInf(o.ToleranceNs, 0):
		return fmt.Errorf("tolerance-ns must be a non-negative number, got %v", o.ToleranceNs)
	case o.TolerancePct < 0 || math.IsNaN(o.TolerancePct) || math.IsInf(o.TolerancePct, 0):
		return fmt.Errorf("tolerance-pct must be a non-negative number, got %v", o.TolerancePct)
	case o.ToleranceInstr < 0 || math.IsNaN(o.ToleranceInstr) || math.IsInf(o.ToleranceInstr, 0):
		return fmt.Errorf("tolerance-instr must be a non-negative number, got %v", o.ToleranceInstr)
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
	// ToleranceInstr is only set when some benchmark has instr/op.
	ToleranceInstr *float64 `json:"tolerance_instr,omitempty"`
	AllowMissing   bool     `json:"allow_missing"`
	Filter         string   `json:"filter,omitempty"`
	Paired         bool     `json:"paired"`

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
	// Direction is lower or higher (is better) for a gated unit, ignore
	// when --metric says so, "" when unknown.
	Direction Direction `json:"direction,omitempty"`
	Base      Side      `json:"baseline"`
	PR        Side      `json:"pr"`
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
	CountNeeded int `json:"count_needed,omitempty"`
	// LogRatios are the per-round log ratios (positive is worse) that
	// the paired test ranked; W its statistic.
	LogRatios []float64 `json:"paired_log_ratios,omitempty"`
	W         *float64  `json:"w,omitempty"`
	// Spread is, for instr/op, the larger of the two sides' ranges
	// (max - min over the repeats).
	Spread  *float64 `json:"spread,omitempty"`
	Verdict string   `json:"verdict"`
	Reason  string   `json:"reason"`
}

// turned returns both sides' values turned so that larger is worse
// (negated for higher-is-better units): what the tests compare.
func (m *Metric) turned() (base, pr []float64) {
	return worse(m.Base.Values, m.Direction), worse(m.PR.Values, m.Direction)
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
		Paired:       opts.Paired,
		BaselineCPUs: nonNil(base.cpus),
		PRCPUs:       nonNil(head.cpus),
		Notes:        []string{},
		Warnings:     []string{},
	}
	if opts.Paired {
		rep.Test = "one-sided Wilcoxon signed-rank test on the per-round log ratios PR/baseline (exact), minus the margin as a log ratio; the U test where the sides have different sample counts"
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

	unknown := map[string]bool{}
	var unknownList []string
	for _, b := range rep.Benchmarks {
		for _, m := range b.Metrics {
			if m.Unit == UnitInstr && rep.ToleranceInstr == nil {
				t := opts.ToleranceInstr
				rep.ToleranceInstr = &t
			}
			if _, known := opts.Direction(m.Unit); !known && !unknown[m.Unit] {
				unknown[m.Unit] = true
				unknownList = append(unknownList, m.Unit)
			}
		}
	}
	if len(unknownList) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("not gated, direction unknown: %s (say --metric UNIT=higher|lower|ignore)", strings.Join(unknownList, ", ")))
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

// worse returns the values turned so that larger is worse.
func worse(v []float64, d Direction) []float64 {
	out := slices.Clone(v)
	if d == DirHigher {
		for i := range out {
			out[i] = -out[i]
		}
	}
	return out
}

func spread(v []float64) float64 {
	return slices.Max(v) - slices.Min(v)
}

// worseWord says what a worse value of unit is, for reasons.
func worseWord(unit string, d Direction) string {
	switch {
	case unit == UnitTime:
		return "slower"
	case unit == UnitInstr:
		return "more instructions"
	case d == DirHigher:
		return "lower (higher is better)"
	}
	return "higher (lower is better)"
}

// newMetric fills in everything that does not depend on the other metrics;
// decide then runs the corrected family.
func newMetric(unit string, base, pr []float64, opts Options) *Metric {
	m := &Metric{Unit: unit, Base: summarize(base), PR: summarize(pr)}
	if m.Base.Median != 0 {
		d := (m.PR.Median - m.Base.Median) / m.Base.Median * 100
		m.DeltaPct = &d
	}
	thr := benchmath.Thresholds{CompareAlpha: opts.Alpha}
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(m.Base.Values, &thr), benchmath.NewSample(m.PR.Values, &thr))
	m.PTwoSided = c.P

	dir, known := opts.Direction(unit)
	m.Direction = dir
	switch {
	case !known:
		m.Verdict = VerdictInfo
		m.Reason = "unknown direction: reported, not gated (--metric " + unit + "=higher|lower|ignore)"
		return m
	case dir == DirIgnore:
		m.Verdict = VerdictInfo
		m.Reason = "ignored (--metric " + unit + "=ignore)"
		return m
	}
	m.Gated = true
	mb, mp := m.turned()
	scale := math.Abs(m.Base.Median)
	switch unit {
	case UnitTime:
		m.Margin = math.Max(opts.ToleranceNs, opts.TolerancePct/100*scale)
	case UnitInstr:
		m.Margin = opts.ToleranceInstr + opts.TolerancePct/100*scale
	case UnitAllocs:
		// Allocations are counted, not timed: any steady increase is
		// a code change, so no tolerance applies.
		m.Margin = 0
	default:
		m.Margin = opts.TolerancePct / 100 * scale
	}

	nb, np := m.Base.N, m.PR.N
	bw, pw := median(mb), median(mp)
	if unit == UnitInstr && nb >= 2 && np >= 2 {
		// Instruction counts repeat up to a small spread (README,
		// "instruction mode"): when it is under half the margin on
		// both sides, noise cannot carry a difference across the
		// margin, and the medians decide without a test.
		sp := math.Max(spread(mb), spread(mp))
		m.Spread = &sp
		if 2*sp < m.Margin || sp == 0 {
			m.Deterministic = true
			d := pw - bw
			switch {
			case d > m.Margin:
				m.Verdict = VerdictRegression
				m.Reason = fmt.Sprintf("%+.3g instr/op, beyond the margin %.3g (spread of repeats %.3g)", d, m.Margin, sp)
			case d < -m.Margin:
				m.Verdict = VerdictImproved
				m.Reason = fmt.Sprintf("%+.3g instr/op (spread of repeats %.3g)", d, sp)
			default:
				m.Verdict = VerdictOK
				m.Reason = fmt.Sprintf("%+.3g instr/op, within the margin %.3g (spread of repeats %.3g)", d, m.Margin, sp)
			}
			return m
		}
	}
	if unit != UnitTime && unit != UnitInstr && nb >= 2 && np >= 2 && allEqual(m.Base.Values) && allEqual(m.PR.Values) {
		// Memory metrics are usually the same in every run; then one
		// look tells, and a rank test on constant samples would only
		// say "need more samples".
		m.Deterministic = true
		b, p := m.Base.Values[0], m.PR.Values[0]
		switch {
		case pw > bw+m.Margin:
			m.Verdict = VerdictRegression
			if dir == DirHigher {
				m.Reason = fmt.Sprintf("deterministic decrease %v → %v (higher is better)", b, p)
			} else {
				m.Reason = fmt.Sprintf("deterministic increase %v → %v", b, p)
			}
		case pw < bw:
			m.Verdict = VerdictImproved
			if dir == DirHigher {
				m.Reason = fmt.Sprintf("deterministic increase %v → %v", b, p)
			} else {
				m.Reason = fmt.Sprintf("deterministic decrease %v → %v", b, p)
			}
		case pw > bw:
			m.Verdict = VerdictOK
			m.Reason = fmt.Sprintf("deterministic change %v → %v within margin %v", b, p, m.Margin)
		default:
			m.Verdict = VerdictOK
			m.Reason = "unchanged"
		}
		return m
	}
	if nb < minSamples || np < minSamples {
		m.Verdict = VerdictInconclusive
		m.Reason = fmt.Sprintf("too few samples (%d baseline, %d PR; need ≥ %d each)", nb, np, minSamples)
		if m.Spread != nil {
			m.Reason = fmt.Sprintf("spread of repeats %.3g is not under half the margin %.3g, and too few repeats for the U test (%d baseline, %d PR; need ≥ %d each)", *m.Spread, m.Margin, nb, np, minSamples)
		}
		return m
	}
	if opts.Paired && nb == np {
		m.LogRatios = logRatios(base, pr, dir)
		if m.LogRatios == nil {
			m.LogRatios = []float64{}
		}
		shift := logMargin(m.Margin, scale)
		d := make([]float64, len(m.LogRatios))
		for i, r := range m.LogRatios {
			d[i] = r - shift
		}
		t := wilcoxonGreater(d)
		m.Tested = true
		m.W, m.PRaw = &t.W, &t.P
		m.Method = "paired-exact"
		return m
	}
	shifted := make([]float64, np)
	for i, v := range mp {
		shifted[i] = v - m.Margin
	}
	t := mannWhitneyGreater(shifted, mb)
	m.Tested = true
	m.U, m.PRaw = &t.U, &t.P
	m.Method = "exact"
	if !t.Exact {
		m.Method = "normal"
	}
	return m
}

// median of unsorted values.
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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
		if m.LogRatios != nil {
			neg := make([]float64, len(m.LogRatios))
			for j, r := range m.LogRatios {
				neg[j] = -r
			}
			rawFaster[i] = wilcoxonGreater(neg).P
			continue
		}
		mb, mp := m.turned()
		rawFaster[i] = mannWhitneyGreater(mb, mp).P
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
			w := worseWord(m.Unit, m.Direction)
			if m.Margin > 0 {
				m.Reason = fmt.Sprintf("%s by more than the margin %.4g %s (p=%.3g adjusted)", w, m.Margin, m.Unit, a)
			} else {
				m.Reason = fmt.Sprintf("%s (p=%.3g adjusted)", w, a)
			}
		case m.LogRatios != nil && minSignedRankP(len(m.LogRatios)) > firstStep:
			m.Verdict = VerdictInconclusive
			m.CountNeeded = pairsNeeded(firstStep)
			m.Reason = fmt.Sprintf("%d pairs cannot reach p ≤ %.3g (alpha / %d tests)", len(m.LogRatios), firstStep, len(family))
		case m.LogRatios == nil && minOneSidedP(m.Base.N, m.PR.N) > firstStep:
			m.Verdict = VerdictInconclusive
			m.CountNeeded = countNeeded(firstStep)
			m.Reason = fmt.Sprintf("%d+%d samples cannot reach p ≤ %.3g (alpha / %d tests)", m.Base.N, m.PR.N, firstStep, len(family))
		case f <= opts.Alpha:
			m.Verdict = VerdictImproved
			if m.Unit == UnitTime {
				m.Reason = fmt.Sprintf("faster (p=%.3g adjusted; informational)", f)
			} else {
				m.Reason = fmt.Sprintf("better (p=%.3g adjusted; informational)", f)
			}
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
