#!/usr/bin/env bash
# The MongoDB C driver is loaded only by commands that speak to a MongoDB server
# (sources/mongodb/c_driver.hpp): the binary does not link it, a PostgreSQL command never loads
# it (nor ICU, libmongocrypt or the SASL plug-ins it brings), a mongodb command loads it when it
# first needs it, and a driver that cannot be loaded is one clear error line, not a crash.
source "$(dirname "$0")/lib.sh" "$@"

# loaded_libraries CMD...: the shared libraries the dynamic loader opened for CMD (LD_DEBUG).
loaded_libraries() {
    LD_DEBUG=libs "$@" 2>&1 >/dev/null | sed -n 's/.*calling init: //p' || true
}

if ldd "$LB" | grep -Eq 'libmongoc|libbson|libicu'; then
    ldd "$LB" >&2
    fail "the binary links the MongoDB driver"
fi
ok "the binary does not link libmongoc, libbson or ICU"

expect_exit 0 lb repo-init --repo "$REPO"
libs=$(loaded_libraries as_pg "$LB" list --repo "$REPO" --json)
echo "$libs" | grep -q 'libzstd' || fail "LD_DEBUG shows no library at all: $libs"
if echo "$libs" | grep -Eq 'libmongoc|libbson|libicu|sasl2/'; then
    fail "a repository command loaded the MongoDB driver: $libs"
fi
ok "list loads neither the driver nor what it brings"

# Nothing listens on the port: the driver is loaded, the server does not answer (exit 8).
port=$(free_port)
libs=$(loaded_libraries as_pg "$LB" mongo-preflight --mongo "mongodb://127.0.0.1:$port/?serverSelectionTimeoutMS=300")
echo "$libs" | grep -q 'libmongoc-1.0.so.0' || fail "mongo-preflight did not load the driver: $libs"
expect_exit 8 lb mongo-preflight --mongo "mongodb://127.0.0.1:$port/?serverSelectionTimeoutMS=300"
expect_one_line_error
ok "mongo-preflight loads the driver and reports the silent server"

# A library by the driver's name that is no library: one line naming it, the I/O status.
mkdir -p "$T/broken-lib"
: >"$T/broken-lib/libmongoc-1.0.so.0"
chmod -R a+rX "$T/broken-lib"
expect_failure as_pg env LD_LIBRARY_PATH="$T/broken-lib" "$LB" mongo-preflight \
    --mongo "mongodb://127.0.0.1:$port/"
expect_one_line_error
expect_in "$ERR" "the MongoDB C driver \(libmongoc-1.0.so.0\) cannot be loaded"
if grep -Eq 'terminate|Aborted|what\(\)' "$ERR"; then fail "a crash, not an error: $(cat "$ERR")"; fi
ok "a driver that cannot be loaded is one error line (exit $RC)"

finish
