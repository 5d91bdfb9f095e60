// Package bench holds one benchmark per performance claim of the design
// notes, each on the real code path; bench/README.md is the claims table.
package bench
