"""How the API describes a task (shared by /v1/models and /v1/tasks)."""

from __future__ import annotations

from adapters.pool import BASE_KEY
from adapters.store import BASE_TASK
from server.api.state import ServerState


def task_card(state: ServerState, engine, task: str) -> dict | None:
    """{id, version, versions, sha256, size_bytes, resident, in_flight, created, lut_distance} of a stored task or
    'base'; None if unknown. versions: the stored ones (the store keeps the last few), oldest first. lut_distance:
    LutPool.distance_of (the int8 activation mode's per-step check), or None."""
    pool = engine.pool
    if task == BASE_TASK:  # the base LUT lives in its own slot for the engine's lifetime
        return {"id": BASE_TASK, "version": 0, "versions": [0], "sha256": pool.spec.fingerprint,
                "size_bytes": pool.lut_set_bytes, "resident": pool.slot_of(BASE_KEY) is not None,
                "in_flight": engine.task_in_flight(BASE_TASK), "created": int(state.started),
                "lut_distance": pool.distance_of(BASE_KEY)}
    stored = engine.store.versions(task) if engine.store is not None else []  # oldest first
    if not stored:
        return None
    info = stored[-1]
    return {"id": task, "version": info.version, "versions": [v.version for v in stored], "sha256": info.sha256,
            "size_bytes": info.bytes,
            "resident": pool.slot_of((task, info.version)) is not None,
            "in_flight": engine.task_in_flight(task), "created": int(info.created),
            "lut_distance": pool.distance_of((task, info.version))}


def task_cards(state: ServerState, engine, tasks: list[str] | None = None) -> list[dict]:
    """The /v1/models cards of the given tasks (default: base and every stored task); unknown ones left out."""
    if tasks is None:
        tasks = [BASE_TASK] + ([i.task for i in engine.store.list()] if engine.store is not None else [])
    cards = [task_card(state, engine, t) for t in tasks]
    return [{k: v for k, v in c.items() if k in ("id", "version", "size_bytes", "resident", "created")}
            for c in cards if c is not None]
