package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bun13/bun13/impl/conformance/cases"
	"github.com/bun13/bun13/impl/conformance/runner"
)

// AreaSummary counts one area's cases and agreements, valid inputs and
// rejected ones apart.
type AreaSummary struct {
	Area        cases.Area `json:"area"`
	Valid       int        `json:"valid"`
	ValidAgree  int        `json:"validAgree"`
	Errors      int        `json:"errors"`
	ErrorsAgree int        `json:"errorsAgree"`
}

// Disagreement is one case where the implementation and the reference
// differ.
type Disagreement struct {
	Case     string   `json:"case"`
	Area     string   `json:"area"`
	Spec     string   `json:"spec"`
	Input    string   `json:"input"`
	Command  []string `json:"command"`
	Expected string   `json:"expected"`
	Actual   string   `json:"actual"`
	Why      string   `json:"why"`
}

// Report is the result of `conformance run`.
type Report struct {
	Impl          []string       `json:"impl"`
	Seed          uint64         `json:"seed"`
	Count         int            `json:"count"`
	Cases         int            `json:"cases"`
	Seconds       float64        `json:"seconds"`
	Areas         []AreaSummary  `json:"areas"`
	Disagreements []Disagreement `json:"disagreements"`
	Kept          string         `json:"kept,omitempty"`
}

// Actual is a one-line form of what the implementation did.
func Actual(r runner.Result) string {
	s := fmt.Sprintf("exit %d", r.Exit)
	switch {
	case r.TimedOut:
		s = "timed out"
	case r.Signal != "":
		s = "killed by signal " + r.Signal
	}
	if line := runner.FirstLine(r.Stderr); line != "" {
		s += fmt.Sprintf(", stderr %q", clip(line, 300))
	}
	if out := strings.TrimSpace(string(r.Stdout)); out != "" {
		s += fmt.Sprintf(", stdout %s", clip(strings.Join(strings.Fields(out), " "), 400))
	}
	if r.Output != nil {
		s += fmt.Sprintf(", wrote %d bytes", len(r.Output))
	}
	return s
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// summarize builds the report and saves the input of every disagreement
// under keep.
func summarize(outs []runner.Outcome, keep string) (Report, error) {
	var rep Report
	idx := map[cases.Area]*AreaSummary{}
	for _, a := range cases.Areas {
		rep.Areas = append(rep.Areas, AreaSummary{Area: a})
	}
	for i := range rep.Areas {
		idx[rep.Areas[i].Area] = &rep.Areas[i]
	}
	for _, o := range outs {
		s := idx[o.Case.Area]
		if o.Case.Want.Valid() {
			s.Valid++
			if o.Agree {
				s.ValidAgree++
			}
		} else {
			s.Errors++
			if o.Agree {
				s.ErrorsAgree++
			}
		}
		if o.Agree {
			continue
		}
		d := Disagreement{Case: o.Case.Name, Area: string(o.Case.Area), Spec: o.Case.Spec,
			Expected: o.Case.Want.String(), Actual: Actual(o.Result), Why: o.Why}
		saved, err := save(keep, o)
		if err != nil {
			return rep, err
		}
		d.Input, d.Command = saved, savedCommand(o, saved)
		rep.Disagreements = append(rep.Disagreements, d)
	}
	var areas []AreaSummary
	for _, a := range rep.Areas {
		if a.Valid+a.Errors > 0 {
			areas = append(areas, a)
		}
	}
	rep.Areas = areas
	return rep, nil
}

// savedCommand is the command that reproduces o on its saved input.
func savedCommand(o runner.Outcome, saved string) []string {
	n := len(o.Case.Command("", ""))
	if len(o.Result.Argv) < n {
		return o.Result.Argv
	}
	impl := o.Result.Argv[:len(o.Result.Argv)-n]
	return append(append([]string(nil), impl...), o.Case.Command(saved, filepath.Join(filepath.Dir(saved), "output.lockb"))...)
}

// save copies a disagreement's input and both answers to keep/<case>/.
func save(keep string, o runner.Outcome) (string, error) {
	dir := filepath.Join(keep, filepath.FromSlash(o.Case.Name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	c := o.Case
	input := filepath.Join(dir, "input"+c.InputExt())
	var data []byte
	switch c.Area {
	case cases.FrameDecode:
		input = filepath.Join(dir, "input.hex")
		data = fmt.Appendf(nil, "%x\n", c.Input)
	case cases.HeadersValidate:
		input = filepath.Join(dir, "input.args.json")
		data, _ = json.MarshalIndent(c.Args, "", "  ")
	default:
		data = c.Input
	}
	if err := os.WriteFile(input, data, 0o644); err != nil {
		return "", err
	}
	want, _ := json.MarshalIndent(c.Want, "", "  ")
	files := map[string][]byte{
		"expected.json": want,
		"expected.txt":  []byte(c.Want.String() + "\n"),
		"stdout":        o.Result.Stdout,
		"stderr":        o.Result.Stderr,
		"why.txt":       []byte(fmt.Sprintf("%s\n%s\ncommand: %q\n", o.Why, c.Spec, o.Result.Argv)),
	}
	if c.Want.Output != nil {
		files["expected.lockb"] = c.Want.Output
	}
	if o.Result.Output != nil {
		files["output.lockb"] = o.Result.Output
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return "", err
		}
	}
	return input, nil
}

// WriteText prints the report for people: a summary line per area, then
// every disagreement.
func (rep *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "bun13 conformance: %d cases (seed %d, count %d) against %s in %.1fs\n", rep.Cases, rep.Seed, rep.Count, strings.Join(rep.Impl, " "), rep.Seconds)
	for _, a := range rep.Areas {
		fmt.Fprintf(w, "  %-17s valid %d/%d, errors %d/%d\n", a.Area, a.ValidAgree, a.Valid, a.ErrorsAgree, a.Errors)
	}
	if len(rep.Disagreements) == 0 {
		fmt.Fprintln(w, "every case agrees with the reference")
		return
	}
	fmt.Fprintf(w, "%d disagreements; inputs saved under %s\n", len(rep.Disagreements), rep.Kept)
	for _, d := range rep.Disagreements {
		fmt.Fprintf(w, "\n%s\n", d.Case)
		fmt.Fprintf(w, "  decided by: %s\n", d.Spec)
		fmt.Fprintf(w, "  input:      %s\n", d.Input)
		fmt.Fprintf(w, "  command:    %s\n", strings.Join(d.Command, " "))
		fmt.Fprintf(w, "  expected:   %s\n", d.Expected)
		fmt.Fprintf(w, "  actual:     %s\n", d.Actual)
		fmt.Fprintf(w, "  why:        %s\n", strings.ReplaceAll(d.Why, "\n", "\n              "))
	}
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }
