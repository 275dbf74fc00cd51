#!/usr/bin/env bash
# Exit statuses of storage failures, as docs/cli.md documents them: an S3 endpoint that refuses
# connections (retried, then "temporarily unavailable": 13) and a local repository file that
# cannot be read (a repository failure: 5, not a local file-system failure: 11). The mapping of
# every error code is checked against the document by tests/unit/exit_status_test.cpp.
source "$(dirname "$0")/lib.sh" "$@"

# A loopback port nothing listens on.
CLOSED_PORT=$(free_port)
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
CLOSED="s3://bucket/lifeboat?endpoint=http://127.0.0.1:$CLOSED_PORT&style=path"
expect_exit 13 lb list --repo "$CLOSED"
expect_one_line_error
expect_in "$ERR" "attempt 5 of 5" "the message says the request was retried"
expect_exit 13 lb verify --repo "$CLOSED"
expect_one_line_error

expect_exit 0 lb repo-init --repo "$REPO"
chmod 000 "$REPO/config"
expect_exit 5 lb list --repo "$REPO"
expect_one_line_error
expect_in "$ERR" "config" "the message names the unreadable object"
expect_exit 5 lb verify --repo "$REPO"
expect_one_line_error
chmod 600 "$REPO/config"
expect_exit 0 lb list --repo "$REPO"
finish
