#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for S3 tests: listens on loopback and passes each request on to
an S3 server (s3rver), except that a seeded schedule makes some requests suffer a fault:

  reset     the connection is closed without an answer (the request never reaches the server)
  slowdown  503 SlowDown, as S3 throttles (the request never reaches the server)
  delay     the answer comes 0.1-0.4 s late (it is otherwise right)
  truncate  a GET's answer announces its full Content-Length but stops halfway

The mode is read from a control file before each request: "off" (pass everything), "faults P"
(each request suffers a fault with probability P; the kind drawn evenly), "outage" (every request
is reset: the server is gone), "outage-after N" (the first N requests pass, every later one is
reset: the server goes away mid-operation; counted from when the control file last changed).
Every request is one line in the log file: "<kind> <method> <path>", kind "pass" when it passed.

usage: s3_fault_proxy.py PORT UPSTREAM_URL CONTROL_FILE LOG_FILE SEED
"""
import http.client
import http.server
import random
import socket
import sys
import threading
import time
import urllib.parse

PORT = int(sys.argv[1])
UPSTREAM = urllib.parse.urlsplit(sys.argv[2])
CONTROL = sys.argv[3]
LOG = sys.argv[4]
RNG = random.Random(int(sys.argv[5]))
LOCK = threading.Lock()
KINDS = ["reset", "slowdown", "delay", "truncate"]
STATE = {"mode": None, "seen": 0}


def draw(method):
    """The fault this request suffers, or None (the schedule is drawn under a lock: seeded)."""
    try:
        with open(CONTROL) as f:
            mode = f.read().split()
    except OSError:
        mode = ["off"]
    with LOCK:
        if mode != STATE["mode"]:
            STATE["mode"], STATE["seen"] = mode, 0
        STATE["seen"] += 1
        seen = STATE["seen"]
    if not mode or mode[0] == "off":
        return None
    if mode[0] == "outage":
        return "reset"
    if mode[0] == "outage-after":
        return "reset" if seen > int(mode[1]) else None
    with LOCK:
        if RNG.random() >= float(mode[1]):
            return None
        kind = RNG.choice(KINDS)
    if kind == "truncate" and method != "GET":
        kind = "reset"
    return kind


def record(kind, method, path):
    with LOCK, open(LOG, "a") as f:
        f.write(f"{kind} {method} {path}\n")


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kind = draw(self.command)
        record(kind or "pass", self.command, self.path)
        if kind == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            self.connection.close()
            return
        if kind == "slowdown":
            reply = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                     b"<Message>Please reduce your request rate.</Message></Error>")
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply)
            return
        if kind == "delay":
            time.sleep(0.1 + 0.3 * RNG.random())
        upstream = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        self.send_response(response.status, response.reason)
        for k, v in response.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        # A HEAD's Content-Length is the object's size, not that of the (empty) body.
        length = response.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        if kind == "truncate" and len(data) > 1:
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", PORT), Proxy).serve_forever()
