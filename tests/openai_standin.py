"""A small OpenAI-compatible chat server standing in for vLLM in the server-pool tests.

It speaks what `VLLMHTTPBackend` sends: GET /health, GET /v1/models, POST
/v1/chat/completions (plain JSON, or server-sent events over HTTP/1.1 chunked
transfer, as vLLM's uvicorn does). The answer names the server and echoes the
last user message ("<name>: <message>"), split into word pieces, so a test can
tell which server answered which request; with `structured_outputs.choice` it
answers the first choice. Faults on demand: `die_after=k` makes the server stop
listening and drop the connection after k pieces of its next answer (k=0 on a
plain request: no answer at all); `status=503` answers every chat request with
that HTTP error. Run in a thread (`StandIn`), or as a process to be `kill -9`ed:

    python tests/openai_standin.py --name b --port 8123 --delay 0.2
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIn:
    """One stand-in server on 127.0.0.1, serving from a background thread until `stop()`."""

    def __init__(
        self,
        name: str,
        *,
        port: int | None = None,
        model: str = "standin",
        delay_s: float = 0.0,
        die_after: int | None = None,
        status: int = 200,
    ) -> None:
        self.name, self.model, self.delay_s, self.die_after, self.status = name, model, delay_s, die_after, status
        self.port = port or free_port()
        self.chat_requests = 0
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The base URL (…/v1), as it goes into assistant.url."""
        return f"http://127.0.0.1:{self.port}/v1"

    def answer(self, body: dict[str, Any]) -> list[str]:
        """The pieces this server streams for a request."""
        choices = (body.get("structured_outputs") or {}).get("choice")
        if choices:
            return [choices[0]]
        last = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
        return [f"{w} " for w in f"{self.name}: {last}".split()]

    def start(self) -> Self:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _json(self, code: int, obj: object) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/health":
                    self._json(200, {})
                elif self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": owner.model, "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})

            def _die(self) -> None:
                """Stop listening and drop this connection mid-answer, like a killed server."""
                owner._close_listener()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner._lock:
                    owner.chat_requests += 1
                    owner.bodies.append(body)
                if body.get("model") != owner.model:
                    self._json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
                    return
                if owner.status != 200:
                    self._json(owner.status, {"error": {"message": "overloaded"}})
                    return
                pieces = owner.answer(body)
                if not body.get("stream"):
                    if owner.die_after is not None:
                        self._die()
                        return
                    time.sleep(owner.delay_s)
                    text = "".join(pieces).strip()
                    self._json(
                        200,
                        {
                            "choices": [
                                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                            ],
                            "usage": {"prompt_tokens": 7, "completion_tokens": len(pieces)},
                        },
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

                def chunk(text: str) -> None:
                    data = text.encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()

                for i, p in enumerate(pieces):
                    if owner.die_after is not None and i >= owner.die_after:
                        self._die()
                        return
                    event = {"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
                    chunk(f"data: {json.dumps(event)}\n\n")
                    time.sleep(owner.delay_s)
                chunk("data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True, name=f"standin-{self.name}").start()
        return self

    def _close_listener(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            try:
                httpd.socket.shutdown(socket.SHUT_RDWR)  # Linux: stop listening now, new connections are refused
            except OSError:
                pass

            def close() -> None:
                httpd.shutdown()
                httpd.server_close()

            threading.Thread(target=close, daemon=True).start()

    def stop(self) -> None:
        self._close_listener()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="An OpenAI-compatible stand-in chat server (tests only).")
    ap.add_argument("--name", default="standin")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--model", default="standin")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds between streamed pieces")
    args = ap.parse_args()
    StandIn(args.name, port=args.port, model=args.model, delay_s=args.delay).start()
    while True:
        time.sleep(3600)
