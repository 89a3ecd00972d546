"""Request limits (ASGI middleware), applied before any route sees a request.

Bodies over the limit get 413. Paths with tricks — encoded slashes or
backslashes, NUL bytes, `.`/`..` segments — get 400: ids never contain them,
and decoding them before routing would let `ana%2Fnext` reach another route.
"""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]


class BodyLimit:
    """Refuse request bodies over `max_bytes` (declared by Content-Length, or counted when chunked)."""

    def __init__(self, app: Any, max_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _too_large(self, send: Any) -> None:
        await _refuse(send, 413, "TooLarge", f"Request bodies are limited to {self.max_bytes} bytes.")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _tricky(scope):
            await _refuse(send, 400, "BadPath", "The path has encoded slashes, dot segments or control characters.")
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = True
            if too_big:
                await self._too_large(send)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b""):
            await self.app(scope, receive, send)
            return
        # chunked: read it all (up to the limit) before the route runs, then replay it
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._too_large(send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


_BAD_ENCODED = (b"%2f", b"%5c", b"%00", b"%2e")


def _tricky(scope: Scope) -> bool:
    raw = (scope.get("raw_path") or scope["path"].encode()).lower()
    if any(bad in raw for bad in _BAD_ENCODED):
        return True
    path: str = scope["path"]
    return "\\" in path or any(ord(ch) < 32 for ch in path) or any(seg in (".", "..") for seg in path.split("/"))


async def _refuse(send: Any, status: int, error: str, message: str) -> None:
    body = json.dumps({"error": error, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
