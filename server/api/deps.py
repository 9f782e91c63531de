"""Dependencies of the routes, as Annotated aliases (one way to get each thing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from server.api.errors import ApiError
from server.api.state import ServerState
from server.auth import Principal, presented_key
from server.engine import Engine
from server.errors import unknown_task_message
from server.settings import Settings


def get_state(request: Request) -> ServerState:
    return request.app.state.server


def get_engine(state: Annotated[ServerState, Depends(get_state)]) -> Engine:
    if not state.ready:
        detail = f"the model failed to load: {state.load_error}" if state.load_error else "the model is still loading"
        raise ApiError(503, detail, "service_unavailable", "not_ready", {"Retry-After": "5"})
    return state.engine


def get_settings(state: Annotated[ServerState, Depends(get_state)]) -> Settings:
    return state.settings


def get_principal(
    state: Annotated[ServerState, Depends(get_state)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    principal = state.keyring.authenticate(presented_key(authorization, x_api_key))
    if principal is None:
        raise ApiError(401, "a valid API key is required (Authorization: Bearer <key>)", "authentication_error",
                       "invalid_api_key", {"WWW-Authenticate": "Bearer"})
    return principal


def require_use(principal: Principal, task: str) -> None:
    """Another tenant's task answers exactly like a task that does not exist."""
    if not principal.may_use(task):
        raise ApiError(404, unknown_task_message(task), "not_found_error", "model_not_found")


StateDep = Annotated[ServerState, Depends(get_state)]
EngineDep = Annotated[object, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
