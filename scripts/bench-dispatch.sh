#!/usr/bin/env bash
# What one dispatch decision costs the coordinator's conductor as workers and queued jobs grow
# (fair share, priorities and weights on): the core driven on a hand-set clock, no sockets.
#   scripts/bench-dispatch.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
echo "weft dispatch bench, $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs"
./build -q -pl coordinator -am install -DskipTests >/dev/null
./build -q -pl coordinator test -Dtest=DispatchScaleBench -Dsurefire.failIfNoSpecifiedTests=false \
  -DtrimStackTrace=false 2>&1 | sed -n '/^workers /,/^$/p'
