# Sourced by ./build: makes sure the outside programs the test suite drives are installed.
# nft (nftables) cuts a worker off in PartitionEndToEndTest; promtool (prometheus) checks the
# coordinator's /metrics in HttpApiTest; chromedriver (chromium-driver, which brings chromium) lets
# DashboardBrowserTest drive a real headless browser; postgresql gives the journal's PostgreSQL tests
# (PostgresJournalTest, PostgresRestartEndToEndTest) a server they start themselves (TestPostgres);
# Debian's python3 with grpcio, protobuf, pytest and venv, and protoc with the gRPC Python plugin
# (of the same versions), build and test the Python client (scripts/python-client-test.sh). On a
# machine where we are root and apt-get works they are installed once; otherwise the tests that
# need them are skipped and say why.
weft_test_tools() {
  weft_test_tool nft nftables "the partition test"
  weft_test_tool promtool prometheus "the metrics format check"
  weft_test_tool chromedriver chromium-driver "the dashboard's browser test"
  weft_test_postgres
  weft_test_python
  return 0
}

# The Python client's packages, all from Debian (no PyPI): the runtime (grpcio, protobuf), the
# stub generator matching them (protoc 3.21 from protobuf-compiler, grpc_python_plugin from
# protobuf-compiler-grpc, the well-known .proto files from libprotobuf-dev), pytest and venv.
# /usr/bin/python3 is Debian's, whatever python3 comes first on PATH.
weft_test_python() {
  local what="the Python client's tests"
  weft_test_tool /usr/bin/python3 python3 "$what"
  [ -x /usr/bin/python3 ] || return 0
  local module package
  for module in grpc:python3-grpcio google.protobuf:python3-protobuf pytest:python3-pytest \
    ensurepip:python3-venv setuptools:python3-setuptools wheel:python3-wheel pip:python3-pip; do
    package=${module#*:}
    /usr/bin/python3 -c "import ${module%%:*}" >/dev/null 2>&1 ||
      weft_test_tool /nonexistent/$package "$package" "$what"
  done
  weft_test_tool protoc protobuf-compiler "$what"
  weft_test_tool grpc_python_plugin protobuf-compiler-grpc "$what"
  [ -f /usr/include/google/protobuf/duration.proto ] ||
    weft_test_tool /nonexistent/libprotobuf-dev libprotobuf-dev "$what"
  return 0
}

# Debian installs PostgreSQL's programs under /usr/lib/postgresql/VERSION/bin, not on PATH.
weft_test_postgres() {
  compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null && return 0
  weft_test_tool /usr/lib/postgresql/none/bin/postgres postgresql "the PostgreSQL journal's tests"
}

# weft_test_tool COMMAND PACKAGE WHAT: installs PACKAGE (Debian) when COMMAND is missing.
weft_test_tool() {
  local command=$1 package=$2 what=$3
  command -v "$command" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "weft: $command (Debian package $package) is missing and cannot be installed here (needs root and apt-get);" \
      "$what will be skipped." >&2
    return 0
  fi
  echo "weft: installing $package for $what (apt-get) ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  # An install from an old package index can fail; refresh it once and retry.
  if ! apt-get install -y -qq --no-install-recommends "$package" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    if ! apt-get install -y -qq --no-install-recommends "$package" >/dev/null 2>&1; then
      echo "weft: apt-get could not install $package; $what will be skipped." >&2
    fi
  fi
  return 0
}
