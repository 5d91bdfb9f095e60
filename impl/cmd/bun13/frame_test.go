package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/frame"
)

// cliStep is one command of a golden transcript and its expected exit code.
type cliStep struct {
	code int
	args []string
}

// runInProcess runs bun13 with no environment and empty stdin.
func runInProcess(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errb,
		lookup: func(string) (string, bool) { return "", false },
		ctx:    context.Background(),
	}
	code = e.main(args)
	return out.String(), errb.String(), code
}

// transcriptGolden runs steps and compares the transcript to
// testdata/name; go test -update rewrites it. The flag is looked up, not
// declared, so that this file does not depend on which test file owns it.
func transcriptGolden(t *testing.T, name string, steps []cliStep) {
	t.Helper()
	var b strings.Builder
	for _, s := range steps {
		out, errs, code := runInProcess(s.args...)
		quoted := make([]string, len(s.args))
		for i, a := range s.args {
			quoted[i] = a
			if a == "" || strings.ContainsAny(a, " \t:;'\"") {
				quoted[i] = "'" + a + "'"
			}
		}
		fmt.Fprintf(&b, "$ bun13 %s\n%s", strings.Join(quoted, " "), out)
		if errs != "" {
			fmt.Fprintf(&b, "[stderr] %s", errs)
		}
		fmt.Fprintf(&b, "[exit %d]\n", code)
		if code != s.code {
			t.Errorf("bun13 %q: exit %d, want %d; stdout %q, stderr %q", s.args, code, s.code, out, errs)
		}
		if code == 1 && !strings.HasPrefix(errs, "error: ") {
			t.Errorf("bun13 %q: exit 1 without an \"error: CODE\" line: %q", s.args, errs)
		}
	}
	path := filepath.Join("testdata", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if d := cmp.Diff(string(want), b.String()); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, d)
	}
}

func TestFrameCLI(t *testing.T) {
	dec := func(code int, h string) cliStep { return cliStep{code, []string{"frame", "decode", h}} }
	enc := func(code int, args ...string) cliStep {
		return cliStep{code, append([]string{"frame", "encode"}, args...)}
	}
	transcriptGolden(t, "frame_cli.golden", []cliStep{
		// The vectors of fixtures/frames.json.
		dec(0, "010d00000002000000000000007a"),
		dec(0, "0209000000010000000000000087"),
		dec(0, "040000000000000000000000005e"),
		dec(0, "0105000000d56b9b5e0000000037"),
		dec(0, "010D00000002000000000000007A"), // upper-case hex is still hex
		dec(0, "811100000073c0a0589bb6ca12e2"),
		dec(0, "820d00000006000000000000007c"),
		// Each decode error, in the SPEC's order.
		dec(1, ""),
		dec(1, "010d00000002000000000000"),
		dec(1, "010d00000002000000000000007a00"),
		dec(1, "010d00000002000000000000007b"),
		dec(1, "050d000000020000000000000024"),
		dec(1, "011000000000000000000000005f"),
		dec(1, "010d000000000100000000000083"),
		dec(1, "040000000001000000000000004d"),
		dec(1, "04090000000000000000000000e5"),
		// Not hex at all: a usage error.
		dec(2, "xyz"),
		dec(2, "010"),
		{2, []string{"frame", "decode"}},
		{2, []string{"frame", "decode", "00", "00"}},
		{2, []string{"frame"}},
		{2, []string{"frame", "transmit"}},

		enc(0, "--type", "set", "--offset", "13", "--value", "2"),
		enc(0, "--type", "set", "--offset", "0x05", "--value", "0x5e9b6bd5"),
		enc(0, "--type", "flags-enable", "--offset", "9", "--value", "1"),
		enc(0, "--type", "flags-disable", "--offset", "0x9", "--value", "0xffffffff"),
		enc(0, "--type", "snapshot"),
		enc(0, "--type", "ack", "--offset", "17", "--value", "0x12cab69b58a0c073"),
		enc(0, "--type", "nak", "--offset", "13", "--value", "6"),
		enc(0, "--type=0x01", "--offset=014", "--value=0"), // a type byte; 014 is decimal
		enc(1, "--type", "set", "--offset", "16", "--value", "0"),
		enc(1, "--type", "set", "--offset", "14", "--value", "256"),
		enc(1, "--type", "set", "--offset", "9", "--value", "0x100000000"),
		enc(1, "--type", "flags-enable", "--offset", "4", "--value", "1"),
		enc(1, "--type", "snapshot", "--value", "1"),
		enc(1, "--type", "snapshot", "--offset", "1", "--value", "1"),
		enc(1, "--type", "bogus"),
		enc(1, "--type", "5"),
		enc(1, "--type", "ack", "--offset", "0x100000000"),
		enc(1, "--type", "ack", "--value", "18446744073709551616"),
		enc(2, "--type", "set", "--offset", "-1"),
		enc(2, "--type", "set", "--value", "two"),
		enc(2, "--offset", "13"),
		enc(2, "--type", "set", "extra"),
		enc(2, "--colour", "red"),
	})
}

// TestFrameEncodeDecode: whatever encode prints, decode reads back as the
// same frame, and whatever encode refuses, Decode refuses with the same
// code.
func TestFrameEncodeDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	names := []string{"set", "flags-enable", "flags-disable", "snapshot", "ack", "nak"}
	for range 2000 {
		typ := names[r.IntN(len(names))]
		off := []uint64{0, 4, 5, 9, 13, 14, 15, 16, uint64(r.Uint32())}[r.IntN(9)]
		val := []uint64{0, 1, 255, 256, 1 << 32, r.Uint64()}[r.IntN(6)]
		args := []string{"frame", "encode", "--type", typ, "--offset", fmt.Sprint(off), "--value", fmt.Sprintf("0x%x", val)}
		out, errs, code := runInProcess(args...)
		ty, _ := frame.ParseType(typ)
		f := frame.Frame{Type: ty, Offset: uint32(off), Value: val}
		wire := frame.Encode(f)
		_, decErr := frame.Decode(wire[:])
		if code != 0 {
			if decErr == nil || !strings.HasPrefix(errs, "error: "+string(codes.Of(decErr))+" ") {
				t.Fatalf("%q refused (%q) but Decode says %v", args, errs, decErr)
			}
			continue
		}
		if decErr != nil {
			t.Fatalf("%q printed %q but Decode refuses it: %v", args, out, decErr)
		}
		if want := hex.EncodeToString(wire[:]) + "\n"; out != want {
			t.Fatalf("%q = %q, want %q", args, out, want)
		}
		dout, derrs, dcode := runInProcess("frame", "decode", strings.TrimSpace(out))
		var got struct {
			Type   string `json:"type"`
			Offset uint32 `json:"offset"`
			Value  uint64 `json:"value"`
		}
		if dcode != 0 || json.Unmarshal([]byte(dout), &got) != nil {
			t.Fatalf("decode %s: exit %d, %q %q", out, dcode, dout, derrs)
		}
		if got.Type != typ || got.Offset != f.Offset || got.Value != f.Value {
			t.Fatalf("decode(encode(%q)) = %+v", args, got)
		}
	}
}
