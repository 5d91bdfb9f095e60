// Compare-bench is a benchmark regression gate for CI: it compares Go
// benchmark results of a baseline and a PR and exits non-zero when the PR is
// slower, with a statistical test that does not flake on noise.
//
// Usage:
//
//	compare-bench --baseline FILE --pr FILE [flags]
//	compare-bench run --base REF [--head REF] --count N --bench REGEX [--benchtime T] [--out DIR] [flags] PACKAGES...
//	compare-bench run --measure instructions --base REF [--head REF] --bench REGEX [--repeat K] [--n2 N] [flags] PACKAGES...
//	compare-bench aa [--measure instructions] --count N --bench REGEX --runs K [--benchtime T] [flags] PACKAGES...
//
// The comparison flags, accepted by every form:
//
//	--tolerance-ns X    ignore slowdowns of X ns/op or less (default 0)
//	--tolerance-pct P   ignore slowdowns of P percent or less (default 0)
//	--alpha A           family-wise false-failure rate (default 0.05)
//	--tolerance-instr X ignore increases of X instr/op or less (default 0.5; --tolerance-pct adds to it)
//	--allow-missing     do not fail when a baseline benchmark is gone
//	--filter EXPR       only compare results matching a benchproc filter
//	--format F          text (default), markdown or json
//	--paired            judge with the paired test over rounds (below)
//	--metric UNIT=DIR   gate UNIT with DIR higher or lower (is better), or ignore it; repeatable
//
// # Comparing two files
//
// Each file is the output of "go test -bench" (the Go benchmark format,
// https://golang.org/design/14313-benchmark-format) or of "go test -json
// -bench"; the format is detected. A JSON stream is turned back into text by
// joining each package's output events in order, so a benchmark line that
// test2json split over several events (golang/go#66825) parses whole.
//
// Run the benchmarks with -count of at least 6, ideally 10, and -benchmem:
//
//	go test -run '^$' -bench . -benchmem -count 10 ./... > base.txt
//	# apply the change
//	go test -run '^$' -bench . -benchmem -count 10 ./... > pr.txt
//	compare-bench --baseline base.txt --pr pr.txt
//
// Better, let compare-bench run both sides interleaved (see "run" below):
// back-to-back runs like these read any drift of the machine as a change.
//
// Benchmarks are matched by package and full name. The GOMAXPROCS suffix
// ("-8") and the cpu, goos and goarch lines are not part of the identity, so
// results from different machines still match; when the cpu lines differ
// the report says so, because then a difference may be the machine. If one
// input ran a benchmark at several GOMAXPROCS (go test -cpu 1,2,4), the
// suffix is matched too.
//
// # The gate
//
// For each benchmark present on both sides, ns/op is judged with a
// one-sided Mann-Whitney U test of "the PR is slower than the baseline by
// more than the margin". The margin is the larger of --tolerance-ns and
// --tolerance-pct percent of the baseline median; it is subtracted from
// every PR sample before the test, which makes the tolerance a
// non-inferiority margin: a PR 0.05 ns slower with --tolerance-ns 0.1 passes
// however many samples are taken, and a PR 0.3 ns slower fails once the
// samples show it. The p-value is the exact upper tail of U under the
// permutation distribution conditional on the observed ties (for up to 50
// samples per side; a tie-corrected normal approximation beyond), so it is
// neither the two-sided p-value halved nor the tail shifted by a whole step
// when ties make U move in halves.
//
// All these tests together form one family, corrected with Holm-Bonferroni:
// sort the p-values, multiply the k-th smallest by (m-k+1), keep them
// non-decreasing, and reject where the result is at most --alpha. Holm
// rather than Benjamini-Hochberg because the gate's question is "did
// anything regress?", answered by failing the build: what must be bounded is
// the chance that a PR that changed nothing fails at all (the family-wise
// error rate), and Holm bounds it at alpha under any dependence between the
// benchmarks, which share a machine and its moods. Benjamini-Hochberg bounds
// the expected share of false alarms among the alarms, which is the same
// thing only when nothing regressed and needs positive dependence to hold;
// its extra power would buy more names on the list of a build that fails
// anyway.
//
// B/op and allocs/op (from -benchmem) are gated too. When every sample of
// each side is the same value, as it usually is, any increase of allocs/op
// is a regression, and so is an increase of B/op beyond --tolerance-pct.
// Otherwise they get the same one-sided test, in the same family.
//
// Other units are gated when their direction is known: MB/s and any */s
// unit, higher is better; sec/* and ns/* units, lower is better. --metric
// UNIT=higher|lower|ignore sets the direction of any other unit (custom
// b.ReportMetric units such as p99-ns) or turns a unit off. A unit with no
// known direction is shown, marked "info", and named in a note: reported,
// never silently gated. The margin of these units is --tolerance-pct.
//
// With --paired, each metric is judged instead by a one-sided Wilcoxon
// signed-rank test on the per-round log ratios PR/baseline (the i-th
// sample of each side came from the same round of run or aa), minus the
// margin as a log ratio; the null distribution is exact for any n. Load
// that hits both halves of a round cancels in the ratio. Metrics whose
// sides have different sample counts fall back to the U test.
//
// A benchmark with fewer than 4 samples on a side is inconclusive, and so
// is one whose sample sizes cannot reach p <= alpha/m even in the best
// case; the report gives the -count that could. Inconclusive does not fail
// the gate. A benchmark of the baseline that is missing from the PR fails
// the gate unless --allow-missing; new benchmarks are listed.
//
// The text report is a benchstat-like table per package and unit: median
// ± 95% confidence interval of each side, benchstat's two-sided "vs base"
// (informational), the margin, the one-sided and adjusted p-values and the
// verdict. --format markdown writes the same as a table for a PR comment or
// $GITHUB_STEP_SUMMARY, --format json every number the verdict used.
//
// # Running both sides: run
//
//	compare-bench run --base origin/main --count 10 --bench . ./bench/...
//
// checks out --base (and --head, if given; otherwise the current working
// tree, uncommitted changes included) with "git worktree add --detach" into
// a temporary directory, builds one test binary per package on each side
// with "go test -c", and runs them interleaved: in each round both sides
// run once, in an order drawn at random (--order random, the default;
// --seed reproduces it) or alternating A B, B A, ... (--order alternate),
// each binary once per round with -test.count=1
// -test.run '^$' -test.bench REGEX -test.benchmem, in its package directory.
// The two result files are written as base.txt and head.txt in --out (by
// default a new temporary directory, printed on stderr), then compared as
// above. Worktrees are removed even when the run fails or is interrupted.
// A base commit without any of the packages is fine (everything is new).
//
// # Instruction mode: run --measure instructions
//
//	compare-bench run --measure instructions --base origin/main --bench 'CRC64' ./bench/...
//
// counts instructions instead of timing. Each benchmark selected by --bench
// (each leaf sub-benchmark on its own) runs alone under valgrind's
// callgrind with GOMAXPROCS=1 GOGC=off GOMEMLIMIT=2GiB
// GODEBUG=asyncpreemptoff=1 and -test.cpu=1, at -test.benchtime N1x and
// N2x; instr/op = (I(N2) - I(N1)) / (N2 - N1), where I counts every thread
// but the runtime's sysmon thread. --n1 (default 100) and --n2 (default:
// chosen so that the difference is --instr-budget instructions, 2e8) set
// the counts; --repeat K (default 3) measures each side K times; --jobs
// runs that many benchmarks at once. The results are benchmark files with
// the unit instr/op. When the spread of the repeats (max - min) is under
// half the margin on both sides, the medians decide: a regression is an
// increase beyond --tolerance-instr plus --tolerance-pct of the baseline.
// Otherwise the one-sided U test on the repeats decides (it needs
// --repeat 4 or more). compare/README.md says why and when the count is
// deterministic, and what it costs.
//
// # Checking the gate itself: aa
//
//	compare-bench aa --count 6 --benchtime 20ms --bench . --runs 30 ./compare/testdata/knob
//
// builds the current tree once and runs --runs complete interleaved
// comparisons of the binaries against themselves. Every failure is a false
// positive; aa prints the observed false-positive rate and the benchmarks
// that tripped, and exits 1 if the rate exceeds --alpha. In wall-clock mode
// it also judges the same runs with the other analysis (paired if the gate
// is unpaired, and the reverse); with --measure instructions it prints the
// largest spread of repeats and the largest A/A difference per benchmark.
//
// # Exit status
//
// 0 when nothing regressed, 1 when something did (or is missing), 2 for bad
// usage or unreadable input, including a file without benchmark results.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Stdout, os.Stderr, os.Args[1:]))
}
