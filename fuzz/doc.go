// Package fuzz holds the native Go fuzzers of every binary and text format
// of the SPEC: the 13-byte config, the BUN1 lockfile and its repair, the
// config frame and the config headers.
//
// Each fuzzer checks the same invariants: decoding never panics; it
// allocates no more than a small multiple of the input's size; anything
// accepted re-encodes to exactly the input (or canonically) and round-trips;
// anything rejected carries one of the SPEC's codes. Seeds come from
// ../fixtures plus the f.Add edge cases in each fuzzer; a failing input the
// fuzzer finds is kept under testdata/fuzz/FuzzX/ and replayed by every
// `go test ./fuzz/`.
//
// Run one for longer with, for example:
//
//	go test ./fuzz/ -run '^$' -fuzz '^FuzzLockfile$' -fuzztime 10m
package fuzz
