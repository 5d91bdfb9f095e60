package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/headers"
)

func init() { commands["headers"] = runHeadersCmd }

func runHeadersCmd(e *env, args []string) error {
	if len(args) == 2 && args[0] == "validate" && isHelpArg(args[1]) {
		return helpText(groupUsage["headers"])
	}
	if len(args) == 0 || args[0] != "validate" {
		return usagef("headers validate 'Name: value'... | NAME VALUE")
	}
	return headersValidate(e, args[1:])
}

// headersValidate checks a header set, or one header alone (format and
// range only). Arguments are not parsed as flags, so that a value such as
// -1 reaches the validator and fails as header-format.
func headersValidate(e *env, args []string) error {
	h, err := headerArgs(args)
	if err != nil {
		return err
	}
	if len(h) == 1 {
		for name, vals := range h {
			if len(vals) > 1 {
				return codes.Named(codes.HeaderFormat, name, "header given %d times, want once", len(vals))
			}
			if err := headers.ValidateOne(name, vals[0]); err != nil {
				return err
			}
		}
	} else if _, err := headers.Validate(h); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}

// headerArgs reads 'Name: value' arguments and the design notes' form
// NAME VALUE as two arguments: an argument with a ':' is a pair, one
// without is a name whose value is the next argument, whatever it holds.
// Values are passed on untrimmed: trimming is the validator's rule. A name
// that is not one of the five is a usage error, not a validation failure:
// it is a typo on the command line, and ignoring it would hide one.
func headerArgs(args []string) (http.Header, error) {
	if len(args) == 0 {
		return nil, usagef("headers validate 'Name: value'... | NAME VALUE")
	}
	h := http.Header{}
	for i := 0; i < len(args); i++ {
		name, value, ok := strings.Cut(args[i], ":")
		if !ok {
			if i+1 == len(args) {
				return nil, usagef("headers validate: %q has no value", args[i])
			}
			i++
			value = args[i]
		}
		canon, known := headers.Canonical(strings.Trim(name, " \t"))
		if !known {
			return nil, usagef("headers validate: %q is not one of %s", name, strings.Join(headers.Names[:], ", "))
		}
		h[canon] = append(h[canon], value)
	}
	return h, nil
}
