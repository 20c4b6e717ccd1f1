#!/usr/bin/env bash
# A small weft cluster on one machine, made of network namespaces joined by a bridge:
#
#   <prefix>-coord   10.77.0.10  the coordinator, and a worker beside it (same host: shared memory)
#   <prefix>-w1      10.77.0.11  a worker host (gRPC over its veth link)
#   <prefix>-w2      10.77.0.12  another worker host
#   <prefix>-client  10.77.0.20  where clients run (cluster.sh client ...)
#
# With --ha, a coordinator pair on one PostgreSQL journal (a leader and a standby) instead of one:
#
#   <prefix>-pg      10.77.0.5   PostgreSQL: a cluster of its own (initdb'd under /run, run as nobody)
#   <prefix>-coord   10.77.0.10  a coordinator (the first to start, so it leads), a worker beside it
#   <prefix>-coord2  10.77.0.13  the other coordinator: stands by, takes over when the leader dies
#
# Every weft process runs from the distribution (weft-VERSION.tar.gz, built by ./build package),
# inside its namespace, and joins with the coordinator's token.
#
#   cluster.sh up [--ha] make the namespaces, links and bridge; start the coordinator and workers
#                        (--ha: PostgreSQL and two coordinators on it)
#   cluster.sh status    what runs, who leads (--ha), and `weft workers` as the client sees it
#   cluster.sh client ARGS...
#                        run `weft ARGS...` in the client namespace against the coordinator
#   cluster.sh kill NODE SIGTERM has the weft processes of NODE (coord, coord2, w1, w2) stop;
#                        SIGKILL: cluster.sh kill w1 KILL
#   cluster.sh down      stop every process, remove every namespace, link, segment and file it made
#
# Settings (environment): WEFT_NETNS_PREFIX (default weft, at most 6 characters: it names the
# namespaces and links), WEFT_NETNS_SUBNET (default 10.77.0, a /24 nobody else uses), WEFT_DIST
# (an unpacked distribution or a tarball; default: the newest dist/target/weft-*.tar.gz),
# WEFT_NETNS_PG_BIN (--ha: PostgreSQL's bin directory; default the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

prefix=${WEFT_NETNS_PREFIX:-weft}
subnet=${WEFT_NETNS_SUBNET:-10.77.0}
port=7070
state=/run/weft-netns-$prefix
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bridge=${prefix}br0
# PostgreSQL's files (--ha) belong to nobody, who cannot enter the root-only state directory.
pgdir=/run/weft-netns-$prefix-pg
pg_port=5432
# The coordinators' HTTP port (--ha), on their namespaces' loopback: its /healthz tells the leader.
http_port=7071
# Every node there may be: down removes whichever exist.
all_nodes=(pg coord coord2 w1 w2 client)
if [ -f "$state/ha" ]; then
  nodes=(pg coord coord2 w1 w2 client)
else
  nodes=(coord w1 w2 client)
fi

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

ip_of() {
  case "$1" in
    coord) echo "$subnet.10" ;;
    w1) echo "$subnet.11" ;;
    w2) echo "$subnet.12" ;;
    coord2) echo "$subnet.13" ;;
    pg) echo "$subnet.5" ;;
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

# Whether PID runs (a zombie does not: nothing here may reap what it started in the background).
alive() {
  kill -0 "$1" 2>/dev/null && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]
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

# Makes the namespaces, their veth links and the bridge.
make_network() {
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
}

up() {
  local ha=false pg_bin=""
  if [ $# -gt 0 ]; then
    [ "$*" = --ha ] || die "usage: $0 up [--ha]"
    ha=true
  fi
  need_root up
  [ ! -e "$state" ] || die "a cluster '$prefix' is already up (state in $state); run: $0 down"
  [ ! -e "$pgdir" ] || die "$pgdir is left from an earlier cluster '$prefix'; run: $0 down"
  if $ha; then
    pg_bin=$(postgres_bin)
    command -v setpriv >/dev/null 2>&1 || die "--ha needs util-linux's setpriv to run PostgreSQL as nobody"
    id nobody >/dev/null 2>&1 || die "--ha runs PostgreSQL as the user nobody, which this host lacks"
  fi
  mkdir -p "$state"
  chmod 0700 "$state"
  dist_home >"$state/home"
  if $ha; then
    touch "$state/ha"
    nodes=(pg coord coord2 w1 w2 client)
  fi
  make_network
  if $ha; then
    up_ha "$pg_bin"
    return
  fi

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

# PostgreSQL's bin directory: WEFT_NETNS_PG_BIN, else the newest /usr/lib/postgresql/*/bin.
postgres_bin() {
  local bin=${WEFT_NETNS_PG_BIN:-}
  if [ -z "$bin" ]; then
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  local program
  for program in initdb postgres pg_isready psql; do
    [ -n "$bin" ] && [ -x "$bin/$program" ] ||
      die "--ha needs PostgreSQL's $program (Debian: apt-get install postgresql; or set" \
        "WEFT_NETNS_PG_BIN to the directory that has initdb, postgres, pg_isready and psql)"
  done
  echo "$bin"
}

# Runs a command as nobody, from / (nobody may not read the current directory).
as_nobody() {
  (cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@")
}

# The coordinators of the pair (--ha), as HOST:PORT,HOST:PORT.
pair() {
  echo "$(ip_of coord):$port,$(ip_of coord2):$port"
}

# Whether this distribution's COMMAND takes several coordinator addresses in OPTION (worker
# --join A,B; a client's --coordinator A,B) to follow the leader among them; older ones refuse a
# list (exit 2) before --help is considered.
takes_several() {
  "$(cat "$state/home")/bin/weft" "$1" "$2" "$(pair)" --help >/dev/null 2>&1
}

up_ha() {
  local pg_bin=$1 weft
  weft=$(cat "$state/home")/bin/weft
  mkdir -p "$state/logs"
  # PostgreSQL: a cluster of its own, owned by nobody, in a directory only nobody (and root) may
  # enter. Local connections come through a socket in there; the subnet logs in with a password.
  # Its dynamic shared memory is in files under its data dir (not /dev/shm), which down removes
  # even after a SIGKILL.
  mkdir -p "$pgdir"
  chown nobody:nogroup "$pgdir"
  chmod 0700 "$pgdir"
  (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$state/pg-password")
  install -o nobody -g nogroup -m 0600 "$state/pg-password" "$pgdir/pwfile"
  as_nobody "$pg_bin/initdb" --pgdata "$pgdir/data" --username weft --pwfile "$pgdir/pwfile" \
    --auth-local trust --auth-host scram-sha-256 --encoding UTF8 --no-instructions \
    >"$state/logs/initdb.log" 2>&1 || die "initdb failed: $(tail -n 5 "$state/logs/initdb.log")"
  rm -f "$pgdir/pwfile"
  # The pair's subnet, to its database only, with the password.
  echo "host  weft  weft  $subnet.0/24  scram-sha-256" >>"$pgdir/data/pg_hba.conf"
  ip netns exec "$prefix-pg" setsid setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
    "$pg_bin/postgres" -D "$pgdir/data" -c listen_addresses="$(ip_of pg)" -c port="$pg_port" \
    -c unix_socket_directories="$pgdir" -c max_connections=50 -c shared_buffers=32MB \
    -c dynamic_shared_memory_type=mmap \
    </dev/null >"$state/logs/postgres.log" 2>&1 &
  echo "$! pg postgres" >>"$state/pids"
  local deadline=$((SECONDS + 60))
  until in_ns pg "$pg_bin/pg_isready" -q -h "$(ip_of pg)" -p "$pg_port"; do
    [ $SECONDS -lt $deadline ] ||
      die "PostgreSQL did not start within 60s: $(tail -n 20 "$state/logs/postgres.log")"
    sleep 0.2
  done
  as_nobody "$pg_bin/psql" -q -h "$pgdir" -p "$pg_port" -U weft -d postgres \
    -c "CREATE DATABASE weft OWNER weft" >/dev/null

  # The pair: both on the journal, each advertising its own address; the first one leads.
  local journal
  journal="postgresql://$(ip_of pg):$pg_port/weft?user=weft"
  start coord coordinator coordinator --listen "$(ip_of coord):$port" \
    --data-dir "$state/coord-data" --journal "$journal" \
    --journal-password-file "$state/pg-password" --advertise "$(ip_of coord):$port" \
    --http-listen "127.0.0.1:$http_port"
  await_log "$state/logs/coordinator.log" "^leading:" 60
  start coord2 coordinator2 coordinator --listen "$(ip_of coord2):$port" \
    --data-dir "$state/coord2-data" --journal "$journal" \
    --journal-password-file "$state/pg-password" --advertise "$(ip_of coord2):$port" \
    --http-listen "127.0.0.1:$http_port"
  await_log "$state/logs/coordinator2.log" "standing by" 60

  local join_token
  join_token=$(token)
  echo "$join_token" >"$state/token"
  chmod 0600 "$state/token"
  # Made in the leader's data dir; the leader shares it with the standby through the journal.
  (umask 077 && in_ns coord "$weft" token create cluster-client \
    --role admin --allow-exec --data-dir "$state/coord-data" 2>/dev/null >"$state/client-token")

  local join follow=true
  if takes_several worker --join; then
    join=$(pair)
  else
    # This distribution's workers take one address: they join the first leader only.
    join="$(ip_of coord):$port"
    follow=false
  fi
  WEFT_TOKEN=$join_token start coord coord-worker worker --join "$join" --id coord-worker
  WEFT_TOKEN=$join_token start w1 w1 worker --join "$join" --id w1
  WEFT_TOKEN=$join_token start w2 w2 worker --join "$join" --id w2
  for name in coord-worker w1 w2; do
    await_log "$state/logs/$name.log" "attached to coordinator" 60
  done
  echo "cluster '$prefix' is up: PostgreSQL $(ip_of pg):$pg_port (database weft);" \
    "coordinators $(ip_of coord):$port (leads) and $(ip_of coord2):$port (stands by);" \
    "workers coord-worker, w1, w2 joining $join"
  if ! $follow; then
    echo "warning: this distribution's workers take one --join address, so they joined the" \
      "first leader only and will not follow a new one" >&2
  fi
  echo "run clients with: $0 client submit sum --from 1 --to 1_000_000_000 --wait"
}

# Whether NODE's coordinator leads now: "leads" (its health says SERVING), "stands by" (it runs
# and does not serve: a standby, or one taking over) or "down". Asked over the HTTP port each
# coordinator serves on its namespace's loopback (a standby serves none), not by a client, which
# may follow the leader from any coordinator it is given.
probe() {
  local node=$1 name=coordinator pid
  [ "$node" = coord ] || name=coordinator2
  pid=$(awk -v name="$name" '$3 == name { print $1 }' "$state/pids")
  if [ -z "$pid" ] || ! alive "$pid"; then
    echo "down (its process is gone)"
  elif in_ns "$node" timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 &&
      printf "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && head -n 1 <&3' "$http_port" \
    2>/dev/null | grep -q " 200 "; then
    echo leads
  else
    echo "not serving (standing by, or taking over)"
  fi
}

leader_now=""
client_target() {
  if [ ! -f "$state/ha" ]; then
    echo "$(ip_of coord):$port"
  elif takes_several workers --coordinator; then
    pair
  elif [ -n "$leader_now" ]; then
    echo "$leader_now" # status just asked
  else
    local node
    for node in coord coord2; do
      if [ "$(probe "$node")" = leads ]; then
        echo "$(ip_of "$node"):$port"
        return
      fi
    done
    echo "$(ip_of coord):$port"
  fi
}

client() {
  [ -e "$state/home" ] || die "no cluster '$prefix' is up; run: $0 up"
  local target
  target=$(client_target)
  WEFT_COORDINATOR=$target WEFT_TOKEN=$(cat "$state/client-token") \
    ip netns exec "$prefix-client" "$(cat "$state/home")/bin/weft" "$@"
}

status() {
  [ -e "$state" ] || {
    echo "cluster '$prefix' is down"
    return 0
  }
  echo "cluster '$prefix' (state in $state):"
  while read -r pid node name; do
    if alive "$pid"; then
      echo "  $name in $prefix-$node: running (pid $pid)"
    else
      echo "  $name in $prefix-$node: gone"
    fi
  done <"$state/pids"
  if [ -f "$state/ha" ]; then
    local node said
    for node in coord coord2; do
      said=$(probe "$node")
      echo "  coordinator $(ip_of "$node"):$port: $said"
      if [ "$said" = leads ]; then leader_now="$(ip_of "$node"):$port"; fi
    done
  fi
  client workers || true
}

# Fails unless NODE is one of this cluster's nodes.
known_node() {
  local node
  for node in "${nodes[@]}"; do
    [ "$node" != "$1" ] || return 0
  done
  die "no node '$1' in cluster '$prefix' (nodes: ${nodes[*]})"
}

kill_node() {
  local node=$1 signal=${2:-TERM}
  [ -e "$state/pids" ] || die "no cluster '$prefix' is up"
  known_node "$node"
  while read -r pid pid_node name; do
    if [ "$pid_node" = "$node" ] && kill -0 "$pid" 2>/dev/null; then
      kill -s "$signal" -- "-$pid" 2>/dev/null || kill -s "$signal" "$pid" 2>/dev/null || true
      echo "sent SIG$signal to $name (pid $pid)"
    fi
  done <"$state/pids"
}

# Removes what this cluster's workers keep about their running exec tasks, which a worker killed
# with SIGKILL leaves behind (see "Task processes" and "Task cgroups" in docs/cluster.md): its records in
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

# Sends SIGNAL to the process group of each process in the pids file named NAME (with !NAME: not
# named NAME), then SIGKILL to the groups still there after 30 s.
stop_processes() {
  local signal=$1 match=$2 pid name
  local pids=()
  while read -r pid _ name; do
    if { [ "${match#!}" = "$match" ] && [ "$name" = "$match" ]; } ||
      { [ "${match#!}" != "$match" ] && [ "$name" != "${match#!}" ]; }; then
      pids+=("$pid")
    fi
  done <"$state/pids"
  [ ${#pids[@]} -gt 0 ] || return 0
  for pid in "${pids[@]}"; do kill -s "$signal" -- "-$pid" 2>/dev/null || true; done
  local deadline=$((SECONDS + 30))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
}

down() {
  need_root down
  local coordinator_ids="" log id shm_key="" shm_id=""
  # PostgreSQL's System V segment (key and id on line 7 of postmaster.pid): it removes it when it
  # stops, but one killed with SIGKILL leaves it behind.
  if [ -f "$pgdir/data/postmaster.pid" ]; then
    read -r shm_key shm_id < <(sed -n 7p "$pgdir/data/postmaster.pid") || true
  fi
  for log in "$state/logs/coordinator.log" "$state/logs/coordinator2.log"; do
    [ -f "$log" ] || continue
    # Every id the log shows: a coordinator of a pair takes a new one each time it leads.
    coordinator_ids+=" $(sed -n 's/^weft coordinator \([0-9a-f]*\) listening on.*/\1/p' "$log" | tr '\n' ' ')"
  done
  if [ -f "$state/pids" ]; then
    # Each process leads its own group (setsid): signal the groups, so task processes go too.
    # PostgreSQL last, once the coordinators have closed their journal, and with SIGINT (its fast
    # shutdown; after SIGTERM it would wait for every client to leave).
    stop_processes TERM '!postgres'
    stop_processes INT postgres
  fi
  # Whatever still runs inside our namespaces (task processes that left their group) goes too.
  for node in "${all_nodes[@]}"; do
    if ip netns list | grep -qw "$prefix-$node"; then
      for pid in $(ip netns pids "$prefix-$node" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$prefix-$node"
    fi
    ip link del "$prefix${node}h" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  sweep_task_leftovers
  for id in $coordinator_ids; do
    rm -f /dev/shm/weft-"$id"-*
  done
  if [ -n "$shm_id" ] && command -v ipcs >/dev/null 2>&1; then
    # Only if that id still has the key and no process attached (else it is not ours any more).
    if ipcs -m | awk -v id="$shm_id" -v key="$(printf '0x%08x' "$shm_key")" \
      '$2 == id && $1 == key && $6 == 0 { found = 1 } END { exit !found }'; then
      ipcrm -m "$shm_id" 2>/dev/null || true
    fi
  fi
  # PostgreSQL's data, socket and lock files (its processes are gone: see above).
  rm -rf "$pgdir"
  rm -rf "$state"
  echo "cluster '$prefix' is down"
}

case "${1:-}" in
  up)
    shift
    up "$@"
    ;;
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
    sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
