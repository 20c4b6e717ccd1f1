# Sourced by ./build: makes sure the outside programs the test suite drives are installed.
# nft (nftables) cuts a worker off in PartitionEndToEndTest. On a machine where we are root and
# apt-get works it is installed once; otherwise the test that needs it is skipped and says why.
weft_test_tools() {
  command -v nft >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "weft: nft (Debian package nftables) is missing and cannot be installed here (needs root and apt-get);" \
      "the partition test will be skipped." >&2
    return 0
  fi
  echo "weft: installing nftables for the partition test (apt-get) ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  # An install from an old package index can fail; refresh it once and retry.
  if ! apt-get install -y -qq nftables >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    if ! apt-get install -y -qq nftables >/dev/null 2>&1; then
      echo "weft: apt-get could not install nftables; the partition test will be skipped." >&2
    fi
  fi
  return 0
}
