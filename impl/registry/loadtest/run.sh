#!/usr/bin/env bash
# Load test: bun13's registry against Verdaccio 6, side by side on loopback,
# with wrk (apt-get install -y wrk). Prints a markdown table.
#
#   impl/registry/loadtest/run.sh
#
# Environment: DURATION (10s), CONNS (50), THREADS (2), BUN_PORT (4901),
# VERD_PORT (4902), WORK (a temp dir), VERDACCIO_DIR (where verdaccio@6 is
# or gets npm-installed; default $WORK/verdaccio), SKIP_VERDACCIO=1,
# ACCESS_LOG=true (bun13 logs every request to a file; default false),
# PIN=1 (servers on CPU 1 with GOMAXPROCS=1, wrk -t1 on CPU 0: the load
# generator no longer competes with the server for cores; needs taskset),
# DELAY_MS=1 (each connection waits that long between requests, so the
# offered rate is bounded and p99 is measured below saturation),
# NICE=-10 (run servers and wrk at that nice level, as root: on a shared
# machine other work then disturbs the measurement less).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
WORK=${WORK:-$(mktemp -d)}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
BUN_PORT=${BUN_PORT:-4901}
VERD_PORT=${VERD_PORT:-4902}
VERDACCIO_DIR=${VERDACCIO_DIR:-$WORK/verdaccio}
ACCESS_LOG=${ACCESS_LOG:-false}
SRV_PIN=(); WRK_PIN=()
if [ -n "${NICE:-}" ]; then
  SRV_PIN=(nice -n "$NICE"); WRK_PIN=(nice -n "$NICE")
fi
if [ -n "${PIN:-}" ]; then
  SRV_PIN+=(taskset -c 1 env GOMAXPROCS=1); WRK_PIN+=(taskset -c 0); THREADS=1
fi
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }
command -v node >/dev/null || { echo "node not found" >&2; exit 2; }

wait_up() { # URL
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server at $1 did not come up" >&2; return 1
}

echo "work dir: $WORK" >&2
go build -o "$WORK/bun13" "$ROOT/impl/cmd/bun13"
go build -o "$WORK/floor" "$ROOT/impl/registry/loadtest/floor"
FLOOR_PORT=${FLOOR_PORT:-4903}
("${SRV_PIN[@]}" "$WORK/floor" "127.0.0.1:$FLOOR_PORT") &
PIDS+=($!)
mkdir -p "$WORK/bun"
(
  cd "$WORK/bun"
  printf 'bench-password-1\n' | "$WORK/bun13" user add bench --role publish --data data >/dev/null
)
# The default config's flags (RATE_LIMIT on, with a read limit no single
# benchmark client reaches, so the limiter's cost is measured).
(cd "$WORK/bun" && exec "${SRV_PIN[@]}" env BUN_CONFIG_FEATURE_FLAGS=COMPRESSION,DNS_CACHE,RATE_LIMIT,METRICS \
  "$WORK/bun13" registry serve --addr "127.0.0.1:$BUN_PORT" --data data --lockfile bun.lockb \
  --rate-read 1000000000 --access-log="$ACCESS_LOG" >out.log 2>server.log) &
PIDS+=($!)
wait_up "http://127.0.0.1:$BUN_PORT/-/ping"
BUN_TOKEN=$(node "$HERE/publish.mjs" "http://127.0.0.1:$BUN_PORT" bench bench-password-1)

if [ -z "${SKIP_VERDACCIO:-}" ]; then
  mkdir -p "$VERDACCIO_DIR"
  if [ ! -x "$VERDACCIO_DIR/node_modules/.bin/verdaccio" ]; then
    # verdaccio-audit asks for node-fetch@cjs, a dist-tag some mirrors lack.
    echo '{"name":"verdaccio-bench","private":true,"dependencies":{"verdaccio":"^6"},"overrides":{"node-fetch":"2.7.0"}}' >"$VERDACCIO_DIR/package.json"
    (cd "$VERDACCIO_DIR" && npm install --no-audit --no-fund --loglevel=error >&2)
  fi
  mkdir -p "$WORK/verd"
  cat >"$WORK/verd/config.yaml" <<YAML
storage: $WORK/verd/storage
auth:
  htpasswd:
    file: $WORK/verd/htpasswd
    max_users: 1000
uplinks: {}
packages:
  '@*/*':
    access: \$all
    publish: \$authenticated
  '**':
    access: \$all
    publish: \$authenticated
security:
  api:
    jwt:
      sign:
        expiresIn: 7d
max_body_size: 100mb
log: { type: stdout, format: json, level: warn }
YAML
  (cd "$WORK/verd" && exec "${SRV_PIN[@]}" "$VERDACCIO_DIR/node_modules/.bin/verdaccio" --config config.yaml \
    --listen "127.0.0.1:$VERD_PORT" >verdaccio.log 2>&1) &
  PIDS+=($!)
  wait_up "http://127.0.0.1:$VERD_PORT/-/ping"
  VERD_TOKEN=$(node "$HERE/publish.mjs" "http://127.0.0.1:$VERD_PORT" bench bench-password-1)
  VERD_VERSION=$("$VERDACCIO_DIR/node_modules/.bin/verdaccio" --version)
fi

ABBREV='application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*'
# wrk URL TOKEN ACCEPT -> "rps p50 p99 errors"
bench() {
  local out
  out=$(TOKEN="$2" ACCEPT="$3" "${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$HERE/headers.lua" "$1")
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  echo "$rps $p50 $p99 ${errs:-0}"
}

targets=(
  "packument full, 3 versions|/bench-small|application/json"
  "packument abbreviated, 3 versions|/bench-small|$ABBREV"
  "packument full, 200 versions|/@bench%2fbig|application/json"
  "packument abbreviated, 200 versions|/@bench%2fbig|$ABBREV"
  "tarball (4 KiB)|/bench-small/-/bench-small-1.0.0.tgz|application/octet-stream"
)
echo
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency, Accept-Encoding: gzip; bun13 access log: $ACCESS_LOG; verdaccio ${VERD_VERSION:-skipped}; pinned: ${PIN:-no}; nice: ${NICE:-0}; delay: ${DELAY_MS:-0}ms; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| request | auth | bun13 req/s | bun13 p50 | bun13 p99 | Verdaccio req/s | Verdaccio p50 | Verdaccio p99 | ratio |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
floor_row() {
  read -r frps fp50 fp99 _ <<<"$(bench "http://127.0.0.1:$FLOOR_PORT/" "" application/json)"
  echo "| *floor: a do-nothing Go server, same moment* | none | $frps | $fp50 | $fp99 | | | | |"
}
wait_up "http://127.0.0.1:$FLOOR_PORT/"
floor_row
for t in "${targets[@]}"; do
  IFS='|' read -r label path accept <<<"$t"
  for auth in none bearer; do
    bt=""; vt=""
    if [ "$auth" = bearer ]; then bt=$BUN_TOKEN; vt=${VERD_TOKEN:-}; fi
    read -r brps bp50 bp99 berr <<<"$(bench "http://127.0.0.1:$BUN_PORT$path" "$bt" "$accept")"
    if [ -z "${SKIP_VERDACCIO:-}" ]; then
      read -r vrps vp50 vp99 verr <<<"$(bench "http://127.0.0.1:$VERD_PORT$path" "$vt" "$accept")"
      ratio=$(awk -v a="$brps" -v b="$vrps" 'BEGIN { if (b > 0) printf "%.0fx", a / b; else print "-" }')
    else
      vrps=-; vp50=-; vp99=-; verr=0; ratio=-
    fi
    note=""
    [ "$berr" != 0 ] && note=" (bun13 non-2xx: $berr)"
    [ "$verr" != 0 ] && note="$note (verdaccio non-2xx: $verr)"
    echo "| $label$note | $auth | $brps | $bp50 | $bp99 | $vrps | $vp50 | $vp99 | $ratio |"
  done
done
floor_row
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
