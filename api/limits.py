"""Request body limits, as pure ASGI middleware (before any route parses the body).

- A body over its limit is a 413: at once when `Content-Length` says so, else as soon as
  the streamed (chunked) bytes pass it. Multipart uploads have their own, larger limit
  (`max_upload_request_bytes`; each file is then held to `max_upload_bytes` by its route);
  every other body is held to `max_body_bytes` and read here in full.
- A JSON body nested deeper than `max_json_depth` is a 422, so no parser or validator
  recurses into it (Python's json gives up with a RecursionError near depth 1000).

Both answer `{"detail": "..."}` like every other error.
"""

from __future__ import annotations

import re

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A JSON string (escapes included); what is inside cannot nest.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = np.zeros(256, dtype=np.int8)
_STEP[list(b"[{")], _STEP[list(b"]}")] = 1, -1
_SCAN_IN_THREAD = 256 * 1024


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True when the JSON text `body` nests arrays/objects deeper than `limit`.

    Strings are cut out (their brackets do not nest), then the depth is the largest
    running sum of +1 per opening and -1 per closing bracket: linear, no recursion, so
    it is safe on bodies built to crash a recursive parser. Unbalanced input (not JSON)
    is judged the same way; the parser then rejects it if it passes.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    skeleton = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if skeleton.count(b"[") + skeleton.count(b"{") <= limit:
        return False
    steps = _STEP[np.frombuffer(skeleton, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int32).max()) > limit


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind in ("", "application/json") or kind.endswith("+json")


class BodyLimitMiddleware:
    """413 for bodies over their limit, 422 for JSON nested too deep (see the module)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_request_bytes: int,
                 max_json_depth: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_request_bytes = max_upload_request_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "")
        multipart = content_type.lower().startswith("multipart/")
        limit = self.max_upload_request_bytes if multipart else self.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        if multipart:  # streamed to the form parser, counted on the way
            await self.app(scope, _counting(receive, limit), send)
            return
        body, more = await _read_body(receive, limit)
        if body is None:
            if more:  # over the limit; a client that went away gets no answer
                await _too_large(limit)(scope, receive, send)
            return
        if _is_json(content_type) and await self._too_deep(body):
            await _error(422, f"the JSON body nests deeper than {self.max_json_depth} "
                              "levels")(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _too_deep(self, body: bytes) -> bool:
        if len(body) > _SCAN_IN_THREAD:  # keep the event loop free for big bodies
            return await run_in_threadpool(json_depth_exceeds, body, self.max_json_depth)
        return json_depth_exceeds(body, self.max_json_depth)


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, bool]:
    """(the whole body, _) or (None, True) past `limit`, (None, False) on a disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over the body already read, then defers to the server's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _counting(receive: Receive, limit: int) -> Receive:
    """A receive that raises a 413 HTTPException once more than `limit` bytes came."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise HTTPException(413, _too_large_detail(limit))
        return message

    return counted


def _too_large_detail(limit: int) -> str:
    return f"the request body is over the limit of {limit} bytes"


def _too_large(limit: int) -> JSONResponse:
    return _error(413, _too_large_detail(limit))


def _error(status: int, detail: str) -> JSONResponse:
    # The rest of the body is not read: the server closes the connection after this.
    return JSONResponse({"detail": detail}, status_code=status, headers={"Connection": "close"})
