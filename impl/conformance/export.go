package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bun13/bun13/impl/conformance/cases"
)

// ManifestEntry is one case of an export's manifest.json.
type ManifestEntry struct {
	Area string `json:"area"`
	Spec string `json:"spec"`
	// Input is the input file, relative to the export directory (the
	// lockfile, the encoder's JSON, the frame as hex, or the headers as a
	// JSON array of 'Name: value' arguments).
	Input string `json:"input"`
	// Command is the CLI command with {input} and {output} standing for
	// the input file and encode's output file.
	Command  []string `json:"command"`
	Expected Expected `json:"expected"`
}

// Expected is the reference's result.
type Expected struct {
	Exit int `json:"exit"`
	// Error is the SPEC code the first stderr line begins with (after
	// "error: "), for exit 1.
	Error string `json:"error,omitempty"`
	// Offset is the byte offset of a lockfile error (section 3), or -1.
	Offset int `json:"offset"`
	// Header is the header an error names (section 5).
	Header string `json:"header,omitempty"`
	// JSON is what stdout prints (decode, frame decode, config validate).
	JSON json.RawMessage `json:"json,omitempty"`
	// Output is the file, relative to the export directory, holding the
	// exact bytes encode must write.
	Output string `json:"output,omitempty"`
	// MayRefuse is set on encoder input given unsorted: the SPEC lets an
	// encoder refuse it (exit 1, any SPEC code) instead.
	MayRefuse bool `json:"mayRefuse,omitempty"`
}

func exportCmd(e *Env, args []string) (int, error) {
	fs := newFlags("export")
	g := addGenFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return 0, err
	}
	if len(pos) != 1 {
		return 0, usagef("export DIR")
	}
	cs, err := g.generate(e)
	if err != nil {
		return 0, err
	}
	if err := Export(pos[0], cs); err != nil {
		return 0, err
	}
	fmt.Fprintf(e.Stdout, "wrote %d cases and manifest.json to %s\n", len(cs), pos[0])
	return 0, nil
}

// Export writes each case's input under dir, named after the case, and
// dir/manifest.json mapping each case name to its entry.
func Export(dir string, cs []cases.Case) error {
	man := make(map[string]ManifestEntry, len(cs))
	for i := range cs {
		c := &cs[i]
		base := filepath.FromSlash(c.Name)
		var in string
		var data []byte
		switch c.Area {
		case cases.FrameDecode:
			in, data = base+".hex", fmt.Appendf(nil, "%x\n", c.Input)
		case cases.HeadersValidate:
			in = base + ".args.json"
			data, _ = json.MarshalIndent(c.Args, "", "  ")
		default:
			in, data = base+c.InputExt(), c.Input
		}
		if err := writeFile(filepath.Join(dir, in), data); err != nil {
			return err
		}
		ex := Expected{Exit: c.Want.Exit, Error: c.Want.Code, Offset: c.Want.Offset, Header: c.Want.Name, JSON: c.Want.JSON, MayRefuse: c.Unsorted}
		if c.Want.Output != nil {
			ex.Output = filepath.ToSlash(base + ".expected.lockb")
			if err := writeFile(filepath.Join(dir, base+".expected.lockb"), c.Want.Output); err != nil {
				return err
			}
		}
		man[c.Name] = ManifestEntry{Area: string(c.Area), Spec: c.Spec, Input: filepath.ToSlash(in), Command: c.Command("{input}", "{output}"), Expected: ex}
	}
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "manifest.json"), append(b, '\n'))
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
