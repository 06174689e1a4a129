#!/usr/bin/env bash
# Runs pycos on the bench's workloads, beside `cargo run --release -p rcos-bench --
# --pycos`: the local ones (local_bench.py: spawn, ping-pong, call, call chain, fan-in,
# broadcast through a pycos Channel, idle memory) and the remote ones (netpycos_bench.py:
# two netpycos programs on loopback). Prints RESULT,pycos,... lines.
# Installs pycos 4.12.1 from PyPI into bench/pycos/.venv on first use.
# Usage: bench/pycos/run.sh [full|quick]            (default full)
#        bench/pycos/run.sh N_ONEWAY N_ROUNDTRIPS   (the remote workloads only)
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv >&2
    .venv/bin/pip install --quiet 'pycos==4.12.1' >&2
fi
case "${1:-full}" in
    full) mode=full; n=100000; m=5000 ;;
    quick) mode=quick; n=10000; m=1000 ;;
    *) mode=none; n=$1; m=${2:-2000} ;;
esac
if [ "$mode" != none ]; then
    .venv/bin/python local_bench.py "$mode"
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
