#!/bin/bash -eu
# OSS-Fuzz and ClusterFuzzLite build script (both run it as $SRC/build.sh
# in the base-builder-go image, with the checkout in $SRC/bun13). It builds
# every native fuzzer of ./fuzz with fuzz/libfuzzer.sh, the same script
# .ci/run runs, linked with the engine's flags, and ships each fuzzer's
# seeds (the f.Add calls and fuzz/testdata/fuzz/, in libFuzzer's input
# encoding) as FUZZER_seed_corpus.zip.
cd "$SRC/bun13"
if [ "${SANITIZER:-}" = coverage ]; then
  # Coverage builds of native Go fuzzers go through OSS-Fuzz's own
  # compile_native_go_fuzzer, whose rewrite keeps only the harness's file
  # and breaks helpers shared by the fuzz package's files. Not supported
  # yet: see fuzz/README.md.
  echo "bun13: no coverage build (fuzz/README.md)" >&2
  exit 1
fi
CC="$CXX" LIBFUZZER_LDFLAGS="$CXXFLAGS $LIB_FUZZING_ENGINE" \
  LIBFUZZER_OUT="$WORK/bun13-libfuzzer" LIBFUZZER_BUILD_ONLY=1 fuzz/libfuzzer.sh
for bin in "$WORK"/bun13-libfuzzer/bin/*; do
  name=$(basename "$bin")
  cp "$bin" "$OUT/$name"
  (cd "$WORK/bun13-libfuzzer/seeds/$name" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
done
