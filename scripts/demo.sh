#!/usr/bin/env bash
# The README's first command: fresh demo forests, then doctor, plan, sync --confirm, plan again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "bring up the demo forests (SOURCE CONTOSO.TEST on 127.0.0.1, TARGET NORTHWIND.TEST on ::1)"
bash scripts/testdirs.sh up
bash scripts/testdirs.sh reset          # start from the seeded demo data every time
# shellcheck source=/dev/null
. .testdirs/env
mkdir -p out && rm -f out/demo-journal.db*
x=bin/xtmsyncd
[ -x "$x" ] || go build -o "$x" ./cmd/xtmsyncd

step "xtmsyncd doctor"
$x doctor -config configs/demo.yaml
step "xtmsyncd scope: the source mailboxes in scope"
$x scope -config configs/demo.yaml
step "xtmsyncd plan (dry run; also saved as out/plan.json and out/plan.ldif)"
$x plan -config configs/demo.yaml
$x plan -config configs/demo.yaml -o json --out out/plan.json 2>/dev/null
$x plan -config configs/demo.yaml -o ldif --out out/plan.ldif 2>/dev/null
step "xtmsyncd sync --confirm"
$x sync -config configs/demo.yaml --confirm -o json > out/sync-plan.json
step "xtmsyncd plan again: nothing left to do"
$x plan -config configs/demo.yaml --detailed-exitcode && echo "plan is empty (exit 0)"
step "xtmsyncd validate: which mailboxes can move (exit 5: some are blocked, as the demo intends)"
$x validate -config configs/demo.yaml -o csv --out out/validate.csv 2>/dev/null || true
$x validate -config configs/demo.yaml 2>/dev/null | sed -n '1,3p;/^blocked\|^warning/p' || true
step "xtmsyncd batches: New-MigrationBatch files in out/batches (delegates kept together)"
$x batches -config configs/demo.yaml --outdir out/batches --size 10 2>/dev/null | grep -v '^left out'
step "xtmsyncd journal list"
$x journal list -config configs/demo.yaml
