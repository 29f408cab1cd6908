"""A misbehaving upload endpoint on 127.0.0.1, run as its own process by the fault tests.

    python slow_endpoint.py LOG MODE [ARG]

MODE ``slow``: read the whole upload, log it, wait ARG seconds (default 4.5), answer 201.
MODE ``dribble``: read the whole upload, log it, then send the answer one byte every ARG
seconds (default 0.5), for as long as the client listens.
MODE ``status``: read and log the upload, answer with status ARG (e.g. 307 or 500) at once.

It publishes a fresh age recipient at ``GET /recipient`` like the real receiver, and writes one
JSON line per upload to LOG (headers that matter, body size) the moment the body has arrived,
so tests can see exactly what reached it and when. Its first stdout line is
``{"url": ..., "recipient": ...}``.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pyrage import x25519

LOG = Path(sys.argv[1])
MODE = sys.argv[2]
ARG = float(sys.argv[3]) if len(sys.argv) > 3 else (4.5 if MODE == "slow" else 0.5)
RECIPIENT = str(x25519.Identity.generate().to_public())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        body = RECIPIENT.encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        entry = {
            "path": self.path,
            "bytes": len(body),
            "at": time.time(),
            "record": self.headers.get("X-Keepmum-Record", ""),
            "upload_id": self.headers.get("X-Keepmum-Upload-Id", ""),
        }
        with LOG.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")
        answer = b'{"received": 1}\n'
        if MODE == "slow":
            time.sleep(ARG)
            status = 201
        elif MODE == "status":
            status = int(ARG)
        else:
            raw = (b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n" % len(answer)) + answer
            try:
                for i in range(len(raw)):
                    self.wfile.write(raw[i : i + 1])
                    self.wfile.flush()
                    time.sleep(ARG)
            except OSError:
                pass
            self.close_connection = True
            return
        self.send_response(status)
        if status == 307:
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(json.dumps({"url": f"http://{host}:{port}", "recipient": RECIPIENT}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
