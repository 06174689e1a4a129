#!/usr/bin/env bash
# Runs pycos's netpycos on the bench's remote workloads, beside `cargo run --release -p
# rcos-bench -- --pycos`. Installs pycos 4.12 into bench/pycos/.venv on first use.
# Usage: bench/pycos/run.sh N_ONEWAY N_ROUNDTRIPS
set -euo pipefail
cd "$(dirname "$0")"
n=${1:-20000}
m=${2:-2000}
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv >&2
    .venv/bin/pip install --quiet 'pycos==4.12.1' >&2
fi
out=$(mktemp)
.venv/bin/python netpycos_bench.py server > "$out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 200); do
    grep -q '^PORT' "$out" && break
    sleep 0.05
done
port=$(awk '/^PORT/ {print $2}' "$out")
[ -n "$port" ] || { echo "the pycos server did not start" >&2; exit 1; }
timeout 900 .venv/bin/python netpycos_bench.py client "$port" "$n" "$m" 2>/dev/null
