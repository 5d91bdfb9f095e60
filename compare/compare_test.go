package compare

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// bench describes one benchmark's samples for benchText.
type bench struct {
	name   string
	ns     []float64
	bytes  []int // nil: no -benchmem columns
	allocs []int
}

func benchText(cpu string, procs int, bs ...bench) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "goos: linux\ngoarch: amd64\npkg: example.com/m\ncpu: %s\n", cpu)
	suffix := ""
	if procs > 1 {
		suffix = fmt.Sprintf("-%d", procs)
	}
	for _, b := range bs {
		for i, ns := range b.ns {
			fmt.Fprintf(&sb, "Benchmark%s%s\t1000000\t%v ns/op", b.name, suffix, ns)
			if b.bytes != nil {
				fmt.Fprintf(&sb, "\t%d B/op\t%d allocs/op", b.bytes[i%len(b.bytes)], b.allocs[i%len(b.allocs)])
			}
			sb.WriteString("\n")
		}
	}
	sb.WriteString("PASS\n")
	return sb.String()
}

// around returns n samples at v, spread by ±spread in a fixed pattern.
func around(v, spread float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v + spread*float64((i*7)%n-n/2)/float64(n)
	}
	return out
}

func mustCompare(t *testing.T, base, pr string, opts Options) *Report {
	t.Helper()
	rep, err := Compare(Input{"base", []byte(base)}, Input{"pr", []byte(pr)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// verdicts maps "name unit" to the verdict, the shape most tests check.
func verdicts(rep *Report) map[string]string {
	out := map[string]string{}
	for _, b := range rep.Benchmarks {
		if len(b.Metrics) == 0 {
			out[b.Name] = b.Status
		}
		for _, m := range b.Metrics {
			out[b.Name+" "+m.Unit] = m.Verdict
		}
	}
	return out
}

func withTol(ns, pct float64) Options {
	o := DefaultOptions()
	o.ToleranceNs, o.TolerancePct = ns, pct
	return o
}

func TestToleranceIsANonInferiorityMargin(t *testing.T) {
	base := benchText("X", 2, bench{name: "Add", ns: around(2.00, 0.004, 10)})
	plus := func(d float64) string {
		return benchText("X", 2, bench{name: "Add", ns: around(2.00+d, 0.004, 10)})
	}
	for _, tc := range []struct {
		name  string
		delta float64
		opts  Options
		want  string
	}{
		{"+0.05ns, no tolerance", 0.05, withTol(0, 0), VerdictRegression},
		{"+0.05ns inside 0.1ns", 0.05, withTol(0.1, 0), VerdictOK},
		{"+0.3ns outside 0.1ns", 0.3, withTol(0.1, 0), VerdictRegression},
		{"+0.05ns inside 5% (0.1ns)", 0.05, withTol(0, 5), VerdictOK},
		{"+0.15ns: outside 0.1ns but inside 10%: both must be exceeded", 0.15, withTol(0.1, 10), VerdictOK},
		{"+0.3ns outside 0.1ns and 10%", 0.3, withTol(0.1, 10), VerdictRegression},
		{"unchanged", 0, withTol(0, 0), VerdictOK},
		{"faster", -0.3, withTol(0, 0), VerdictImproved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := mustCompare(t, base, plus(tc.delta), tc.opts)
			if d := cmp.Diff(map[string]string{"Add ns/op": tc.want}, verdicts(rep)); d != "" {
				t.Errorf("verdicts (-want +got):\n%s", d)
			}
			if got, want := rep.Failed, tc.want == VerdictRegression; got != want {
				t.Errorf("Failed = %v, want %v", got, want)
			}
		})
	}
}

func TestMemoryMetrics(t *testing.T) {
	ns := around(100, 1, 10)
	base := benchText("X", 2, bench{"Enc", ns, []int{512}, []int{7}})
	for _, tc := range []struct {
		name          string
		bytes, allocs []int
		opts          Options
		want          map[string]string
	}{
		{"one more allocation", []int{512}, []int{8}, withTol(0, 50),
			map[string]string{"Enc ns/op": VerdictOK, "Enc B/op": VerdictOK, "Enc allocs/op": VerdictRegression}},
		{"more bytes", []int{600}, []int{7}, withTol(0, 0),
			map[string]string{"Enc ns/op": VerdictOK, "Enc B/op": VerdictRegression, "Enc allocs/op": VerdictOK}},
		{"more bytes within tolerance-pct", []int{520}, []int{7}, withTol(0, 5),
			map[string]string{"Enc ns/op": VerdictOK, "Enc B/op": VerdictOK, "Enc allocs/op": VerdictOK}},
		{"fewer allocations", []int{256}, []int{3}, withTol(0, 0),
			map[string]string{"Enc ns/op": VerdictOK, "Enc B/op": VerdictImproved, "Enc allocs/op": VerdictImproved}},
		// Amortized growth makes B/op vary between runs: then the
		// rank test decides, and a consistent shift still shows.
		{"varying bytes, shifted", []int{700, 710, 705, 715, 702}, []int{7}, withTol(0, 0),
			map[string]string{"Enc ns/op": VerdictOK, "Enc B/op": VerdictRegression, "Enc allocs/op": VerdictOK}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := mustCompare(t, base, benchText("X", 2, bench{"Enc", ns, tc.bytes, tc.allocs}), tc.opts)
			if d := cmp.Diff(tc.want, verdicts(rep)); d != "" {
				t.Errorf("verdicts (-want +got):\n%s", d)
			}
		})
	}
}

func TestMissingAndNew(t *testing.T) {
	ns := around(50, 0.5, 8)
	base := benchText("X", 2, bench{name: "A", ns: ns}, bench{name: "B", ns: ns})
	pr := benchText("X", 2, bench{name: "A", ns: ns}, bench{name: "C", ns: ns})
	rep := mustCompare(t, base, pr, DefaultOptions())
	want := map[string]string{"A ns/op": VerdictOK, "B": StatusMissing, "C": StatusNew}
	if d := cmp.Diff(want, verdicts(rep)); d != "" {
		t.Errorf("verdicts (-want +got):\n%s", d)
	}
	if !rep.Failed {
		t.Error("a missing benchmark did not fail the gate")
	}
	opts := DefaultOptions()
	opts.AllowMissing = true
	if rep := mustCompare(t, base, pr, opts); rep.Failed {
		t.Error("--allow-missing still failed the gate")
	}
}

func TestMatchesAcrossGOMAXPROCSAndCPUs(t *testing.T) {
	base := benchText("Intel", 2, bench{name: "A", ns: around(50, 0.5, 8)})
	pr := benchText("AMD", 8, bench{name: "A", ns: around(50, 0.5, 8)})
	rep := mustCompare(t, base, pr, DefaultOptions())
	if d := cmp.Diff(map[string]string{"A ns/op": VerdictOK}, verdicts(rep)); d != "" {
		t.Errorf("verdicts (-want +got):\n%s", d)
	}
	if !rep.CPUsDiffer {
		t.Error("CPUsDiffer not set for Intel vs AMD")
	}
	if b := rep.Benchmarks[0]; b.ProcsBase != "2" || b.ProcsPR != "8" {
		t.Errorf("GOMAXPROCS = %q, %q; want 2, 8", b.ProcsBase, b.ProcsPR)
	}
}

// With many benchmarks, one that would pass alone at alpha 0.05 must
// survive the correction, and a sample too small for the corrected level
// must say how many samples it needs.
func TestCorrectionAcrossFamily(t *testing.T) {
	var baseB, prB []bench
	for i := range 40 {
		baseB = append(baseB, bench{name: fmt.Sprintf("B%02d", i), ns: around(100, 2, 5)})
		prB = append(prB, bench{name: fmt.Sprintf("B%02d", i), ns: around(100, 2, 5)})
	}
	// B00 completely separated: p = 1/252 ≈ 0.004 < 0.05, but > 0.05/40.
	prB[0].ns = around(110, 2, 5)
	rep := mustCompare(t, benchText("X", 2, baseB...), benchText("X", 2, prB...), DefaultOptions())
	m := rep.Benchmarks[0].Metrics[0]
	if m.Verdict != VerdictInconclusive || m.CountNeeded != 6 {
		t.Errorf("B00: verdict %q, count needed %d; want inconclusive, 6 (p raw %v, adjusted %v)", m.Verdict, m.CountNeeded, *m.PRaw, *m.PAdjusted)
	}
	if rep.Tests != 40 || rep.Failed {
		t.Errorf("tests = %d, failed = %v; want 40, false", rep.Tests, rep.Failed)
	}
	// Alone, the same data is a regression.
	rep = mustCompare(t, benchText("X", 2, baseB[0]), benchText("X", 2, prB[0]), DefaultOptions())
	if !rep.Failed {
		t.Error("a lone separated benchmark did not fail")
	}
}

func TestTooFewSamples(t *testing.T) {
	base := benchText("X", 2, bench{name: "A", ns: []float64{10, 11, 12}})
	pr := benchText("X", 2, bench{name: "A", ns: []float64{20, 21, 22}})
	rep := mustCompare(t, base, pr, DefaultOptions())
	m := rep.Benchmarks[0].Metrics[0]
	if m.Verdict != VerdictInconclusive || m.CountNeeded != 4 || rep.Failed {
		t.Errorf("verdict %q, count needed %d, failed %v; want inconclusive, 4, false", m.Verdict, m.CountNeeded, rep.Failed)
	}
}

func TestNoResultsIsAnError(t *testing.T) {
	good := benchText("X", 2, bench{name: "A", ns: around(50, 0.5, 8)})
	for name, data := range map[string]string{
		"empty":        "",
		"garbage":      "hello\nworld\n\x00\x01\nBenchmarkBroken NaN\n",
		"json no test": `{"hello": "world"}` + "\n",
		"json no bench": `{"Action":"output","Package":"p","Output":"PASS\n"}` + "\n" +
			`{"Action":"pass","Package":"p"}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Compare(Input{"base", []byte(good)}, Input{"pr", []byte(data)}, DefaultOptions())
			if !errors.Is(err, ErrNoResults) {
				t.Errorf("err = %v, want ErrNoResults", err)
			}
		})
	}
	t.Run("filtered out", func(t *testing.T) {
		opts := DefaultOptions()
		opts.Filter = ".name:Nothing"
		if _, err := Compare(Input{"base", []byte(good)}, Input{"pr", []byte(good)}, opts); !errors.Is(err, ErrNoResults) {
			t.Errorf("err = %v, want ErrNoResults", err)
		}
	})
	t.Run("empty baseline allowed for the runner", func(t *testing.T) {
		opts := DefaultOptions()
		opts.AllowEmptyBaseline = true
		rep, err := Compare(Input{"base", nil}, Input{"pr", []byte(good)}, opts)
		if err != nil || rep.New != 1 || rep.Failed {
			t.Errorf("rep = %+v, err = %v; want one new benchmark, no failure", rep, err)
		}
	})
}

func TestJSONSplitEvents(t *testing.T) {
	text := benchText("X", 2, bench{name: "A", ns: around(50, 0.5, 6)})
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	for _, line := range strings.SplitAfter(text, "\n") {
		// Split every line in three events, mid-field, with an event of
		// another package between the pieces.
		third := len(line) / 3
		for _, part := range []string{line[:third], line[third : 2*third], line[2*third:]} {
			if err := enc.Encode(testEvent{Action: "output", Package: "example.com/m", Output: part}); err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(testEvent{Action: "output", Package: "example.com/other", Output: "noise "}); err != nil {
				t.Fatal(err)
			}
		}
	}
	fromJSON := mustCompare(t, text, sb.String(), DefaultOptions())
	fromText := mustCompare(t, text, text, DefaultOptions())
	fromJSON.PR, fromText.PR = "", ""
	if d := cmp.Diff(fromText, fromJSON); d != "" {
		t.Errorf("JSON input differs from text input (-text +json):\n%s", d)
	}
}

// The crafted go test -json file must give the same numbers as the text it
// was made from.
func TestJSONFileMatchesText(t *testing.T) {
	read := func(name string) Input {
		data, err := os.ReadFile(filepath.Join("testdata", "in", name))
		if err != nil {
			t.Fatal(err)
		}
		return Input{Name: "x", Data: data}
	}
	base := read("nochange.base.txt")
	fromText, err := Compare(base, read("regression.pr.txt"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Compare(base, read("regression.pr.json"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	// The JSON file has one more package, example.com/other, which is new.
	var app []*Benchmark
	for _, b := range fromJSON.Benchmarks {
		if b.Pkg == "example.com/app" {
			app = append(app, b)
		}
	}
	if d := cmp.Diff(fromText.Benchmarks, app); d != "" {
		t.Errorf("JSON input differs from text input (-text +json):\n%s", d)
	}
	if fromJSON.New != 1 || fromJSON.Regressions != 1 {
		t.Errorf("new = %d, regressions = %d; want 1, 1", fromJSON.New, fromJSON.Regressions)
	}
}

func TestBadOptions(t *testing.T) {
	good := benchText("X", 2, bench{name: "A", ns: around(50, 0.5, 8)})
	for name, o := range map[string]Options{
		"alpha 0":      {Alpha: 0},
		"alpha 1":      {Alpha: 1},
		"negative ns":  {Alpha: 0.05, ToleranceNs: -1},
		"negative pct": {Alpha: 0.05, TolerancePct: -1},
		"bad filter":   {Alpha: 0.05, Filter: "(unclosed"},
	} {
		if _, err := Compare(Input{"a", []byte(good)}, Input{"b", []byte(good)}, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDirection(t *testing.T) {
	opts := DefaultOptions()
	opts.Metrics = map[string]Direction{NormalizeUnit("p99-ns"): DirLower, NormalizeUnit("MB/s"): DirIgnore}
	for unit, want := range map[string]Direction{
		"ns/op": DirLower, "instr/op": DirLower, "B/op": DirLower, "allocs/op": DirLower,
		"sec/key": DirLower, "ns/msg": DirLower, "B/s": DirIgnore, "ops/s": DirHigher,
		"p99-sec": DirLower, "hits": "",
	} {
		got, known := opts.Direction(unit)
		if got != want || known != (want != "") {
			t.Errorf("Direction(%q) = %q, %v; want %q", unit, got, known, want)
		}
	}
	if u := NormalizeUnit("ns/op"); u != UnitTime {
		t.Errorf("NormalizeUnit(ns/op) = %q", u)
	}
	if _, err := ParseDirection("up"); err == nil {
		t.Error("ParseDirection(up): no error")
	}
}
