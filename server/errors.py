"""Exceptions of the serving core's public API. Each maps to one HTTP status in the API layer (noted here)."""

from __future__ import annotations

from adapters.store import BASE_TASK


class EngineError(Exception):
    """Base class of every error the engine raises to its callers."""


class InvalidParamsError(EngineError, ValueError):
    """Sampling parameters or the prompt are malformed (HTTP 400/422)."""


class PromptTooLongError(InvalidParamsError):
    """The prompt is longer than max_prompt_tokens or leaves no room to generate (HTTP 400)."""


class UnknownTaskError(EngineError, LookupError):
    """No LUT is stored for this task id (HTTP 404)."""


class UnknownVersionError(UnknownTaskError):
    """The task is stored, but not the version asked for (HTTP 404)."""


def unknown_task_message(task: str) -> str:
    """The one message of a task that is not there, or not the caller's (the two must read alike: no oracle for
    another tenant's task ids), with where to look instead."""
    return f"no LUT is stored for task {task!r} (the base model is {BASE_TASK!r}; GET /v1/models lists the tasks)"


class QueueFullError(EngineError):
    """The waiting queue holds max_waiting requests already (HTTP 429)."""


class TaskQueueFullError(QueueFullError):
    """The waiting queue holds max_waiting_per_task requests of this task already (HTTP 429)."""


class TenantQueueFullError(QueueFullError):
    """The waiting queue holds max_waiting_per_task requests of this tenant already, over its tasks (HTTP 429)."""


class EngineStoppedError(EngineError):
    """The engine is stopping or stopped and takes no new requests (HTTP 503)."""


class TaskBusyError(EngineError):
    """The task has requests waiting or running, so it cannot be deleted now (HTTP 409)."""

    def __init__(self, task: str, in_flight: int) -> None:
        super().__init__(f"task {task!r} has {in_flight} request(s) in flight")
        self.in_flight = in_flight
