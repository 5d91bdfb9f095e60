// Package props holds the gopter property tests of every SPEC format.
//
// `go test ./props/` runs each property with a fixed seed and a count that
// keeps the package under 30 s. Two environment variables override them:
//
//	PROPS_SEED=12345   the seed (a failure prints the seed it ran with)
//	PROPS_COUNT=5000   successful cases each property must pass
//
// A failing property prints the seed, the shrunk input and a go-cmp diff.
package props
