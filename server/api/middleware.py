"""ASGI middleware: a request id on every request and log line, and a cap on JSON body size.

Pure ASGI (not BaseHTTPMiddleware) so streamed responses and uploads pass through untouched.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from server.api.errors import error_response

log = logging.getLogger("sketchserve.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
UPLOAD_PATH = re.compile(r"^/v1/tasks/[^/]+/lut$")  # uploads have their own, larger limit (routes/tasks.py)


class _BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    """Sets scope['state']['request_id'] (from a safe X-Request-ID, else new), echoes it, logs one JSON line."""

    def __init__(self, app, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        start, status = time.perf_counter(), 0
        limited = not UPLOAD_PATH.match(scope["path"])
        declared = headers.get(b"content-length", b"")
        if limited and declared.isdigit() and int(declared) > self.max_body_bytes:
            response = error_response(413, f"the body exceeds {self.max_body_bytes} bytes", "invalid_request_error",
                                      "too_large")
            await response(scope, receive, send)
            self._log(scope, request_id, 413, start)
            return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if limited and message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            if status == 0:
                response = error_response(413, f"the body exceeds {self.max_body_bytes} bytes",
                                          "invalid_request_error", "too_large")
                await response(scope, receive, send_with_id)
        finally:
            self._log(scope, request_id, status, start)

    @staticmethod
    def _log(scope, request_id: str, status: int, start: float) -> None:
        log.info(json.dumps({
            "event": "http", "request_id": request_id, "method": scope.get("method"), "path": scope.get("path"),
            "status": status, "ms": round((time.perf_counter() - start) * 1000, 1),
        }))
