"""Dependencies of the routes, as Annotated aliases (one way to get each thing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.api.errors import ApiError
from server.api.state import ServerState
from server.settings import Settings


def get_state(request: Request) -> ServerState:
    return request.app.state.server


def get_engine(state: Annotated[ServerState, Depends(get_state)]):
    if not state.ready:
        detail = f"the model failed to load: {state.load_error}" if state.load_error else "the model is still loading"
        raise ApiError(503, detail, "service_unavailable", "not_ready", {"Retry-After": "5"})
    return state.engine


def get_settings(state: Annotated[ServerState, Depends(get_state)]) -> Settings:
    return state.settings


StateDep = Annotated[ServerState, Depends(get_state)]
EngineDep = Annotated[object, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
