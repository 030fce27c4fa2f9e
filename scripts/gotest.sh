#!/usr/bin/env bash
# Runs the Go tests verbosely into a log, prints the per-package results and a closing count,
# and fails when a test failed or was skipped (integration tests must run, not skip).
set -uo pipefail
log=${GOTEST_LOG:-.testdirs/test.log}
mkdir -p "$(dirname "$log")"
go test -race -count=1 -v "$@" > "$log" 2>&1
rc=$?
grep -E '^(ok|FAIL|\?)\s' "$log"
passed=$(grep -cE '^\s*--- PASS' "$log")
failed=$(grep -cE '^\s*--- FAIL' "$log")
skipped=$(grep -cE '^\s*--- SKIP' "$log")
if [ "$rc" != 0 ] || [ "$failed" != 0 ]; then
  echo; echo "failures (full log: $log):"
  grep -E -B2 -A30 '^\s*--- FAIL|^panic:|\[build failed\]|^# ' "$log" | head -300
fi
if [ "$skipped" != 0 ]; then
  echo; echo "skipped tests (CI requires every test to run):"; grep -E -A3 '^\s*--- SKIP' "$log"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$rc" = 0 ] && [ "$failed" = 0 ] && [ "$skipped" = 0 ]
