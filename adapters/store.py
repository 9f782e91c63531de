"""The on-disk store of task LUTs: versioned, atomic, checksummed.

    root/
      tasks/<task>/index.json          {"task", "last_version", "versions": [{version, sha256, bytes, created,
                                        chunk_bytes, chunk_sha256}]}
      tasks/<task>/v000007.safetensors one immutable file per version (format: sketch/task_lut.py)
      quarantine/<task>.v000007.<reason>.<unix time>.safetensors   files that failed a check, kept for a look

- put() copies the upload into a temp file in the task's directory (hashing it on the way), validates the copy
  against the base, fsyncs it, renames it to its version's name, then rewrites index.json the same way
  (temp + fsync + rename + fsync of the directory). A crash at any point leaves the old index, and at worst
  an uncommitted file that the next start-up quarantines.
- Version numbers only grow, also across delete(): the pool caches LUTs by (task, version), so a number is never
  reused for other contents.
- At start-up every indexed file is re-hashed (verify_on_open); a mismatch, an unindexed file or an unreadable
  index moves the files to quarantine/ and drops them from the index.
- Besides the whole file's SHA-256 (the API's), put() records one per 8 MiB chunk, so that a check re-hashes the
  chunks on several threads (hashlib releases the GIL): a 174 MB gpr-4 7B set took ~190 ms on one thread of the
  H200 host, the longest part of its load into a slot. Records without them (older stores) are checked whole.
- Task ids match TASK_ID_PATTERN (the HTTP API's pattern): no separators, no leading dot, so no path traversal.
  'base' is reserved for the base model's own LUT.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sketch.format import BaseSpec
from sketch.models import file_sha256
from sketch.task_lut import load_task_lut

log = logging.getLogger(__name__)

TASK_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
BASE_TASK = "base"
_VERSION_FILE = re.compile(r"^v(\d{6,})\.safetensors$")
_CHUNK = 1 << 20
CHECK_CHUNK = 8 << 20  # bytes per recorded chunk checksum (a multiple of _CHUNK)


class LutStoreError(Exception):
    """A stored LUT is missing or failed its checksum."""


class InvalidTaskIdError(ValueError):
    """The task id is not allowed (charset, length, or reserved)."""


@dataclass(frozen=True)
class VersionInfo:
    """One stored version of a task's LUT."""

    task: str
    version: int
    sha256: str
    bytes: int
    created: float  # unix time of the put


@dataclass(frozen=True)
class QuarantineRecord:
    """A file moved to quarantine/ at start-up or on a failed verify(), and why."""

    task: str
    version: int | None
    reason: str
    path: Path


def check_task_id(task: str) -> str:
    """Return task unchanged, or raise InvalidTaskIdError."""
    if not isinstance(task, str) or not TASK_ID_PATTERN.match(task):
        raise InvalidTaskIdError(
            f"task id {task!r} is invalid: 1-64 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return task


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class LutStore:
    """Thread-safe. `spec` (the served base) makes put() validate uploads; without it any LUT file is stored."""

    def __init__(
        self,
        root: str | os.PathLike,
        spec: BaseSpec | None = None,
        keep_versions: int = 3,
        verify_on_open: bool = True,
    ) -> None:
        if keep_versions < 1:
            raise ValueError("keep_versions must be >= 1")
        self.root = Path(root)
        self.spec = spec
        self.keep_versions = keep_versions
        self._tasks_dir = self.root / "tasks"
        self._quarantine_dir = self.root / "quarantine"
        self._tasks_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._index: dict[str, dict] = {}  # task -> {"task", "last_version", "versions": [dict]}
        self.quarantined: list[QuarantineRecord] = []
        for task_dir in sorted(p for p in self._tasks_dir.iterdir() if p.is_dir()):
            self._open_task(task_dir, verify_on_open)

    # --- reading ---------------------------------------------------------------------------------------------

    def latest(self, task: str) -> VersionInfo | None:
        with self._lock:
            entry = self._index.get(task)
            return self._info(task, entry["versions"][-1]) if entry and entry["versions"] else None

    def has_version(self, task: str, version: int) -> bool:
        with self._lock:
            entry = self._index.get(task)
            return any(v["version"] == version for v in entry["versions"]) if entry else False

    def versions(self, task: str) -> list[VersionInfo]:
        with self._lock:
            entry = self._index.get(task)
            return [self._info(task, v) for v in entry["versions"]] if entry else []

    def list(self) -> list[VersionInfo]:
        """The latest version of every stored task, by task id."""
        with self._lock:
            return [info for task in sorted(self._index) if (info := self.latest(task)) is not None]

    def path(self, task: str, version: int) -> Path:
        """The file of (task, version); LutStoreError if that version is not stored."""
        with self._lock:
            self._entry(task, version)
            return self._file(task, version)

    def verify(self, task: str, version: int) -> Path:
        """Re-hash the file of (task, version); on a mismatch quarantine it and raise LutStoreError."""
        with self._lock:
            record = dict(self._entry(task, version))
            file = self._file(task, version)
        if not _matches(file, record):
            with self._lock:
                self._quarantine(task, version, file, "checksum")
                self._drop_version(task, version)
            raise LutStoreError(f"task {task!r} version {version}: file checksum mismatch (quarantined)")
        return file

    # --- writing ---------------------------------------------------------------------------------------------

    def put(self, task: str, src_path: str | os.PathLike) -> VersionInfo:
        """Store src_path as the next version of task. Raises InvalidTaskIdError, TaskLutError (from validation)."""
        check_task_id(task)
        if task == BASE_TASK:
            raise InvalidTaskIdError(f"task id {BASE_TASK!r} is reserved for the base model")
        task_dir = self._tasks_dir / task
        task_dir.mkdir(exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix="upload.", suffix=".tmp", dir=task_dir)
        tmp = Path(tmp_name)
        try:
            h, size, part, parts = hashlib.sha256(), 0, hashlib.sha256(), []
            with open(src_path, "rb") as src, os.fdopen(fd, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    part.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                    if size % CHECK_CHUNK == 0:  # (reads end on _CHUNK boundaries but the last)
                        parts.append(part.hexdigest())
                        part = hashlib.sha256()
                if size % CHECK_CHUNK:
                    parts.append(part.hexdigest())
                dst.flush()
                os.fsync(dst.fileno())
            load_task_lut(tmp, self.spec)  # validate the copy we keep, not the caller's file
            with self._lock:
                entry = self._index.setdefault(task, {"task": task, "last_version": 0, "versions": []})
                version = entry["last_version"] + 1
                os.replace(tmp, self._file(task, version))
                _fsync_dir(task_dir)
                record = {"version": version, "sha256": h.hexdigest(), "bytes": size, "created": time.time(),
                          "chunk_bytes": CHECK_CHUNK, "chunk_sha256": parts}  # fmt: skip
                entry["last_version"] = version
                entry["versions"].append(record)
                keep = self.keep_versions
                stale, entry["versions"] = entry["versions"][:-keep], entry["versions"][-keep:]
                self._write_index(task)
                for old in stale:
                    self._file(task, old["version"]).unlink(missing_ok=True)
                return self._info(task, record)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, task: str) -> int:
        """Remove every version of task; returns how many were stored (0: none). The version counter is kept."""
        check_task_id(task)
        with self._lock:
            entry = self._index.get(task)
            if not entry or not entry["versions"]:
                return 0
            files = [self._file(task, v["version"]) for v in entry["versions"]]
            entry["versions"] = []
            self._write_index(task)
            for f in files:
                f.unlink(missing_ok=True)
            return len(files)

    # --- internals -------------------------------------------------------------------------------------------

    def _file(self, task: str, version: int) -> Path:
        return self._tasks_dir / task / f"v{version:06d}.safetensors"

    def _info(self, task: str, record: dict) -> VersionInfo:
        return VersionInfo(task, record["version"], record["sha256"], record["bytes"], record["created"])

    def _entry(self, task: str, version: int) -> dict:
        entry = self._index.get(task)
        for record in entry["versions"] if entry else []:
            if record["version"] == version:
                return record
        raise LutStoreError(f"task {task!r} has no stored version {version}")

    def _write_index(self, task: str) -> None:
        _atomic_write_text(self._tasks_dir / task / "index.json", json.dumps(self._index[task], indent=1))

    def _drop_version(self, task: str, version: int) -> None:
        entry = self._index[task]
        entry["versions"] = [v for v in entry["versions"] if v["version"] != version]
        self._write_index(task)

    def _quarantine(self, task: str, version: int | None, file: Path, reason: str) -> None:
        self._quarantine_dir.mkdir(exist_ok=True)
        tag = f"v{version:06d}" if version is not None else file.stem
        dest = self._quarantine_dir / f"{task}.{tag}.{reason}.{int(time.time() * 1000)}{file.suffix}"
        shutil.move(str(file), dest)
        self.quarantined.append(QuarantineRecord(task, version, reason, dest))
        log.warning("LUT store: quarantined %s (task %s, %s)", dest.name, task, reason)

    def _quarantined_versions(self, task: str) -> list[int]:
        """Versions of task found in quarantine/: their numbers are never given out again."""
        if not self._quarantine_dir.is_dir():
            return []
        pattern = re.compile(rf"^{re.escape(task)}\.v(\d{{6,}})\.[a-z]+\.\d+\.safetensors$")
        return [int(m.group(1)) for p in self._quarantine_dir.iterdir() if (m := pattern.match(p.name))]

    def _open_task(self, task_dir: Path, verify: bool) -> None:
        task = task_dir.name
        if not TASK_ID_PATTERN.match(task) or task == BASE_TASK:
            log.warning("LUT store: ignoring directory %s (not a valid task id)", task_dir)
            return
        for tmp in task_dir.glob("*.tmp"):  # a put or index write that never finished
            tmp.unlink(missing_ok=True)
        on_disk = {int(m.group(1)): p for p in task_dir.iterdir() if (m := _VERSION_FILE.match(p.name))}
        try:
            entry = json.loads((task_dir / "index.json").read_text())
            records = [
                {"version": int(r["version"]), "sha256": str(r["sha256"]), "bytes": int(r["bytes"]),
                 "created": float(r["created"]),
                 **({"chunk_bytes": int(r["chunk_bytes"]), "chunk_sha256": [str(c) for c in r["chunk_sha256"]]}
                    if "chunk_sha256" in r else {})}
                for r in entry["versions"]
            ]  # fmt: skip
            entry = {"task": task, "last_version": int(entry["last_version"]), "versions": records}
        except FileNotFoundError:
            entry = {"task": task, "last_version": 0, "versions": []}
        except (ValueError, KeyError, TypeError) as e:
            log.warning("LUT store: index of %s is unreadable (%s): quarantining its files", task, e)
            entry = {"task": task, "last_version": 0, "versions": []}
        entry["last_version"] = max([entry["last_version"], *on_disk, *self._quarantined_versions(task)])
        kept = []
        for record in entry["versions"]:
            file = on_disk.pop(record["version"], None)
            if file is None:
                log.warning("LUT store: %s version %s is indexed but missing", task, record["version"])
            elif verify and not _matches(file, record):
                self._quarantine(task, record["version"], file, "checksum")
            else:
                kept.append(record)
        for version, file in on_disk.items():
            self._quarantine(task, version, file, "uncommitted")
        entry["versions"] = kept
        self._index[task] = entry
        self._write_index(task)


@cache
def _hash_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1), thread_name_prefix="lut-store-hash")


def _chunk_sha256(file: Path, offset: int, size: int) -> str:
    with open(file, "rb") as f:
        f.seek(offset)
        return hashlib.sha256(f.read(size)).hexdigest()


def _matches(file: Path, record: dict) -> bool:
    """Whether file has record's size and checksums: its chunks' on several threads where the record has them
    (a chunk's SHA-256 catches what the whole file's would), else the whole file's."""
    size = file.stat().st_size
    if size != record["bytes"]:
        return False
    want = record.get("chunk_sha256")
    if want is None:
        return file_sha256(file) == record["sha256"]
    step = record["chunk_bytes"]
    if step <= 0 or len(want) != -(-size // step):
        return False
    offsets = range(0, len(want) * step, step)
    got = _hash_threads().map(_chunk_sha256, [file] * len(want), offsets, [step] * len(want))
    return all(g == w for g, w in zip(got, want, strict=True))
