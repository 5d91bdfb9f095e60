package compare

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchproc"
)

// ErrNoResults is returned (wrapped) for an input that holds no benchmark
// result: an empty file, garbage, or a filter that dropped everything. A gate
// that compared nothing must not pass.
var ErrNoResults = errors.New("no benchmark results")

// Input is one side of a comparison: a name for messages and the raw bytes
// of "go test -bench" text output or a "go test -json" stream.
type Input struct {
	Name string
	Data []byte
}

// series is one benchmark's measurements in one input, keyed by unit.
type series struct {
	pkg   string
	name  string // full name without the GOMAXPROCS suffix
	procs string // GOMAXPROCS suffix ("" for none)
	units []string
	vals  map[string][]float64
}

// parsed is everything compare needs from one input.
type parsed struct {
	series   []*series
	cpus     []string // distinct cpu: values in order of appearance
	warnings []string
}

// keyer projects results into benchmark identities. Both inputs must share
// one, because benchproc keys only compare equal within one projection.
type keyer struct {
	filter *benchproc.Filter
	row    *benchproc.Projection
	procs  *benchproc.Projection
}

func newKeyer(filterExpr string) (*keyer, error) {
	if filterExpr == "" {
		filterExpr = "*"
	}
	filter, err := benchproc.NewFilter(filterExpr)
	if err != nil {
		return nil, fmt.Errorf("parsing --filter: %w", err)
	}
	// The identity is the package and full name. Parsing /gomaxprocs in the
	// same parser takes the "-N" suffix out of .fullname, and naming only
	// "pkg" leaves cpu, goos and goarch out: runs on different machines or
	// with different GOMAXPROCS still match.
	var p benchproc.ProjectionParser
	row, err := p.Parse("pkg,.fullname", filter)
	if err != nil {
		return nil, err
	}
	procs, err := p.Parse("/gomaxprocs", filter)
	if err != nil {
		return nil, err
	}
	return &keyer{filter: filter, row: row, procs: procs}, nil
}

// parse reads one input. The format is sniffed: a stream whose first
// non-blank byte is '{' is taken as go test -json.
func (k *keyer) parse(in Input) (*parsed, error) {
	text := in.Data
	if trimmed := bytes.TrimSpace(in.Data); len(trimmed) > 0 && trimmed[0] == '{' {
		var err error
		if text, err = joinJSONOutput(in.Data); err != nil {
			return nil, fmt.Errorf("%s: %w", in.Name, err)
		}
	}

	type sk struct {
		row   benchproc.Key
		procs string
	}
	p := &parsed{}
	index := map[sk]*series{}
	cpuSeen := map[string]bool{}
	rowName := k.row.Fields()[1]
	rowPkg := k.row.Fields()[0]
	procField := k.procs.Fields()[0]

	r := benchfmt.NewReader(bytes.NewReader(text), in.Name)
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			p.warnings = append(p.warnings, rec.Error())
		case *benchfmt.Result:
			if ok, _ := k.filter.Apply(rec); !ok {
				continue
			}
			if cpu := rec.GetConfig("cpu"); cpu != "" && !cpuSeen[cpu] {
				cpuSeen[cpu] = true
				p.cpus = append(p.cpus, cpu)
			}
			key := sk{k.row.Project(rec), k.procs.Project(rec).Get(procField)}
			s := index[key]
			if s == nil {
				s = &series{pkg: key.row.Get(rowPkg), name: key.row.Get(rowName), procs: key.procs, vals: map[string][]float64{}}
				index[key] = s
				p.series = append(p.series, s)
			}
			for _, v := range rec.Values {
				unit, val := unitValue(v)
				if _, ok := s.vals[unit]; !ok {
					s.units = append(s.units, unit)
				}
				s.vals[unit] = append(s.vals[unit], val)
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(p.series) == 0 {
		return nil, fmt.Errorf("%s: %w", in.Name, ErrNoResults)
	}
	return p, nil
}

// unitValue keeps time in ns/op as written: tolerances are given in ns, and
// benchfmt's tidying to sec/op turns 3 ns into 3.0000000000000004e-09.
func unitValue(v benchfmt.Value) (string, float64) {
	if v.Unit == "sec/op" {
		if v.OrigUnit == "ns/op" {
			return "ns/op", v.OrigValue
		}
		return "ns/op", v.Value * 1e9
	}
	return v.Unit, v.Value
}

// testEvent is the subset of cmd/test2json's event we need.
type testEvent struct {
	Action  string
	Package string
	Output  string
}

// joinJSONOutput rebuilds each package's plain test output from a go test
// -json stream. Output events are concatenated per package in stream order,
// never per line: a benchmark line can arrive split over several events
// ("BenchmarkX-2 \t" then "100\t12 ns/op\n", golang/go#66825), and
// packages tested in parallel interleave their events. Lines that are not
// JSON (a stray build message) are kept as text.
func joinJSONOutput(data []byte) ([]byte, error) {
	var order []string
	byPkg := map[string]*strings.Builder{}
	var stray strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	events := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev testEvent
		if line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			stray.Write(line)
			stray.WriteByte('\n')
			continue
		}
		events++
		if ev.Action != "output" {
			continue
		}
		b := byPkg[ev.Package]
		if b == nil {
			b = &strings.Builder{}
			byPkg[ev.Package] = b
			order = append(order, ev.Package)
		}
		b.WriteString(ev.Output)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if events == 0 {
		return nil, fmt.Errorf("looks like JSON but holds no go test -json events: %w", ErrNoResults)
	}
	var out bytes.Buffer
	for _, pkg := range order {
		out.WriteString(byPkg[pkg].String())
		// A package whose output ended mid-line must not glue its last
		// fragment onto the next package's first line.
		if out.Len() > 0 && out.Bytes()[out.Len()-1] != '\n' {
			out.WriteByte('\n')
		}
	}
	out.WriteString(stray.String())
	return out.Bytes(), nil
}
