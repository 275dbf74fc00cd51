#!/usr/bin/env python3
"""Test-only stand-in for the change capture: reads a logical slot over SQL and writes one
change log object (docs/repository-format.md, "Logical change log") with what it returned.

    logical_log.py CONNINFO SLOT START_LSN OUT_DIR

pg_logical_slot_get_binary_changes returns exactly the pgoutput messages the streaming protocol
would carry, with their positions. The object starts with a session start record (each call is
a new decoding session that begins at the slot's confirmed position), holds every message as an
'M' record and ends with one sequence sample per sequence ('S'). It is named
logical/<START_LSN>-<end>, <end> being the slot's confirmed position after the call, and
written to OUT_DIR/<start>-<end>. Prints "<name> <path> <end>", or nothing when the slot
returned no change. Run as a role that may read the slot (the tests use the superuser).
"""
import os
import struct
import subprocess
import sys

PGOUTPUT = ("'proto_version', '2', 'publication_names', 'lifeboat', 'messages', 'true', "
            "'streaming', 'on'")


def psql(conninfo, sql):
    out = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-F", "\t",
                          conninfo, "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def record(kind, position, payload):
    return kind.encode() + struct.pack(">QI", position, len(payload)) + payload


def main():
    conninfo, slot, start_text, out_dir = sys.argv[1:5]
    start = lsn(start_text) if "/" in start_text else int(start_text, 16)
    rows = psql(conninfo, f"SELECT lsn, encode(data, 'hex') FROM "
                          f"pg_logical_slot_get_binary_changes('{slot}', NULL, NULL, {PGOUTPUT})")
    if not rows:
        return
    end = lsn(psql(conninfo, "SELECT confirmed_flush_lsn FROM pg_replication_slots "
                             f"WHERE slot_name = '{slot}'")[0][0])
    parts = [b"LBCL", bytes([1]), record("X", start, b"")]
    for position, data in rows:
        parts.append(record("M", lsn(position), bytes.fromhex(data)))
    sampled = lsn(psql(conninfo, "SELECT pg_current_wal_insert_lsn()")[0][0])
    sequences = psql(conninfo, "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
                               "ON n.oid = c.relnamespace WHERE c.relkind = 'S' ORDER BY 1, 2")
    for schema, name in sequences:
        quoted = '"' + schema.replace('"', '""') + '"."' + name.replace('"', '""') + '"'
        value, called = psql(conninfo, f"SELECT last_value, is_called FROM {quoted}")[0]
        parts.append(record("S", sampled, f"{schema}\t{name}\t{value}\t{called}".encode()))
    span = f"{start:016X}-{end:016X}"
    path = os.path.join(out_dir, span)
    with open(path, "wb") as f:
        f.write(b"".join(parts))
    print(f"logical/{span} {path} {end:016X}")


if __name__ == "__main__":
    main()
