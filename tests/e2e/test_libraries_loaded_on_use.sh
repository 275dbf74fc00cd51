#!/usr/bin/env bash
# Libraries only some commands need are loaded when first used (util/shared_library.hpp): the
# MongoDB C driver (sources/mongodb/c_driver.hpp) only by commands that speak to a MongoDB
# server, libcurl (storage/s3/curl_library.hpp) only by the first S3 request and expat
# (storage/s3/expat_library.hpp) by the first S3 XML document, libpq
# (sources/postgres/libpq_library.hpp) only by commands that connect to PostgreSQL, libmicrohttpd
# (agent/microhttpd_library.hpp) only by the agent. The binary links none of them, a command on a
# local repository loads none (nor ICU, libmongocrypt, the SASL plug-ins, nghttp2, libssh2,
# librtmp, GnuTLS, Kerberos, LDAP or OpenSSL's libssl they bring), and a library that cannot be
# loaded is one clear error line, not a crash.
source "$(dirname "$0")/lib.sh" "$@"

# loaded_libraries CMD...: the shared libraries the dynamic loader opened for CMD (LD_DEBUG).
loaded_libraries() {
    LD_DEBUG=libs "$@" 2>&1 >/dev/null | sed -n 's/.*calling init: //p' || true
}

# broken_library SONAME: prints a directory holding a file named SONAME that is no library, for
# LD_LIBRARY_PATH.
broken_library() {
    local dir="$T/broken-$1"
    mkdir -p "$dir"
    : >"$dir/$1"
    chmod -R a+rX "$dir"
    echo "$dir"
}

# expect_no_crash: the failure in $ERR is an error line, not a crash.
expect_no_crash() {
    if grep -Eq 'terminate|Aborted|what\(\)' "$ERR"; then fail "a crash, not an error: $(cat "$ERR")"; fi
}

if ldd "$LB" | grep -Eq 'libmongoc|libbson|libicu|libcurl|libnghttp2|libssh2|librtmp|libpq|libgnutls|libkrb5|libldap|libexpat|libmicrohttpd|httplib|libbrotli|libssl'; then
    ldd "$LB" >&2
    fail "the binary links the MongoDB driver, libcurl, expat, libpq or a web server"
fi
ok "the binary does not link libmongoc, libbson, ICU, libcurl, expat, libpq, libmicrohttpd or what they bring"

expect_exit 0 lb repo-init --repo "$REPO"
libs=$(loaded_libraries as_pg "$LB" list --repo "$REPO" --json)
echo "$libs" | grep -q 'libzstd' || fail "LD_DEBUG shows no library at all: $libs"
if echo "$libs" | grep -Eq 'libmongoc|libbson|libicu|sasl2|libcurl|libnghttp2|libssh2|libpq|libgnutls|libkrb5|libexpat|libmicrohttpd|libssl'; then
    fail "a command on a local repository loaded the MongoDB driver, libcurl, expat, libpq or libmicrohttpd: $libs"
fi
ok "list on a local repository loads neither the driver, libcurl, expat, libpq nor libmicrohttpd, nor what they bring"

# Nothing listens on the port: the driver is loaded, the server does not answer (exit 8).
port=$(free_port)
libs=$(loaded_libraries as_pg "$LB" mongo-preflight --mongo "mongodb://127.0.0.1:$port/?serverSelectionTimeoutMS=300")
echo "$libs" | grep -q 'libmongoc-1.0.so.0' || fail "mongo-preflight did not load the driver: $libs"
expect_exit 8 lb mongo-preflight --mongo "mongodb://127.0.0.1:$port/?serverSelectionTimeoutMS=300"
expect_one_line_error
ok "mongo-preflight loads the driver and reports the silent server"

# A library by the driver's name that is no library: one line naming it, the I/O status.
expect_failure as_pg env LD_LIBRARY_PATH="$(broken_library libmongoc-1.0.so.0)" "$LB" mongo-preflight \
    --mongo "mongodb://127.0.0.1:$port/"
expect_one_line_error
expect_in "$ERR" "the MongoDB C driver \(libmongoc-1.0.so.0\) cannot be loaded"
expect_no_crash
ok "a driver that cannot be loaded is one error line (exit $RC)"

# An S3 repository: the first request loads libcurl, and the command works.
start_s3 lazy
S3REPO="s3://lazy/lifeboat?endpoint=$S3_ENDPOINT&style=path"
s3env=(env "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY")
expect_exit 0 as_pg "${s3env[@]}" "$LB" repo-init --repo "$S3REPO"
libs=$(loaded_libraries as_pg "${s3env[@]}" "$LB" list --repo "$S3REPO" --json)
echo "$libs" | grep -q 'libcurl.so.4' || fail "list on an S3 repository did not load libcurl: $libs"
echo "$libs" | grep -q 'libexpat.so.1' || fail "list on an S3 repository did not load expat: $libs"
expect_exit 0 as_pg "${s3env[@]}" "$LB" list --repo "$S3REPO" --json
ok "a command on an S3 repository loads libcurl and expat when it needs them, and works"

# An expat that is no library: the listing's first XML document fails on one line, no crash.
expect_failure as_pg "${s3env[@]}" LD_LIBRARY_PATH="$(broken_library libexpat.so.1)" "$LB" list --repo "$S3REPO"
expect_one_line_error
expect_in "$ERR" "libexpat \(libexpat.so.1\) cannot be loaded: .* \(install the package libexpat1\)"
expect_no_crash
ok "an expat that cannot be loaded is one error line (exit $RC)"

# A libcurl that is no library: one line naming it, no crash.
expect_failure as_pg "${s3env[@]}" LD_LIBRARY_PATH="$(broken_library libcurl.so.4)" "$LB" list --repo "$S3REPO"
expect_one_line_error
expect_in "$ERR" "libcurl \(libcurl.so.4\) cannot be loaded"
expect_no_crash
ok "a libcurl that cannot be loaded is one error line (exit $RC)"

# A backup connects to PostgreSQL: it loads libpq, and works.
REPO="$T/pg-repo"
start_source
libs=$(loaded_libraries as_pg "$LB" backup --repo "$REPO" --pg "$CONNINFO" --json)
echo "$libs" | grep -q 'libpq.so.5' || fail "a backup did not load libpq: $libs"
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r '.backups | length' "$OUT")" 1 "backups made with libpq loaded on use"
ok "a backup loads libpq when it connects, and works"

# A libpq that is no library: one line naming it and its package, no crash, no backup.
expect_failure as_pg env LD_LIBRARY_PATH="$(broken_library libpq.so.5)" "$LB" backup --repo "$REPO" --pg "$CONNINFO"
expect_one_line_error
expect_in "$ERR" "libpq \(libpq.so.5\) cannot be loaded: .* \(install the package libpq5\)"
expect_no_crash
expect_exit 0 lb list --repo "$REPO" --json
expect_eq "$(jq -r '.backups | length' "$OUT")" 1 "backups after the failed one"
ok "a libpq that cannot be loaded is one error line (exit $RC)"

# The agent loads libmicrohttpd when it starts serving, and serves.
AGENT_PORT=$(free_port)
cat >"$T/agent.toml" <<TOML
[repository]
path = "$REPO"
[source]
pg = "$CONNINFO"
[agent]
listen = "127.0.0.1:$AGENT_PORT"
TOML
chmod 644 "$T/agent.toml"
(exec_as_pg env LD_DEBUG=libs "$LB" agent --config "$T/agent.toml") 2>"$T/agent-libs.log" &
AGENT_PID=$!
BG_PIDS+=("$AGENT_PID")
answered=false
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$AGENT_PORT/metrics" -o /dev/null 2>/dev/null && { answered=true; break; }
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
done
$answered || { tail -n 20 "$T/agent-libs.log" >&2; fail "the agent did not answer at start-up"; }
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "the agent's exit status after SIGTERM: $?"
grep -q 'calling init: .*libmicrohttpd.so.12' "$T/agent-libs.log" ||
    fail "the agent served without loading libmicrohttpd: $(grep 'calling init' "$T/agent-libs.log")"
ok "the agent loads libmicrohttpd when it starts, and serves"

# A libmicrohttpd that is no library: the agent does not start, one line naming it.
expect_failure as_pg env LD_LIBRARY_PATH="$(broken_library libmicrohttpd.so.12)" "$LB" agent --config "$T/agent.toml"
expect_one_line_error
expect_in "$ERR" "libmicrohttpd \(libmicrohttpd.so.12\) cannot be loaded: .* \(install the package libmicrohttpd12\)"
expect_no_crash
ok "an agent whose libmicrohttpd cannot be loaded is one error line (exit $RC)"

finish
