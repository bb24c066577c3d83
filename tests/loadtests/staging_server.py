"""A stand-in "staging" platform for the allow-list test: answers every route, counts requests.

Runs inside a network namespace on its own address. ``GET /events/active``
lists two events; other GETs answer ``{}``; POSTs answer 201; paths under
``/moved/`` redirect to a host that is not allowed. Each request appends its
method and path to the count file, so the test sees what really arrived.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COUNT = Path(sys.argv[3])


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        with COUNT.open("a", encoding="utf-8") as log:
            log.write(f"{self.command} {self.path}\n")
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/moved/"):
            self._answer(302, {}, {"Location": "http://192.0.2.1/elsewhere"})
        elif self.path == "/events/active":
            self._answer(200, [{"id": 1}, {"id": 2}])
        else:
            self._answer(200, {"ok": True})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer(201, {"status": "confirmed"})

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
