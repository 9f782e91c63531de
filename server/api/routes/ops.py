"""Operations: /health (the process answers), /ready (the model is loaded), /metrics (Prometheus)."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from server.api.deps import StateDep

router = APIRouter(tags=["ops"])


@router.get("/health", summary="Liveness: 200 while the process serves HTTP, loaded or not",
            responses={200: {"content": {"application/json": {"example": {"status": "ok", "ready": True}}}}})
async def health(state: StateDep) -> dict:
    return {"status": "ok", "ready": state.ready, "uptime_s": round(time.time() - state.started, 1)}


@router.get("/ready", summary="Readiness: 200 once the model is loaded, 503 before (or if loading failed)",
            responses={503: {"content": {"application/json": {"example": {"status": "loading"}}}}})
async def ready(state: StateDep):
    if state.ready:
        return {"status": "ready"}
    body = {"status": "failed", "error": state.load_error} if state.load_error else {"status": "loading"}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


@router.get("/metrics", summary="Prometheus metrics (names in the README)", response_class=Response,
            responses={200: {"content": {"text/plain": {"example": "sketchserve_requests_running 0.0\n"}}}})
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
