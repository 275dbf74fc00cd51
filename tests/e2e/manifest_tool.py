#!/usr/bin/env python3
"""Reads and writes backup manifests of an unencrypted local repository (docs/repository-format.md,
"Object envelope" and "MNFT"), so that end-to-end tests can inspect them and forge hostile ones.

  manifest_tool.py dump REPO ID          print the manifest's JSON
  manifest_tool.py write REPO ID < JSON  publish JSON as backups/ID (uncompressed payload, valid
                                         envelope and checksum)
"""
import hashlib
import json
import os
import struct
import subprocess
import sys

HEADER = 24
TRAILER = 32


def read(repo, backup_id):
    with open(os.path.join(repo, "backups", backup_id), "rb") as f:
        obj = f.read()
    if obj[:8] != b"LIFEBOAT" or obj[8:12] != b"MNFT":
        sys.exit("not a manifest object")
    flags = struct.unpack("<I", obj[16:20])[0]
    payload = obj[HEADER:-TRAILER]
    if flags & 1:
        payload = subprocess.run(["zstd", "-d", "-c", "-q"], input=payload, check=True,
                                 stdout=subprocess.PIPE).stdout
    return json.loads(payload)


def write(repo, backup_id, manifest):
    payload = json.dumps(manifest).encode()
    # The envelope version follows the layout: format 2 manifests carry "format": 2.
    version = 2 if manifest.get("format") == 2 else 1
    header = b"LIFEBOAT" + b"MNFT" + struct.pack("<III", version, 0, 0)
    body = header + payload
    path = os.path.join(repo, "backups", backup_id)
    with open(path, "wb") as f:
        f.write(body + hashlib.sha256(body).digest())
    os.chmod(path, 0o640)


def main():
    command, repo, backup_id = sys.argv[1:4]
    if command == "dump":
        json.dump(read(repo, backup_id), sys.stdout, indent=1)
        print()
    elif command == "write":
        write(repo, backup_id, json.load(sys.stdin))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
