#!/usr/bin/env bash
# Installs every Debian package Lifeboat needs to build, test and run its demo.
# Idempotent: packages already present are not reinstalled and apt is not touched at all
# when nothing is missing. Uses sudo only when not running as root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libpq-dev libssl-dev libzstd-dev libxxhash-dev libfmt-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15 zstd clang-format git python3 jq procps iproute2 pgbackrest time
  libcurl4-openssl-dev libexpat1-dev s3cmd libmicrohttpd-dev
  # The mongodb source driver's client (libmongoc 1.23) and the scripted replica-set primary its
  # change-stream client is tested against.
  libmongoc-dev libbson-dev python3-mockupdb
  chromium fonts-dejavu-core
  # The fuzz targets (scripts/fuzz.sh): clang 16 is the oldest Debian clang that compiles
  # libstdc++ 12's <expected>; libclang-rt-16-dev holds libFuzzer and the sanitizer runtimes.
  clang-16 libclang-rt-16-dev
  # A real S3 server for the tests (scripts/rgw.sh): Ceph's RADOS Gateway over a one-monitor,
  # one-OSD cluster kept in memory. No daemon starts at install time (no systemd).
  ceph-mon ceph-osd radosgw
)
# Node runs the S3 test server (s3rver, pinned in tests/s3/package-lock.json). A Node that is
# already installed (from another source, with its own npm) is kept: Debian's npm conflicts with it.
if ! command -v node >/dev/null 2>&1; then packages+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi
# Extra packages a caller may ask for (the benchmark adds pgbackrest, for example).
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi

  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian postgresql package creates a default cluster and may start it; Lifeboat's tests
  # and demo run their own clusters, so the default one is left alone.
fi

# The S3 conformance tests' server, exactly as locked (run from the repository root).
s3_tests="$(dirname "$0")/../tests/s3"
if [ ! -d "$s3_tests/node_modules/s3rver" ]; then
  echo "install-deps: installing the S3 test server (npm ci in tests/s3)"
  npm ci --prefix "$s3_tests" --no-audit --no-fund >/dev/null
fi
# The HTML report test drives Debian's chromium with playwright-core, exactly as locked in
# tests/browser/package-lock.json (no browser is downloaded: the test uses /usr/bin/chromium).
browser_tests="$(dirname "$0")/../tests/browser"
if [ ! -d "$browser_tests/node_modules/playwright-core" ]; then
  echo "install-deps: installing the browser test driver (npm ci in tests/browser)"
  npm ci --prefix "$browser_tests" --no-audit --no-fund >/dev/null
fi
# The mongodb source tests' wire-protocol server: CongoDB (@push.rocks/smartmongo 2.2.0). Its
# runtime dependencies are locked in tests/mongo/package-lock.json; the package itself is fetched
# with npm pack (npm checks its registry integrity) and unpacked, without running any scripts.
mongo_tests="$(dirname "$0")/../tests/mongo"
if [ ! -d "$mongo_tests/node_modules/mingo" ]; then
  echo "install-deps: installing CongoDB's dependencies (npm ci in tests/mongo)"
  npm ci --prefix "$mongo_tests" --ignore-scripts --no-audit --no-fund >/dev/null
fi
if [ ! -f "$mongo_tests/smartmongo/dist_ts/congodb/index.js" ]; then
  echo "install-deps: unpacking CongoDB (@push.rocks/smartmongo 2.2.0) into tests/mongo/smartmongo"
  tarball_dir="$(mktemp -d)"
  (cd "$tarball_dir" && npm pack --silent @push.rocks/smartmongo@2.2.0 >/dev/null)
  rm -rf "$mongo_tests/smartmongo" && mkdir -p "$mongo_tests/smartmongo"
  tar xzf "$tarball_dir/push.rocks-smartmongo-2.2.0.tgz" -C "$mongo_tests/smartmongo" --strip-components=1
  rm -rf "$tarball_dir"
fi
echo "install-deps: done"
