"""A webhook receiver for the agent tests: every POST body, one per line, appended to a file.
A POST whose Content-Type is not application/json is refused (415) and not kept, as Slack's
webhooks refuse it.

Usage: webhook_receiver.py PORT FILE   (listens on 127.0.0.1:PORT until killed)
"""
import http.server
import sys

out = sys.argv[2]


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        if self.headers.get('Content-Type', '').split(';')[0].strip() != 'application/json':
            self.send_response(415)
            self.end_headers()
            return
        with open(out, 'ab') as f:
            f.write(body.replace(b'\n', b' ') + b'\n')
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
