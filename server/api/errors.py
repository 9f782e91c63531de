"""Every error the API returns has one shape, OpenAI's: {"error": {"message", "type", "code"}}.

Engine and store exceptions map to statuses here, in one table, so routes just raise.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.store import InvalidTaskIdError, LutStoreError
from server.errors import (
    EngineStoppedError,
    InvalidParamsError,
    PromptTooLongError,
    QueueFullError,
    TaskQueueFullError,
    TenantQueueFullError,
    UnknownTaskError,
    UnknownVersionError,
)
from sketch.task_lut import TaskLutError


class ApiError(Exception):
    """Raise from a route to answer `status` with a clear message."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.headers = status, message, type_, code, headers


# exception class -> (status, type, code, extra headers); the first matching class wins.
STATUS_OF: list[tuple[type[Exception], int, str, str | None, dict[str, str] | None]] = [
    (UnknownVersionError, 404, "not_found_error", "version_not_found", None),
    (UnknownTaskError, 404, "not_found_error", "model_not_found", None),
    (PromptTooLongError, 400, "invalid_request_error", "context_length_exceeded", None),
    (InvalidParamsError, 400, "invalid_request_error", None, None),
    (InvalidTaskIdError, 400, "invalid_request_error", "invalid_task_id", None),
    (TaskLutError, 400, "invalid_request_error", "invalid_lut", None),
    (TaskQueueFullError, 429, "rate_limit_error", "task_queue_full", {"Retry-After": "1"}),
    (TenantQueueFullError, 429, "rate_limit_error", "tenant_queue_full", {"Retry-After": "1"}),
    (QueueFullError, 429, "rate_limit_error", "queue_full", {"Retry-After": "1"}),
    (EngineStoppedError, 503, "service_unavailable", "shutting_down", None),
    (LutStoreError, 404, "not_found_error", None, None),
]


def error_response(status: int, message: str, type_: str, code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def api_error_of(exc: Exception) -> ApiError | None:
    if isinstance(exc, ApiError):
        return exc
    for cls, status, type_, code, headers in STATUS_OF:
        if isinstance(exc, cls):
            return ApiError(status, str(exc), type_, code, headers)
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def on_known(request: Request, exc: Exception) -> JSONResponse:
        err = api_error_of(exc)
        _count_rejection(request, err.code or err.type)
        return error_response(err.status, err.message, err.type, err.code, err.headers)

    for cls in [ApiError, *(row[0] for row in STATUS_OF)]:
        app.add_exception_handler(cls, on_known)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if request.method == "POST" and "json" not in content_type:
            # curl -d sends application/x-www-form-urlencoded: say what is wrong instead of "not a dictionary"
            _count_rejection(request, "content_type")
            return error_response(415, f"the body must be JSON, sent with Content-Type: application/json "
                                       f"(got {content_type or 'no Content-Type'!r})",
                                  "invalid_request_error", "unsupported_media_type")
        parts = []
        for e in exc.errors()[:5]:
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        _count_rejection(request, "validation")
        return error_response(422, "; ".join(parts) or "invalid request", "invalid_request_error", "validation")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), "invalid_request_error", None,
                              getattr(exc, "headers", None))


def _count_rejection(request: Request, reason: str) -> None:
    state = getattr(request.app.state, "server", None)
    if state is not None:
        state.metrics.reject(reason)
