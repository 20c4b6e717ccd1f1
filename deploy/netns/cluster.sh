#!/usr/bin/env bash
# A small weft cluster on one machine, made of network namespaces joined by a bridge:
#
#   <prefix>-coord   10.77.0.10  the coordinator, and a worker beside it (same host: shared memory)
#   <prefix>-w1      10.77.0.11  a worker host (gRPC over its veth link)
#   <prefix>-w2      10.77.0.12  another worker host
#   <prefix>-client  10.77.0.20  where clients run (cluster.sh client ...)
#
# Every weft process runs from the distribution (weft-VERSION.tar.gz, built by ./build package),
# inside its namespace, and joins with the coordinator's token.
#
#   cluster.sh up        make the namespaces, links and bridge; start the coordinator and workers
#   cluster.sh status    what runs, and `weft workers` as the client sees it
#   cluster.sh client ARGS...
#                        run `weft ARGS...` in the client namespace against the coordinator
#   cluster.sh kill NODE SIGTERM has the weft processes of NODE (coord, w1, w2) stop; SIGKILL:
#                        cluster.sh kill w1 KILL
#   cluster.sh down      stop every process, remove every namespace, link, segment and file it made
#
# Settings (environment): WEFT_NETNS_PREFIX (default weft, at most 6 characters: it names the
# namespaces and links), WEFT_NETNS_SUBNET (default 10.77.0, a /24 nobody else uses), WEFT_DIST
# (an unpacked distribution or a tarball; default: the newest dist/target/weft-*.tar.gz).
set -euo pipefail

prefix=${WEFT_NETNS_PREFIX:-weft}
subnet=${WEFT_NETNS_SUBNET:-10.77.0}
port=7070
state=/run/weft-netns-$prefix
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bridge=${prefix}br0
nodes=(coord w1 w2 client)

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

ip_of() {
  case "$1" in
    coord) echo "$subnet.10" ;;
    w1) echo "$subnet.11" ;;
    w2) echo "$subnet.12" ;;
    client) echo "$subnet.20" ;;
    *) die "no node '$1' (nodes: ${nodes[*]})" ;;
  esac
}

need_root() {
  [ "$(id -u)" = 0 ] || die "needs root to create network namespaces, links and a bridge (try: sudo $0 $*)"
  command -v ip >/dev/null 2>&1 || die "needs iproute2's ip (Debian: apt-get install iproute2)"
  [ ${#prefix} -le 6 ] || die "WEFT_NETNS_PREFIX must be at most 6 characters (it names links), got '$prefix'"
}

# The distribution's home directory (with bin/weft), unpacked under the state directory if needed.
dist_home() {
  local source=${WEFT_DIST:-}
  if [ -z "$source" ]; then
    source=$(ls -t "$repo"/dist/target/weft-*.tar.gz 2>/dev/null | head -n 1 || true)
    [ -n "$source" ] || die "no distribution found: build it with ./build package (or set WEFT_DIST)"
  fi
  if [ -d "$source" ]; then
    [ -x "$source/bin/weft" ] || die "$source has no bin/weft: is it an unpacked weft distribution?"
    echo "$source"
    return
  fi
  [ -f "$source" ] || die "WEFT_DIST=$source is neither a directory nor a file"
  mkdir -p "$state/dist"
  tar -xzf "$source" -C "$state/dist"
  local home
  home=$(find "$state/dist" -mindepth 2 -maxdepth 2 -name bin -type d | head -n 1)
  [ -n "$home" ] && [ -x "$home/weft" ] || die "$source does not unpack to a weft distribution"
  dirname "$home"
}

in_ns() {
  local node=$1
  shift
  ip netns exec "$prefix-$node" "$@"
}

# Starts `weft ARGS...` in NODE's namespace, detached, logging to $state/logs/NAME.log.
start() {
  local node=$1 name=$2
  shift 2
  local weft
  weft=$(cat "$state/home")/bin/weft
  mkdir -p "$state/logs"
  # setsid: the process outlives this script and gets its own group; stdin from /dev/null.
  # `ip netns exec` mounts a fresh /sys without the cgroup file systems: mount the cgroup2
  # hierarchy again, in that private mount namespace, so workers give exec tasks cgroups of their
  # own as on a real host (they run without if it cannot be mounted).
  ip netns exec "$prefix-$node" setsid sh -c \
    'mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null; exec "$0" "$@"' "$weft" "$@" \
    </dev/null >"$state/logs/$name.log" 2>&1 &
  echo "$! $node $name" >>"$state/pids"
}

await_log() {
  local file=$1 pattern=$2 seconds=$3
  local deadline=$((SECONDS + seconds))
  until grep -q -- "$pattern" "$file" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "timed out after ${seconds}s waiting for '$pattern' in $file:
$(tail -n 20 "$file" 2>/dev/null)"
    sleep 0.2
  done
}

token() {
  local weft
  weft=$(cat "$state/home")/bin/weft
  in_ns coord "$weft" token show --data-dir "$state/coord-data" --quiet
}

up() {
  need_root up
  [ ! -e "$state" ] || die "a cluster '$prefix' is already up (state in $state); run: $0 down"
  mkdir -p "$state"
  chmod 0700 "$state"
  dist_home >"$state/home"
  ip link add "$bridge" type bridge
  ip addr add "$subnet.1/24" dev "$bridge"
  ip link set "$bridge" up
  for node in "${nodes[@]}"; do
    ip netns add "$prefix-$node"
    ip link add "$prefix${node}h" type veth peer name "$prefix${node}n"
    ip link set "$prefix${node}h" master "$bridge" up
    ip link set "$prefix${node}n" netns "$prefix-$node"
    in_ns "$node" ip addr add "$(ip_of "$node")/24" dev "$prefix${node}n"
    in_ns "$node" ip link set "$prefix${node}n" up
    in_ns "$node" ip link set lo up
  done

  local coordinator
  coordinator="$(ip_of coord):$port"
  start coord coordinator coordinator --listen "$coordinator" --data-dir "$state/coord-data"
  await_log "$state/logs/coordinator.log" "listening on" 60
  local join_token
  join_token=$(token)
  echo "$join_token" >"$state/token"
  chmod 0600 "$state/token"
  # The client namespace's own token: the join token only attaches workers.
  (umask 077 && in_ns coord "$(cat "$state/home")/bin/weft" token create cluster-client \
    --role admin --allow-exec --data-dir "$state/coord-data" 2>/dev/null >"$state/client-token")
  # The token goes through the environment, not argv, so it does not show in ps.
  WEFT_TOKEN=$join_token start coord coord-worker worker --join "$coordinator" --id coord-worker
  WEFT_TOKEN=$join_token start w1 w1 worker --join "$coordinator" --id w1
  WEFT_TOKEN=$join_token start w2 w2 worker --join "$coordinator" --id w2
  for name in coord-worker w1 w2; do
    await_log "$state/logs/$name.log" "attached to coordinator" 60
  done
  echo "cluster '$prefix' is up: coordinator $coordinator; workers coord-worker (shm), w1, w2 (grpc)"
  echo "run clients with: $0 client submit sum --from 1 --to 1_000_000_000 --wait"
}

client() {
  [ -e "$state/home" ] || die "no cluster '$prefix' is up; run: $0 up"
  local weft
  weft=$(cat "$state/home")/bin/weft
  WEFT_COORDINATOR="$(ip_of coord):$port" WEFT_TOKEN=$(cat "$state/client-token") \
    ip netns exec "$prefix-client" "$weft" "$@"
}

status() {
  [ -e "$state" ] || {
    echo "cluster '$prefix' is down"
    return 0
  }
  echo "cluster '$prefix' (state in $state):"
  while read -r pid node name; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "  $name in $prefix-$node: running (pid $pid)"
    else
      echo "  $name in $prefix-$node: gone"
    fi
  done <"$state/pids"
  client workers || true
}

kill_node() {
  local node=$1 signal=${2:-TERM}
  [ -e "$state/pids" ] || die "no cluster '$prefix' is up"
  ip_of "$node" >/dev/null
  while read -r pid pid_node name; do
    if [ "$pid_node" = "$node" ] && kill -0 "$pid" 2>/dev/null; then
      kill -s "$signal" -- "-$pid" 2>/dev/null || kill -s "$signal" "$pid" 2>/dev/null || true
      echo "sent SIG$signal to $name (pid $pid)"
    fi
  done <"$state/pids"
}

# Removes what this cluster's workers keep about their running exec tasks, which a worker killed
# with SIGKILL leaves behind (see "Task processes" and "Task cgroups" in the README): its records in
# ${XDG_RUNTIME_DIR:-/tmp}/weft-tasks-UID/PID-START and its cgroups weft-worker-PIDNS-PID-START
# under the cgroup it was started in. Their processes are gone already (see down).
sweep_task_leftovers() {
  local mount own dir task
  [ -f "$state/pids" ] || return 0
  local records
  records="${XDG_RUNTIME_DIR:-/tmp}/weft-tasks-$(id -u)"
  while read -r pid _ _; do
    rm -rf "$records/$pid"-*
  done <"$state/pids"
  rmdir "$records" 2>/dev/null || true # only when no other worker of this user records anything
  mount=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
  own=$(sed -n 's/^0:://p' /proc/self/cgroup)
  [ -n "$mount" ] && [ -n "$own" ] || return 0
  while read -r pid _ _; do
    for dir in "$mount$own"/weft-worker-*-"$pid"-*; do
      [ -d "$dir" ] || continue
      for task in "$dir"/task-*; do
        [ -d "$task" ] || continue
        echo 1 >"$task/cgroup.kill" 2>/dev/null || true
        local deadline=$((SECONDS + 5))
        while grep -q '^populated 1' "$task/cgroup.events" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
          sleep 0.1
        done
        rmdir "$task" 2>/dev/null || echo "cannot remove $task" >&2
      done
      rmdir "$dir" 2>/dev/null || echo "cannot remove $dir" >&2
    done
  done <"$state/pids"
}

down() {
  need_root down
  local coordinator_id=""
  if [ -f "$state/logs/coordinator.log" ]; then
    coordinator_id=$(sed -n 's/^weft coordinator \([0-9a-f]*\) listening on.*/\1/p' "$state/logs/coordinator.log" | head -n 1)
  fi
  if [ -f "$state/pids" ]; then
    # Each process leads its own group (setsid): signal the groups, so task processes go too.
    while read -r pid _ _; do kill -TERM -- "-$pid" 2>/dev/null || true; done <"$state/pids"
    local deadline=$((SECONDS + 30))
    while read -r pid _ _; do
      while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    done <"$state/pids"
  fi
  # Whatever still runs inside our namespaces (task processes that left their group) goes too.
  for node in "${nodes[@]}"; do
    if ip netns list | grep -qw "$prefix-$node"; then
      for pid in $(ip netns pids "$prefix-$node" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$prefix-$node"
    fi
    ip link del "$prefix${node}h" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  sweep_task_leftovers
  if [ -n "$coordinator_id" ]; then
    rm -f /dev/shm/weft-"$coordinator_id"-*
  fi
  rm -rf "$state"
  echo "cluster '$prefix' is down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  client)
    shift
    client "$@"
    ;;
  kill)
    [ $# -ge 2 ] || die "usage: $0 kill NODE [SIGNAL]"
    kill_node "$2" "${3:-TERM}"
    ;;
  *)
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
