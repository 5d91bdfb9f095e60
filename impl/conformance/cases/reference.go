package cases

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/frame"
	"github.com/bun13/bun13/impl/headers"
	"github.com/bun13/bun13/impl/lockfile"
)

// The reference's answers, from bun13's own packages in process. Each
// mirrors what the bun13 CLI prints for the same command (section 7).

// fail is the Want of a rejected input.
func fail(err error) Want {
	w := Want{Exit: 1, Code: string(codes.Of(err)), Offset: NoOffset}
	var ce *codes.Error
	if errors.As(err, &ce) {
		w.Offset = ce.Offset
		if strings.HasPrefix(string(ce.Code), "header-") && ce.Name != "" {
			w.Name = ce.Name
		}
	}
	if w.Code == "" {
		// Not a SPEC failure (a JSON syntax error): a usage or I/O error.
		w.Exit = 2
	}
	return w
}

// RefDecode is `lockfile decode FILE` on b.
func RefDecode(b []byte) Want {
	lf, err := lockfile.Decode(b)
	if err != nil {
		return fail(err)
	}
	j, err := lf.MarshalJSON()
	if err != nil {
		return fail(err)
	}
	return Want{Exit: 0, Offset: NoOffset, JSON: j}
}

// validateJSON is the output of `config validate --json`.
type validateJSON struct {
	Valid  bool   `json:"valid"`
	Error  string `json:"error,omitempty"`
	Offset *int   `json:"offset,omitempty"`
}

// RefValidate is `config validate --file FILE --json` on b, with the
// environment lookup applied over the file's config as bun13 does.
func RefValidate(b []byte, lookup func(string) (string, bool)) Want {
	lf, err := lockfile.Decode(b)
	if err == nil {
		_, err = config.ApplyEnv(lf.Config, lookup)
	}
	if err == nil {
		j, _ := json.Marshal(validateJSON{Valid: true})
		return Want{Exit: 0, Offset: NoOffset, JSON: j}
	}
	w := fail(err)
	v := validateJSON{Valid: false, Error: w.Code}
	if w.Offset != NoOffset {
		off := w.Offset
		v.Offset = &off
	}
	w.JSON, _ = json.Marshal(v)
	return w
}

// RefEncode is `lockfile encode -o OUT FILE` on the JSON j.
func RefEncode(j []byte) Want {
	var lf lockfile.Lockfile
	if err := json.Unmarshal(j, &lf); err != nil {
		return fail(err)
	}
	b, err := lockfile.Encode(&lf)
	if err != nil {
		return fail(err)
	}
	return Want{Exit: 0, Offset: NoOffset, Output: b}
}

// RefFrame is `frame decode HEX` on b.
func RefFrame(b []byte) Want {
	f, err := frame.Decode(b)
	if err != nil {
		w := fail(err)
		// Section 4 defines no frame error offsets: the code decides.
		w.Offset = NoOffset
		return w
	}
	j, err := json.Marshal(f)
	if err != nil {
		return fail(err)
	}
	return Want{Exit: 0, Offset: NoOffset, JSON: j}
}

// RefHeaders is `headers validate ARGS...`: each argument 'Name: value'
// (the value passed on untrimmed), one header checked alone (format and
// range) or a set checked as a whole (section 5).
func RefHeaders(args []string) Want {
	h := http.Header{}
	for _, a := range args {
		name, value, _ := strings.Cut(a, ":")
		canon, ok := headers.Canonical(strings.Trim(name, " \t"))
		if !ok {
			return Want{Exit: 2, Offset: NoOffset}
		}
		h[canon] = append(h[canon], value)
	}
	var err error
	if len(h) == 1 {
		// One header alone; given twice it is a format error, as bun13's
		// CLI has it.
		for name, vals := range h {
			if len(vals) > 1 {
				err = codes.Named(codes.HeaderFormat, name, "header given %d times", len(vals))
			} else {
				err = headers.ValidateOne(name, vals[0])
			}
		}
	} else {
		_, err = headers.Validate(h)
	}
	if err != nil {
		w := fail(err)
		w.Offset = NoOffset
		return w
	}
	return Want{Exit: 0, Offset: NoOffset}
}
