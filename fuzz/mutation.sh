#!/usr/bin/env bash
# Mutation score of the format packages with gremlins, one package at a
# time, then fuzz/mutation for the mutants gremlins does not run (switch
# cases, package-level declarations: NOT COVERED however well tested) or
# cut off (TIMED OUT on a loaded machine).
#
#   fuzz/mutation.sh                         # the five packages
#   fuzz/mutation.sh impl/frame impl/codes   # some of them
#   MUTATION_BASE=origin/main fuzz/mutation.sh   # only lines changed since a commit
#
# Prints one table row per package and exits 1 when a package's merged
# test efficacy or mutator coverage is below MUTATION_EFFICACY /
# MUTATION_MCOVER (95 by default), or when a mutant survives that the
# equivalent-mutants table of fuzz/README.md does not list. With
# MUTATION_BASE only the packages and the lines changed since that commit
# are mutated (gremlins --diff) and only the last rule applies: a handful
# of mutants makes no percentage. Reports (gremlins' JSON, merged JSON,
# logs) go to MUTATION_OUT (default: a new temp dir, printed).
# gremlins is CPU-heavy: MUTATION_WORKERS (default 1) mutants at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"
# Pinned so that scores compare from one run to the next.
GREMLINS_VERSION=${GREMLINS_VERSION:-v0.6.0}
efficacy=${MUTATION_EFFICACY:-95}
mcover=${MUTATION_MCOVER:-95}
workers=${MUTATION_WORKERS:-1}
out=${MUTATION_OUT:-$(mktemp -d /tmp/bun13-mutation.XXXXXX)}
mkdir -p "$out"

if [ "$#" -gt 0 ]; then
  pkgs=("$@")
else
  pkgs=(impl/codes impl/frame impl/headers impl/config impl/lockfile)
fi
if [ -n "${MUTATION_BASE:-}" ]; then
  changed=()
  for p in "${pkgs[@]}"; do
    if ! git diff --quiet "$MUTATION_BASE" -- "$p" 2>/dev/null; then changed+=("$p"); fi
  done
  if [ "${#changed[@]}" -eq 0 ]; then
    echo "mutation: no package of ${pkgs[*]} changed since $MUTATION_BASE"
    exit 0
  fi
  pkgs=("${changed[@]}")
fi

if ! gremlins --version 2>/dev/null | grep -q .; then
  go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
fi
go build -o "$out/mutation" ./fuzz/mutation
echo "mutation: reports in $out"

status=0
rows=()
for p in "${pkgs[@]}"; do
  name=${p//\//-}
  echo "--- $p: gremlins"
  start=$(date +%s)
  # -count=1: gremlins' mutant timeout is a multiple of this coverage run,
  # which must therefore run the tests rather than replay a cached result.
  diff=()
  bars=(-efficacy "$efficacy" -mcover "$mcover")
  if [ -n "${MUTATION_BASE:-}" ]; then
    diff=(--diff "$MUTATION_BASE")
    bars=()
  fi
  GOFLAGS="${GOFLAGS:-} -count=1" gremlins unleash --workers "$workers" --timeout-coefficient 10 "${diff[@]}" \
    -o "$out/$name.gremlins.json" "./$p" >"$out/$name.gremlins.log" 2>&1 || true
  grep -E 'LIVED|NOT COVERED|TIMED OUT|NOT VIABLE|^Killed|^Timed|^Test efficacy|^Mutator coverage' "$out/$name.gremlins.log" || true
  [ -s "$out/$name.gremlins.json" ] || { echo "gremlins wrote no report for $p"; cat "$out/$name.gremlins.log"; exit 2; }
  echo "--- $p: not covered and timed-out mutants"
  rc=0
  "$out/mutation" -report "$out/$name.gremlins.json" -pkg "$p" -o "$out/$name.merged.json" -timeout 30s \
    "${bars[@]}" -equivalents fuzz/README.md -strict | tee "$out/$name.merged.log" || rc=$?
  [ "$rc" -eq 2 ] && exit 2
  [ "$rc" -ne 0 ] && status=1
  rows+=("$p|$(sed -n 's/^gremlins: //p' "$out/$name.merged.log")|$(sed -n 's/^merged:   //p' "$out/$name.merged.log")|$(( $(date +%s) - start ))s")
done
echo
echo "| package | gremlins alone | with fuzz/mutation | time |"
echo "|---|---|---|---|"
for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
exit "$status"
