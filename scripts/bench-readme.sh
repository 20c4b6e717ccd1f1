#!/usr/bin/env bash
# Runs `weft bench` and writes its figures into docs/transports.md, between the lines
# <!-- bench-figures --> and <!-- /bench-figures -->: the date, the machine's CPU count and model
# (from /proc/cpuinfo), the exact command, and one table per path. Nothing in that section is
# copied by hand; run this again to refresh it.
#   scripts/bench-readme.sh                          the default bench (both paths, all transports)
#   scripts/bench-readme.sh --client-tasks 100000    any other `weft bench` options
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readme="$root/docs/transports.md"
begin='<!-- bench-figures -->'
end='<!-- /bench-figures -->'

if ! command -v jq >/dev/null 2>&1; then
  echo "bench-readme: jq is missing (Debian: apt-get install jq)" >&2
  exit 1
fi
if [ "$(grep -cxF "$begin" "$readme")" != 1 ] || [ "$(grep -cxF "$end" "$readme")" != 1 ]; then
  echo "bench-readme: $readme must hold the lines $begin and $end once each" >&2
  exit 1
fi

json=$(mktemp)
section=$(mktemp)
trap 'rm -f "$json" "$section"' EXIT

# The bench prints its progress on stderr, which stays on the terminal.
"$root/weft" bench --json "$@" >"$json"

cpus=$(nproc)
model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
day=$(date -u +%Y-%m-%d)
command="weft bench${*:+ $*}"

# Numbers as the tables show them: thousands apart with commas, a fixed count of decimals.
jq_defs='
  def fixed(d): (. * pow(10; d) | round) as $n
    | ($n | tostring) as $s
    | if d == 0 then $s else
        ($s | if length <= d then ("0" * (d - length + 1)) + . else . end)
        | .[0:length - d] + "." + .[length - d:]
      end;
  def grouped: tostring
    | if length <= 3 then . else (.[0:length - 3] | grouped) + "," + .[length - 3:] end;
'

{
  echo "$begin"
  echo "<!-- Written by scripts/bench-readme.sh from one run; run the script again instead of editing. -->"
  echo "\`$command\` on $day, $cpus CPUs ($model):"
  if jq -s -e 'any(.[]; .path == "link")' "$json" >/dev/null; then
    echo
    echo "Link path (jobs submitted inside the coordinator's JVM, one worker process per transport):"
    echo
    echo "| transport | RTT p50 µs | RTT p99 µs | RTT p99.9 µs | tasks/s | MB/s 64 KiB | MB/s 1 MiB |"
    echo "|---|---|---|---|---|---|---|"
    jq -r "$jq_defs"'select(.path == "link")
      | "| \(.transport)\(if .journal then "+journal" else "" end)"
        + " | \(.rtt_p50_us | fixed(1)) | \(.rtt_p99_us | fixed(1)) | \(.rtt_p999_us | fixed(1))"
        + " | \(.tasks_per_s | round | grouped) | \(.mb_per_s_64k | round | grouped)"
        + " | \(.mb_per_s_1m | round | grouped) |"' "$json"
  fi
  if jq -s -e 'any(.[]; .path == "client")' "$json" >/dev/null; then
    jq -r 'select(.path == "client") | "\(.workers) \(.slots) \(.in_flight) \(.big_job_tasks)"' "$json" \
      | head -1 | {
      read -r workers slots in_flight big
      echo
      echo "Client path (a separate client process over the coordinator's gRPC port with TLS and a token, journal on,"
      echo "$workers worker processes of $slots slots per transport; API says which calls the client"
      echo "used: SubmitJob+WatchJob where the coordinator did not serve RunJob or RunJobs):"
      echo
      echo "| transport | API | bare unary p50 µs | job round trip p50 µs | p99 µs | jobs/s, $in_flight in flight | tasks/s, one job of $big | sum 1..1e9, 100 tasks, ms |"
      echo "|---|---|---|---|---|---|---|---|"
    }
    jq -r "$jq_defs"'select(.path == "client")
      | "| \(.transport) | \(if .api == .pipeline_api then .api else .api + ", " + .pipeline_api end)"
        + " | \(.unary_p50_us | fixed(1)) | \(.rtt_p50_us | fixed(1)) | \(.rtt_p99_us | fixed(1))"
        + " | \(.jobs_per_s | round | grouped) | \(.big_job_tasks_per_s | round | grouped)"
        + " | \(.sum_ms | fixed(1)) |"' "$json"
  fi
  echo "$end"
} >"$section"

tmp="$readme.bench-readme.$$"
awk -v begin="$begin" -v end="$end" -v section="$section" '
  $0 == begin { while ((getline line < section) > 0) print line; skipping = 1; next }
  $0 == end { skipping = 0; next }
  !skipping { print }
' "$readme" >"$tmp"
mv "$tmp" "$readme"
echo "bench-readme: wrote the figures of '$command' into $readme" >&2
