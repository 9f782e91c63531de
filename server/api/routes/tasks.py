"""Task LUTs: PUT and GET /v1/tasks/{task}/lut (upload, download), GET and DELETE /v1/tasks/{task}."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from adapters.store import BASE_TASK, LutStoreError
from kernels.cpu_threads import single_threaded_torch
from server.api.deps import EngineDep, PrincipalDep, StateDep, require_use
from server.api.errors import ApiError
from server.api.protocol import TASK_ID_PATTERN, DeleteResult, ErrorResponse, TaskInfo, UploadResult
from server.api.tasks_view import task_card
from server.errors import TaskBusyError, unknown_task_message

router = APIRouter(tags=["tasks"])
TaskId = PathParam(..., pattern=TASK_ID_PATTERN, description="Task id: letters, digits, '.', '_', '-' (max 64)")


@router.put(
    "/v1/tasks/{task}/lut",
    response_model=UploadResult,
    status_code=201,
    summary="Upload a task LUT file (the safetensors bytes as the body); stored as the task's next version",
    responses={
        400: {"model": ErrorResponse, "description": "Not a valid LUT for this base (says why)"},
        401: {"model": ErrorResponse, "description": "Missing or unknown API key"},
        403: {"model": ErrorResponse, "description": "A tenant key uploading outside its '<tenant>.' namespace"},
        411: {"model": ErrorResponse, "description": "Empty body"},
        413: {"model": ErrorResponse, "description": "Over max_upload_bytes"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"},
        "example": "<bytes of a .safetensors file written by `sketchserve finetune`>"}}}},
)
async def upload_lut(request: Request, state: StateDep, engine: EngineDep, principal: PrincipalDep,
                     task: str = TaskId) -> UploadResult:
    if task == BASE_TASK:
        raise ApiError(400, "the task id 'base' is reserved for the base model's LUT", code="invalid_task_id")
    if not principal.owns(task):
        raise ApiError(403, f"this key may only upload tasks named '{principal.tenant}.<name>'",
                       "permission_error", "not_owner")
    limit = state.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the upload is {declared} bytes; the limit is {limit}", code="too_large")
    incoming = Path(engine.store.root) / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{task}.", suffix=".upload", dir=incoming)
    try:
        size = 0
        with os.fdopen(fd, "wb") as f:
            async for chunk in request.stream():  # streamed to disk, never held whole in memory
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"the upload exceeds the limit of {limit} bytes", code="too_large")
                f.write(chunk)
        if size == 0:
            raise ApiError(411, "the body is empty: send the LUT file's bytes", code="empty_body")
        info = await run_in_threadpool(_put, engine.store, task, tmp, engine.device.type == "cpu")
    finally:
        Path(tmp).unlink(missing_ok=True)
    return UploadResult(task=task, version=info.version, sha256=info.sha256, size_bytes=info.bytes)


DOWNLOAD_CHUNK_BYTES = 1 << 20


@router.get(
    "/v1/tasks/{task}/lut",
    summary="Download a stored task LUT file (the latest version, or ?version=N of the kept ones)",
    description="The bytes uploaded for that version, checked against their SHA-256 first (the ETag); PUT them to "
                "this or another server of the same base to store them again (e.g. to roll back to a kept version).",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
               400: {"model": ErrorResponse, "description": "'base': its LUT is part of the sketched base"},
               404: {"model": ErrorResponse, "description": "Unknown task (or another tenant's), or that version "
                                                              "is not stored"}},
)
async def download_lut(engine: EngineDep, principal: PrincipalDep, task: str = TaskId,
                       version: int | None = Query(None, ge=1, description="Default: the latest")) -> StreamingResponse:
    if task == BASE_TASK:
        raise ApiError(400, "the base model's LUT is part of the sketched base, not a task LUT file",
                       code="invalid_task_id")  # fmt: skip
    require_use(principal, task)  # (a tenant's own tasks only: another's answers as one that does not exist)
    kept = {v.version: v.sha256 for v in engine.store.versions(task)}  # (a version's bytes never change)
    if not kept:
        raise ApiError(404, unknown_task_message(task), "not_found_error", "model_not_found")
    version = max(kept) if version is None else version
    if version not in kept:
        raise ApiError(404, f"task {task!r} has no stored version {version}; stored: {list(kept)}",
                       "not_found_error", "version_not_found")  # fmt: skip
    sha256 = kept[version]
    try:
        f = await run_in_threadpool(_open_verified, engine.store, task, version)
    except (LutStoreError, FileNotFoundError) as e:  # pruned or deleted meanwhile, or a corrupt file (quarantined)
        raise ApiError(404, f"task {task!r} version {version} is no longer stored: {e}", "not_found_error",
                       "version_not_found") from None

    def chunks():
        with f:  # an open file stays readable if a newer upload prunes its version meanwhile
            while chunk := f.read(DOWNLOAD_CHUNK_BYTES):
                yield chunk

    size = os.fstat(f.fileno()).st_size
    return StreamingResponse(chunks(), media_type="application/octet-stream", headers={
        "Content-Length": str(size), "ETag": f'"{sha256}"', "X-Task-Version": str(version),
        "Content-Disposition": f'attachment; filename="{task}.v{version}.safetensors"'})


@router.get("/v1/tasks/{task}", response_model=TaskInfo, summary="A task's stored version, checksum, residency",
            responses={404: {"model": ErrorResponse, "description": "Unknown task"}})
async def get_task(state: StateDep, engine: EngineDep, principal: PrincipalDep, task: str = TaskId) -> TaskInfo:
    require_use(principal, task)
    card = task_card(state, engine, task)
    if card is None:
        raise ApiError(404, unknown_task_message(task), "not_found_error", "model_not_found")
    return TaskInfo(task=card["id"], **{k: v for k, v in card.items() if k != "id"})


@router.delete(
    "/v1/tasks/{task}",
    response_model=DeleteResult,
    summary="Delete every stored version of a task",
    description="Refuses with 409 while requests of the task are in flight, unless `wait=true`: then it waits "
                "up to `timeout_s` for them to finish (409 if they have not). Requests never lose their LUT.",
    responses={404: {"model": ErrorResponse, "description": "Unknown task"},
               409: {"model": ErrorResponse, "description": "Requests of the task are in flight"}},
)
async def delete_task(
    state: StateDep,
    engine: EngineDep,
    principal: PrincipalDep,
    task: str = TaskId,
    wait: bool = Query(False, description="Wait for in-flight requests instead of refusing"),
    timeout_s: float = Query(30.0, gt=0, le=600, description="How long to wait with wait=true"),
) -> DeleteResult:
    if task == BASE_TASK:
        raise ApiError(400, "the base model's LUT cannot be deleted", code="invalid_task_id")
    require_use(principal, task)
    if engine.store.latest(task) is None:
        raise ApiError(404, unknown_task_message(task), "not_found_error", "model_not_found")
    deadline = asyncio.get_running_loop().time() + (timeout_s if wait else 0)
    while True:
        try:  # the engine checks "nothing in flight" and deletes atomically
            versions = await run_in_threadpool(engine.delete_task, task)
            break
        except TaskBusyError as e:
            if asyncio.get_running_loop().time() >= deadline:
                how = f"still running after {timeout_s:g} s" if wait else "running; retry later or pass wait=true"
                raise ApiError(409, f"task {task!r} has {e.in_flight} request(s) in flight ({how})",
                               code="task_busy") from None
            await asyncio.sleep(0.05)
    if not versions:
        raise ApiError(404, unknown_task_message(task), "not_found_error", "model_not_found")
    return DeleteResult(task=task, deleted_versions=versions)


def _open_verified(store, task: str, version: int):
    """An open file of a stored version, after its checksum matched (LutStoreError if not, or if the version is no
    longer stored: the store quarantines a mismatch). Opened first: a newer upload that prunes the version later
    leaves the open file readable."""
    f = open(store.path(task, version), "rb")  # noqa: SIM115 - closed by the response's generator
    try:
        store.verify(task, version)
    except BaseException:
        f.close()
        raise
    return f


def _put(store, task: str, path: str, cpu_engine: bool):
    """store.put on a request thread. Beside an engine on the CPU its torch ops (the upload's validation) stay off
    OpenMP: a pool thread that kept a team of its own would slow the engine's matmuls (kernels/cpu_threads.py)."""
    if cpu_engine:
        single_threaded_torch()
    return store.put(task, path)
