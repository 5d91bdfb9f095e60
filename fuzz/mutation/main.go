// Command mutation runs the mutants that gremlins generates but never
// executes, re-runs the ones it gave up on, and merges them into gremlins'
// score.
//
// gremlins (github.com/go-gremlins/gremlins) tests a mutant only when its
// position lies inside a block of the package's coverage profile. Go's
// coverage profile has no block for the case expressions of a switch
// statement nor for package-level const and var declarations, so every
// mutant there is reported NOT COVERED however well the tests reach it: in
// impl/config that is the whole of Config.Validate's order of checks. This
// command reads gremlins' JSON report (-o), applies each NOT COVERED mutant
// the same way gremlins would (one token swapped, with gremlins' own
// mapping), runs `go test` on the package in a scratch copy of the module,
// and prints the merged figures. It also re-runs every TIMED OUT mutant
// with go test -timeout (60 s by default; the build is not counted): gremlins' own limit is a multiple
// of its coverage run, which on a loaded machine is shorter than a build,
// so a mutant the tests would kill or let live can be cut off. A mutant
// still TIMED OUT after that is a real hang (a loop the mutant made
// endless), and is not run again when a merged report is read back.
//
//	go run ./fuzz/mutation -report /tmp/frame.json -pkg impl/frame
//
// A mutant it runs is KILLED (the tests fail), LIVED (they pass), NOT
// VIABLE (it does not compile) or TIMED OUT. The merged test efficacy is
// killed / (killed + lived) over every mutant, and the merged mutator
// coverage is (killed + lived) / (killed + lived + not covered), where not
// covered is what is left unrun. With -efficacy and -mcover the command
// exits 1 when a merged figure is below the bar.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/scanner"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Report is the part of gremlins' JSON output this command reads and writes.
type Report struct {
	GoModule string `json:"go_module"`
	Files    []File `json:"files"`
}

// File is one source file's mutants; FileName is relative to the package.
type File struct {
	FileName  string     `json:"file_name"`
	Mutations []Mutation `json:"mutations"`
}

// Mutation is one mutant: gremlins' type name, status and 1-based position
// (the column counts bytes, as go/token does).
type Mutation struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	// RunBy is "mutation" for a mutant this command ran.
	RunBy string `json:"run_by,omitempty"`
}

// Gremlins' status names.
const (
	Killed     = "KILLED"
	Lived      = "LIVED"
	NotCovered = "NOT COVERED"
	NotViable  = "NOT VIABLE"
	TimedOut   = "TIMED OUT"
)

// mutations is gremlins' token mapping (internal/engine/mappings.go of
// v0.6.0) for every mutator type, enabled by default or not.
var mutations = map[string]map[token.Token]token.Token{
	"ARITHMETIC_BASE":       {token.ADD: token.SUB, token.MUL: token.QUO, token.QUO: token.MUL, token.REM: token.MUL, token.SUB: token.ADD},
	"CONDITIONALS_BOUNDARY": {token.GEQ: token.GTR, token.GTR: token.GEQ, token.LEQ: token.LSS, token.LSS: token.LEQ},
	"CONDITIONALS_NEGATION": {token.EQL: token.NEQ, token.GEQ: token.LSS, token.GTR: token.LEQ, token.LEQ: token.GTR, token.LSS: token.GEQ, token.NEQ: token.EQL},
	"INCREMENT_DECREMENT":   {token.DEC: token.INC, token.INC: token.DEC},
	"INVERT_ASSIGNMENTS":    {token.ADD_ASSIGN: token.SUB_ASSIGN, token.MUL_ASSIGN: token.QUO_ASSIGN, token.QUO_ASSIGN: token.MUL_ASSIGN, token.REM_ASSIGN: token.REM_ASSIGN, token.SUB_ASSIGN: token.ADD_ASSIGN},
	"INVERT_BITWISE":        {token.AND: token.OR, token.OR: token.AND, token.XOR: token.AND, token.AND_NOT: token.AND, token.SHL: token.SHR, token.SHR: token.SHL},
	"INVERT_BWASSIGN":       {token.AND_ASSIGN: token.OR_ASSIGN, token.OR_ASSIGN: token.AND_ASSIGN, token.XOR_ASSIGN: token.AND_ASSIGN, token.AND_NOT_ASSIGN: token.AND_ASSIGN, token.SHL_ASSIGN: token.SHR_ASSIGN, token.SHR_ASSIGN: token.SHL_ASSIGN},
	"INVERT_LOGICAL":        {token.LAND: token.LOR, token.LOR: token.LAND},
	"INVERT_LOOPCTRL":       {token.BREAK: token.CONTINUE, token.CONTINUE: token.BREAK},
	"INVERT_NEGATIVES":      {token.SUB: token.ADD},
	"REMOVE_SELF_ASSIGNMENTS": {
		token.ADD_ASSIGN: token.ASSIGN, token.AND_ASSIGN: token.ASSIGN, token.AND_NOT_ASSIGN: token.ASSIGN,
		token.MUL_ASSIGN: token.ASSIGN, token.OR_ASSIGN: token.ASSIGN, token.QUO_ASSIGN: token.ASSIGN,
		token.REM_ASSIGN: token.ASSIGN, token.SHL_ASSIGN: token.ASSIGN, token.SHR_ASSIGN: token.ASSIGN,
		token.SUB_ASSIGN: token.ASSIGN, token.XOR_ASSIGN: token.ASSIGN,
	},
}

// Mutate returns src with the token at line:col replaced as mutator typ
// replaces it, or an error when no such token starts there.
func Mutate(src []byte, line, col int, typ string) ([]byte, error) {
	m, ok := mutations[typ]
	if !ok {
		return nil, fmt.Errorf("unknown mutator type %q", typ)
	}
	fset := token.NewFileSet()
	file := fset.AddFile("src.go", -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, 0)
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return nil, fmt.Errorf("no token at %d:%d", line, col)
		}
		p := fset.Position(pos)
		if p.Line < line || (p.Line == line && p.Column < col) {
			continue
		}
		if p.Line != line || p.Column != col {
			return nil, fmt.Errorf("no token starts at %d:%d", line, col)
		}
		to, ok := m[tok]
		if !ok {
			return nil, fmt.Errorf("%s at %d:%d is %q, which %s does not mutate", typ, line, col, tok, typ)
		}
		text := tok.String()
		if lit != "" {
			text = lit
		}
		off := p.Offset
		if !bytes.HasPrefix(src[off:], []byte(text)) {
			return nil, fmt.Errorf("token %q not found at offset %d", text, off)
		}
		out := make([]byte, 0, len(src)+2)
		out = append(out, src[:off]...)
		out = append(out, to.String()...)
		out = append(out, src[off+len(text):]...)
		return out, nil
	}
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mutation:", err)
		var b belowBar
		if errors.As(err, &b) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

type belowBar struct{ msg string }

func (b belowBar) Error() string { return b.msg }

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("mutation", flag.ContinueOnError)
	reportPath := fl.String("report", "", "gremlins JSON report (gremlins unleash -o FILE)")
	pkg := fl.String("pkg", "", "package directory the report is for, relative to the module root (e.g. impl/config)")
	out := fl.String("o", "", "write the merged report here (gremlins' format, with run_by on the mutants this command ran)")
	timeout := fl.Duration("timeout", time.Minute, "go test -timeout for one mutant (the test binary's run; building it gets 5 minutes more)")
	efficacy := fl.Float64("efficacy", 0, "exit 1 when the merged test efficacy is below this percentage")
	mcover := fl.Float64("mcover", 0, "exit 1 when the merged mutator coverage is below this percentage")
	equivPath := fl.String("equivalents", "", "markdown file whose equivalent-mutants table lists the surviving mutants known to be equivalent (fuzz/README.md)")
	strict := fl.Bool("strict", false, "exit 1 when a mutant survives that the equivalents table does not list")
	rerunLived := fl.Bool("rerun-lived", false, "also re-run the LIVED mutants of the report (against the tests as they are now)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *reportPath == "" || *pkg == "" {
		return errors.New("-report and -pkg are required")
	}
	raw, err := os.ReadFile(*reportPath)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("%s: %w", *reportPath, err)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	before := count(rep)

	var todo []*Mutation
	var names []string
	for i := range rep.Files {
		f := &rep.Files[i]
		for j := range f.Mutations {
			if st := f.Mutations[j].Status; st == NotCovered || (st == TimedOut && f.Mutations[j].RunBy == "") || (*rerunLived && st == Lived) {
				todo = append(todo, &f.Mutations[j])
				names = append(names, f.FileName)
			}
		}
	}
	if len(todo) > 0 {
		scratch, err := os.MkdirTemp("", "bun13-mutation-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(scratch)
		if err := copyTree(root, scratch); err != nil {
			return err
		}
		// One result per distinct mutated text: INVERT_NEGATIVES and
		// ARITHMETIC_BASE both turn a '-' into '+'.
		seen := map[string]string{}
		for i, m := range todo {
			rel := filepath.Join(*pkg, names[i])
			status, err := runOne(scratch, rel, *pkg, m, *timeout, seen)
			if err != nil {
				return err
			}
			m.Status, m.RunBy = status, "mutation"
			fmt.Fprintf(stdout, "%12s %s at %s:%d:%d (run by fuzz/mutation)\n", status, m.Type, rel, m.Line, m.Column)
		}
	}
	after := count(rep)
	var unlisted []string
	equivalent := 0
	if *equivPath != "" {
		eq, err := readEquivalents(*equivPath)
		if err != nil {
			return err
		}
		for _, f := range rep.Files {
			rel := filepath.ToSlash(filepath.Join(*pkg, f.FileName))
			src, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				return err
			}
			lines := strings.Split(string(src), "\n")
			for _, m := range f.Mutations {
				if m.Status != Lived {
					continue
				}
				key := mutantKey(rel, m, lines)
				if _, ok := eq[key]; ok {
					equivalent++
					continue
				}
				unlisted = append(unlisted, fmt.Sprintf("%s:%d:%d %s: %s", rel, m.Line, m.Column, m.Type, key))
			}
		}
	}
	fmt.Fprintf(stdout, "gremlins: %s\n", before)
	fmt.Fprintf(stdout, "merged:   %s\n", after)
	if *equivPath != "" {
		fmt.Fprintf(stdout, "lived: %d listed as equivalent in %s, %d not listed\n", equivalent, *equivPath, len(unlisted))
		for _, u := range unlisted {
			fmt.Fprintf(stdout, "  not listed: %s\n", u)
		}
	}
	if *out != "" {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			return err
		}
	}
	if eff := after.efficacy(); *efficacy > 0 && eff < *efficacy {
		return belowBar{fmt.Sprintf("%s: test efficacy %.2f%% is below %.2f%%", *pkg, eff, *efficacy)}
	}
	if mc := after.mcover(); *mcover > 0 && mc < *mcover {
		return belowBar{fmt.Sprintf("%s: mutator coverage %.2f%% is below %.2f%%", *pkg, mc, *mcover)}
	}
	if *strict && len(unlisted) > 0 {
		return belowBar{fmt.Sprintf("%s: %d surviving mutants are neither killed nor listed as equivalent", *pkg, len(unlisted))}
	}
	return nil
}

// mutantKey identifies a mutant by what it changes rather than where the
// line is, so that the equivalents table survives edits elsewhere in the
// file: file, mutator, the mutated token's byte column in the trimmed
// line, and the trimmed line.
func mutantKey(rel string, m Mutation, lines []string) string {
	line := ""
	if m.Line-1 < len(lines) {
		line = lines[m.Line-1]
	}
	trimmed := strings.TrimLeft(line, " \t")
	col := m.Column - 1 - (len(line) - len(trimmed))
	return fmt.Sprintf("%s %s %d %s", rel, m.Type, col, strings.TrimSpace(trimmed))
}

// readEquivalents reads the rows between the markers
// <!-- equivalent-mutants:begin --> and <!-- equivalent-mutants:end -->:
// | file | line | mutator | col | `code` | reason |, where col is the
// token's byte offset in the trimmed code and a | inside the code is
// written \|. line is for the reader only.
func readEquivalents(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text := string(b)
	const begin, end = "<!-- equivalent-mutants:begin -->", "<!-- equivalent-mutants:end -->"
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		return nil, fmt.Errorf("%s: no %s ... %s section", path, begin, end)
	}
	out := map[string]string{}
	for _, l := range strings.Split(text[i+len(begin):j], "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "|") || strings.HasPrefix(l, "|---") || strings.HasPrefix(l, "| file |") {
			continue
		}
		cells := splitRow(l)
		if len(cells) != 6 {
			return nil, fmt.Errorf("%s: equivalent-mutants row %q has %d cells, want 6", path, l, len(cells))
		}
		code := strings.TrimSuffix(strings.TrimPrefix(cells[4], "`"), "`")
		key := fmt.Sprintf("%s %s %s %s", strings.Trim(cells[0], "`"), cells[2], cells[3], code)
		out[key] = cells[5]
	}
	return out, nil
}

// splitRow splits a markdown table row on the | that are not escaped.
func splitRow(l string) []string {
	l = strings.TrimSuffix(strings.TrimPrefix(l, "|"), "|")
	var cells []string
	var cur strings.Builder
	for k := 0; k < len(l); k++ {
		switch {
		case l[k] == '\\' && k+1 < len(l) && l[k+1] == '|':
			cur.WriteByte('|')
			k++
		case l[k] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(l[k])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

func runOne(scratch, rel, pkg string, m *Mutation, timeout time.Duration, seen map[string]string) (string, error) {
	path := filepath.Join(scratch, rel)
	orig, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	mutated, err := Mutate(orig, m.Line, m.Column, m.Type)
	if err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	key := rel + "\x00" + string(mutated)
	if s, ok := seen[key]; ok {
		return s, nil
	}
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-failfast", "-timeout", timeout.String(), "./"+filepath.ToSlash(pkg)+"/")
	cmd.Dir = scratch
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	var status string
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil || strings.Contains(buf.String(), "panic: test timed out"):
		status = TimedOut
	case err == nil:
		status = Lived
	case errors.As(err, &exitErr) && (strings.Contains(buf.String(), "[build failed]") || strings.Contains(buf.String(), "[setup failed]")):
		status = NotViable
	case errors.As(err, &exitErr):
		status = Killed
	default:
		return "", err
	}
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		return "", err
	}
	seen[key] = status
	return status, nil
}

type tally struct{ killed, lived, notCovered, notViable, timedOut int }

func count(r Report) tally {
	var t tally
	for _, f := range r.Files {
		for _, m := range f.Mutations {
			switch m.Status {
			case Killed:
				t.killed++
			case Lived:
				t.lived++
			case NotCovered:
				t.notCovered++
			case NotViable:
				t.notViable++
			case TimedOut:
				t.timedOut++
			}
		}
	}
	return t
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b) * 100
}

func (t tally) efficacy() float64 { return pct(t.killed, t.killed+t.lived) }
func (t tally) mcover() float64 {
	return pct(t.killed+t.lived, t.killed+t.lived+t.notCovered)
}

func (t tally) String() string {
	return fmt.Sprintf("killed %d, lived %d, not covered %d, timed out %d, not viable %d; test efficacy %.2f%%, mutator coverage %.2f%%",
		t.killed, t.lived, t.notCovered, t.timedOut, t.notViable, t.efficacy(), t.mcover())
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// copyTree copies the module's regular files, without .git, into dst.
func copyTree(src, dst string) error {
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, p := range files {
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		t := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(t), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(t, b, info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}
