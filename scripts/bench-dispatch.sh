#!/usr/bin/env bash
# What one dispatch decision costs the coordinator's conductor as workers and queued jobs grow
# (fair share, priorities and weights on): the core driven on a hand-set clock, no sockets.
#   scripts/bench-dispatch.sh           prints the table
#   scripts/bench-dispatch.sh --readme  also writes it into docs/transports.md between
#                                       <!-- dispatch-figures --> and <!-- /dispatch-figures -->
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
log=$(mktemp)
if ! ./build -q -Dstyle.color=never -pl coordinator -am install -DskipTests >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
table=$(./build -q -Dstyle.color=never -pl coordinator test -Dtest=DispatchScaleBench \
  -Dsurefire.failIfNoSpecifiedTests=false 2>&1 | sed -n '/^| workers /,/^$/p')
if [ -z "$table" ]; then
  echo "bench-dispatch: the bench printed no table" >&2
  exit 1
fi
heading="\`scripts/bench-dispatch.sh\` on $(date -u +%Y-%m-%d), $(nproc) CPUs ($model):"
printf '%s\n\n%s\n' "$heading" "$table"
if [ "${1:-}" = "--readme" ]; then
  begin='<!-- dispatch-figures -->'
  end='<!-- /dispatch-figures -->'
  section=$(mktemp)
  trap 'rm -f "$section"' EXIT
  {
    echo "$begin"
    echo "<!-- Written by scripts/bench-dispatch.sh --readme from one run; run it again instead of editing. -->"
    printf '%s\n\n%s\n' "$heading" "$table"
    echo "$end"
  } >"$section"
  tmp="docs/transports.md.bench-dispatch.$$"
  awk -v begin="$begin" -v end="$end" -v section="$section" '
    $0 == begin { while ((getline line < section) > 0) print line; skipping = 1; next }
    $0 == end { skipping = 0; next }
    !skipping { print }
  ' docs/transports.md >"$tmp"
  mv "$tmp" docs/transports.md
  echo "bench-dispatch: wrote the figures into docs/transports.md" >&2
fi
