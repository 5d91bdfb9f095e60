#!/usr/bin/env bash
# Builds the native Go fuzzers of ./fuzz as libFuzzer binaries, the way
# OSS-Fuzz and ClusterFuzzLite build Go projects (go-118-fuzz-build and
# clang -fsanitize=fuzzer), and runs each for LIBFUZZER_TIME seconds on the
# seed corpus exported from the native seeds. Everything happens in a
# scratch copy of the module: the tree and its go.mod are not touched.
#
#   fuzz/libfuzzer.sh                      # every fuzzer, 60 s each
#   fuzz/libfuzzer.sh FuzzFrame FuzzLockfile
#   LIBFUZZER_TIME=10 LIBFUZZER_OUT=/tmp/lf fuzz/libfuzzer.sh FuzzFrame
#   LIBFUZZER_BUILD_ONLY=1 fuzz/libfuzzer.sh   # build and export seeds only
#   LIBFUZZER_INCLUDE='github.com/bun13/bun13/*' fuzz/libfuzzer.sh  # instrument only these packages
#     (go-118-fuzz-build -include; by default everything is instrumented,
#     the Go runtime and standard library included, as OSS-Fuzz does)
#
# Needs clang and the libFuzzer runtime (Debian: clang libclang-rt-14-dev)
# and the Go module proxy (go-118-fuzz-build and its testing shim are
# fetched into the scratch copy only). Results land in LIBFUZZER_OUT
# (default: a new temp dir, printed): bin/FuzzX, seeds/FuzzX (exported),
# corpus/FuzzX (seeds plus what the run added), FuzzX.log, and
# summary.tsv with one line per fuzzer. A crash fails the script; its input
# is kept as FuzzX-crash-* in LIBFUZZER_OUT and printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Pinned: the same commit OSS-Fuzz's base-builder-go installs may move.
GO118=github.com/AdamKorcz/go-118-fuzz-build
GO118_VERSION=${GO118_VERSION:-v0.0.0-20250520111509-a70c2aa677fa}
time_per=${LIBFUZZER_TIME:-60}
out=${LIBFUZZER_OUT:-$(mktemp -d /tmp/bun13-libfuzzer.XXXXXX)}
mkdir -p "$out"/bin "$out"/seeds "$out"/corpus
echo "libfuzzer: output in $out"

# OSS-Fuzz and ClusterFuzzLite link with CC="$CXX" and
# LIBFUZZER_LDFLAGS="$CXXFLAGS $LIB_FUZZING_ENGINE" (fuzz/oss-fuzz/build.sh).
CC=${CC:-clang}
read -r -a ldflags <<<"${LIBFUZZER_LDFLAGS:--fsanitize=fuzzer}"
command -v "$CC" >/dev/null || { echo "libfuzzer: $CC not found (apt-get install -y clang libclang-rt-14-dev)" >&2; exit 1; }
gobin=$(go env GOPATH)/bin
if [ ! -x "$gobin/go-118-fuzz-build" ]; then
  go install "$GO118@$GO118_VERSION"
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(grep -ho '^func Fuzz[A-Za-z0-9_]*(f \*testing\.F)' fuzz/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/')
fi

scratch=$(mktemp -d /tmp/bun13-libfuzzer-src.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$scratch"
else
  tar --exclude=.git -cf - . | tar -xf - -C "$scratch"
fi
cd "$scratch"

# The fuzzers are _test.go files of package fuzz; go-118-fuzz-build needs
# them as ordinary files. Step 1: compile them against seedtesting and
# export the seeds (f.Add and testdata/fuzz) in the libFuzzer input format.
for f in fuzz/*_test.go; do
  sed 's#^\([[:space:]]*\)"testing"$#\1testing "github.com/bun13/bun13/fuzz/libfuzzer/seedtesting"#' "$f" >"${f%_test.go}_libfuzzer.go"
  rm "$f"
done
if grep -l '^[[:space:]]*\(import \)\?"testing"$' fuzz/*_libfuzzer.go; then
  echo "libfuzzer: the files above import testing in a form this script does not rewrite" >&2
  exit 1
fi
mkdir -p fuzz/libfuzzer/seedexport
{
  echo 'package main'
  echo 'import ('
  echo '	"fmt"'
  echo '	"os"'
  echo '	target "github.com/bun13/bun13/fuzz"'
  echo '	"github.com/bun13/bun13/fuzz/libfuzzer/seedtesting"'
  echo ')'
  echo 'func main() {'
  echo '	counts, err := seedtesting.Export(os.Args[1], "testdata/fuzz", map[string]func(*seedtesting.F){'
  for t in "${targets[@]}"; do echo "		\"$t\": target.$t,"; done
  echo '	})'
  echo '	if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) }'
  echo '	for name, n := range counts { fmt.Printf("%s\t%d\n", name, n) }'
  echo '}'
} >fuzz/libfuzzer/seedexport/main.go
go build -o "$scratch/seedexport" ./fuzz/libfuzzer/seedexport
(cd fuzz && "$scratch/seedexport" "$out/seeds")

# Step 2: the same files against go-118-fuzz-build's testing shim (its
# AllocsPerRun panics, so the real one is kept for FuzzFrame's check).
go get "$GO118/testing@$GO118_VERSION" >/dev/null 2>&1 || go get "$GO118/testing@$GO118_VERSION"
rm -r fuzz/libfuzzer/seedexport
for f in fuzz/*_libfuzzer.go; do
  sed -i -e 's#testing "github.com/bun13/bun13/fuzz/libfuzzer/seedtesting"#"github.com/AdamKorcz/go-118-fuzz-build/testing"#' \
    -e 's/testing\.AllocsPerRun(/stdAllocsPerRun(/g' "$f"
done
cat >fuzz/allocs_libfuzzer.go <<'GO'
package fuzz

import "testing"

func stdAllocsPerRun(runs int, f func()) float64 { return testing.AllocsPerRun(runs, f) }
GO

printf 'fuzzer\tseeds\tedges\tseed_cov\tseed_ft\tfinal_cov\tfinal_ft\tcorpus_files\tcorpus_bytes\texecs\texecs_per_s\tseconds\tresult\n' >"$out/summary.tsv"
status=0
for t in "${targets[@]}"; do
  echo "--- $t: build"
  (cd fuzz && "$gobin/go-118-fuzz-build" ${LIBFUZZER_INCLUDE:+-include "$LIBFUZZER_INCLUDE"} -o "$scratch/$t.a" -func "$t" .)
  "$CC" "${ldflags[@]}" "$scratch/$t.a" -lpthread -o "$out/bin/$t"
  [ -n "${LIBFUZZER_BUILD_ONLY:-}" ] && continue
  rm -rf "$out/corpus/$t" && mkdir -p "$out/corpus/$t"
  cp "$out/seeds/$t"/* "$out/corpus/$t"/ 2>/dev/null || true
  seeds=$(find "$out/seeds/$t" -type f | wc -l)
  echo "--- $t: ${time_per}s on $seeds seeds"
  result=ok
  # -rss_limit_mb: the Go runtime reserves more than the 2 GB default sees.
  (cd "$root/fuzz" && "$out/bin/$t" -max_total_time="$time_per" -print_final_stats=1 -rss_limit_mb=4096 \
    -artifact_prefix="$out/$t-" "$out/corpus/$t") >"$out/$t.log" 2>&1 || { result=crash; status=1; }
  inited=$(grep -m1 'INITED' "$out/$t.log" || true)
  last=$(grep -E '^#[0-9]+' "$out/$t.log" | tail -1 || true)
  field() { sed -n "s/.* $1: \([0-9]*\).*/\1/p" <<<"$2"; }
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$t.log")
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$out/$t.log" | awk '{print $5}' || true)
  edges=$(sed -n 's/.*Loaded 1 modules *(\([0-9]*\) inline 8-bit counters.*/\1/p' "$out/$t.log" | head -1)
  files=$(find "$out/corpus/$t" -type f | wc -l)
  bytes=$(find "$out/corpus/$t" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$seeds" "${edges:-?}" "$(field cov "$inited")" "$(field ft "$inited")" \
    "$(field cov "$last")" "$(field ft "$last")" "$files" "$bytes" "${execs:-?}" "${rate:-?}" "${secs:-?}" "$result" >>"$out/summary.tsv"
  if [ "$result" = crash ]; then
    echo "--- $t: CRASH, log $out/$t.log"; tail -40 "$out/$t.log"
    for c in "$out/$t"-crash-* "$out/$t"-leak-* "$out/$t"-timeout-* "$out/$t"-oom-*; do
      [ -f "$c" ] || continue
      echo "input kept: $c"
    done
  fi
done
cd "$root"
if command -v column >/dev/null; then column -t -s $'\t' "$out/summary.tsv"; else cat "$out/summary.tsv"; fi
exit "$status"
