#!/usr/bin/env bash
# Builds the Python client (clients/python) into a virtualenv under target/ and runs its pytest
# suite against a real coordinator and worker that the tests start with ./weft. Part of
# `./build test` (after Maven); also runs on its own. Nothing is downloaded: the venv is made from
# Debian's /usr/bin/python3 with --system-site-packages (grpcio, protobuf, pytest come from Debian
# packages, installed by scripts/test-tools.sh when missing), and pip installs offline.
#   scripts/python-client-test.sh [PYTEST ARGS...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=/usr/bin/python3
venv="$root/target/python-venv"

skip() {
  echo "weft: SKIPPING the Python client's tests: $*" >&2
  exit 0
}

if [ "${WEFT_SKIP_TEST_TOOLS:-}" != 1 ]; then
  # shellcheck source=scripts/test-tools.sh
  . "$root/scripts/test-tools.sh"
  weft_test_python
fi
[ -x "$python" ] || skip "there is no $python (Debian package python3) and it could not be installed"
missing=()
for module in grpc google.protobuf pytest ensurepip setuptools wheel; do
  "$python" -c "import $module" >/dev/null 2>&1 || missing+=("$module")
done
[ ${#missing[@]} -eq 0 ] || skip "$python lacks the modules ${missing[*]} (Debian: python3-grpcio python3-protobuf python3-pytest python3-venv python3-setuptools python3-wheel) and they could not be installed"

if ! { command -v protoc && command -v grpc_python_plugin; } >/dev/null 2>&1 &&
  ! "$python" -c "import grpc_tools.protoc" >/dev/null 2>&1; then
  skip "no stub generator: neither protoc with grpc_python_plugin (Debian: protobuf-compiler protobuf-compiler-grpc libprotobuf-dev) nor grpc_tools, and they could not be installed"
fi

echo "weft: Python client: venv in $venv, building clients/python (stubs from proto/) ..." >&2
rm -rf "$venv" "$root/clients/python/build"
"$python" -m venv --system-site-packages "$venv"
# --no-index: nothing from PyPI; --no-build-isolation: build with the system's setuptools, protobuf
# and protoc, so the stubs are generated for the protobuf runtime that will import them.
"$venv/bin/pip" install --quiet --no-index --no-build-isolation "$root/clients/python"

# The tests' processes (coordinators, workers, PostgreSQL) run in sessions of their own, under
# temporary directories in this run's TMPDIR; whatever a killed or timed-out run left is stopped.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-pyrun-XXXXXX")
chmod 755 "$run_tmp" # PostgreSQL runs as nobody and must reach its directory
leftovers() {
  # Every process the tests started inherited this TMPDIR (a worker's command line names no path).
  local environ pid
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [ "$pid" != $$ ] || continue
    if { tr '\0' '\n' <"$environ"; } 2>/dev/null | grep -qxF "TMPDIR=$run_tmp"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$run_tmp"
}
trap leftovers EXIT
export TMPDIR="$run_tmp"

cd "$root/clients/python"
# -p no:cacheprovider: leave no .pytest_cache in the source tree. The tests import the installed
# package (tests/ has no path to src/). Each test has its own deadline (tests/conftest.py); the
# whole run has this one.
WEFT_ROOT="$root" timeout -k 20 "${WEFT_PY_SUITE_SECONDS:-1200}" \
  "$venv/bin/python" -m pytest -p no:cacheprovider -v tests "$@"
