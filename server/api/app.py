"""The FastAPI app factory. `create_app(settings)` loads the model in the background: /health answers at once,
/ready and the generation routes wait for the engine. Tests pass a ready `engine` instead.
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from server.api.errors import install_error_handlers
from server.api.middleware import RequestContextMiddleware
from server.api.routes import generate, openai, ops, tasks, tokens
from server.api.state import ServerState
from server.auth import LOOPBACK_HOSTS, KeyRing
from server.metrics import ServerMetrics
from server.settings import Settings

log = logging.getLogger("sketchserve.server")
SHUTDOWN_DRAIN_S = 30.0

DESCRIPTION = """Serve many fine-tuned tasks of one sketched LLM. A task is a LUT set over the base's shared codes;
`base` is always served. Upload a task with `PUT /v1/tasks/{task}/lut`, then generate with it through
`/v1/generate` or the OpenAI-compatible endpoints (`model` = task id)."""


def create_app(settings: Settings | None = None, engine=None) -> FastAPI:
    settings = settings or Settings()
    keyring = KeyRing.from_settings(settings)
    if keyring.open and settings.host not in LOOPBACK_HOSTS and not settings.allow_open:
        raise ValueError(
            f"no API keys are configured and host {settings.host!r} is not loopback: configure keys "
            "(api_keys_file / SKETCHSERVE_API_KEYS) or set allow_open to serve without them"
        )
    state = ServerState(settings=settings, metrics=ServerMetrics(), keyring=keyring)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if engine is not None:
            state.attach(engine)
        else:
            threading.Thread(target=state.load_engine, name="model-load", daemon=True).start()
        yield
        if state.engine is not None:  # graceful: finish what is in flight, then cancel the rest
            await run_in_threadpool(_stop_engine, state.engine)

    app = FastAPI(title="sketchserve", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.server = state
    install_error_handlers(app)
    for module in (generate, openai, tokens, tasks, ops):
        app.include_router(module.router)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    return app


def _stop_engine(engine) -> None:
    log.info("shutting down: draining requests in flight (up to %.0f s)", SHUTDOWN_DRAIN_S)
    engine.stop(drain=True, timeout_s=SHUTDOWN_DRAIN_S)
    if getattr(engine, "_thread", None) is not None and engine._thread.is_alive():
        engine.stop(drain=False, timeout_s=5.0)
