"""The LUT slot pool: task LUT sets resident on the device, indexed per token by the multi-LUT op.

    lut_pools[layer]  [S, N, gpr, 2**bits]   one view per sketched projection, allocated once
                       q/k/v and gate/up of a layer are views into one fused tensor [S, sum N, gpr, 2**bits]
                       (fused_luts), so the model computes each group with one kernel call
                       slot 0       the base LUT, always resident, served as task 'base'
                       slot 1..S-1  one task's LUT set each, keyed by (task, version)

    store (disk) --loader thread: read, sha256, validate--> CPU tier --loader thread: copy--> slot --> ready
                                                            (host, LRU,   (own CUDA stream;
                                                            byte budget)   the engine never waits on it)

A CPU-tier entry is one host buffer (pinned on CUDA) holding the set's layers side by side; a dropped entry's buffer
takes the next load (a pinned allocation per layer, 224 of them for a 7B set, made each load ~100 ms slower). On
CUDA the loader thread pins the tier's buffers ahead, while it has no job, up to what the budget holds plus the set
being loaded: a fresh pinned buffer cost a 7B gpr-4 load ~110-170 of its ~160-230 ms (benchmarks/NOTES.md, twentieth
session).

A key is absent, loading (disk -> CPU tier), staged (in the CPU tier, no slot free yet), copying (slot reserved,
copy running), resident (ready), or failed (the error is kept; the key's requests fail with it).

- acquire(key) pins a resident slot and returns it; otherwise it starts what is missing and returns None, so the
  scheduler runs other tasks meanwhile. Pins are taken at admission and dropped by release() at finish or cancel.
- Eviction is LRU over unpinned resident slots only; a pinned slot is never evicted nor overwritten.
- A new version of a task is a new key: it loads into another slot while pinned requests finish on the old one.
  The old version's slot is freed as soon as its last pin is released.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from adapters.store import BASE_TASK, LutStore
from kernels.cpu_threads import single_threaded_torch
from kernels.reference import code_counts
from sketch.format import SketchedBase
from sketch.task_lut import load_task_lut

log = logging.getLogger(__name__)

# Projections that read the same input: their codes and LUTs sit side by side along N, one op call for all.
FUSED_PROJECTIONS = {
    "self_attn.qkv_proj": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    "mlp.gate_up_proj": ("mlp.gate_proj", "mlp.up_proj"),
}


# The load stream's priority (lower is higher; torch maps anything below the GPU's range to its highest). Timed in
# the forty-eighth session (H200, gpr 1, 16 x 16 under load, benchmarks/device/sessions/fortyfifth_load_priority.sh):
# -100 loaded in 61.5 ms against 39.8 at 0, its distance 14.7 ms after ready against 14.5, the step the same; so the
# default priority stays. A slot goes ready before its distance is measured (forty-sixth session).
LOAD_STREAM_PRIORITY = int(os.environ.get("SKETCHSERVE_LOAD_STREAM_PRIORITY", "0"))
# Projections whose weighted LUTs LutPool.lut_distance holds at once.
DISTANCE_CHUNK = 16
# Task versions whose distance from the base the pool remembers (a version's LUTs never change, so a set copied into
# a slot again, after an eviction, is not measured again); the least recently measured are forgotten first.
DISTANCES_REMEMBERED = 1 << 16

# Spare host buffers kept or pinned ahead, at most (a 7B gpr-1 set is 43.5 MB: 13 fill the default 512 MiB tier).
MAX_HOST_BUFFERS = 32


@dataclass(frozen=True)
class FusedLuts:
    """The pool tensor of a group of projections that share their input, and where each member lies in it."""

    lut_pool: torch.Tensor  # [S, sum of the members' N, gpr, 2**bits]
    members: tuple[str, ...]  # layer names, in their order along N


def allocate_lut_pools(
    base: SketchedBase, num_slots: int, dtype: torch.dtype, device: torch.device | str
) -> tuple[dict[str, torch.Tensor], dict[str, FusedLuts]]:
    """Zeroed pools with the base LUT in slot 0: (a [S, N, gpr, L] view per layer name, the fused groups).

    Each member of a fused group is a view into its group's tensor, so loading a task LUT writes the same
    memory that the fused projection reads. A group is fused only when all its members exist with one K."""
    views: dict[str, torch.Tensor] = {}
    fused: dict[str, FusedLuts] = {}
    for name in base.layer_names:
        if name in views:
            continue
        layer = name.rsplit(".", 2)[0]  # model.layers.{i}
        projection = name[len(layer) + 1 :]  # e.g. self_attn.q_proj
        group = next((g for g, members in FUSED_PROJECTIONS.items() if projection in members), None)
        members = [f"{layer}.{m}" for m in FUSED_PROJECTIONS[group]] if group else [name]
        if not all(m in base.luts for m in members) or len({base.layer_shapes[m][1] for m in members}) != 1:
            group, members = None, [name]
        rows = sum(base.luts[m].shape[0] for m in members)
        tensor = torch.zeros((num_slots, rows, *base.luts[name].shape[1:]), dtype=dtype, device=device)
        start = 0
        for member in members:  # side by side along N
            n = base.luts[member].shape[0]
            views[member] = tensor[:, start : start + n]
            views[member][BASE_SLOT].copy_(base.luts[member])
            start += n
        if group is not None:
            fused[f"{layer}.{group}"] = FusedLuts(tensor, tuple(members))
    return views, fused

TaskKey = tuple[str, int]  # (task, version)
BASE_KEY: TaskKey = (BASE_TASK, 0)
BASE_SLOT = 0


class LutLoadError(RuntimeError):
    """A task's LUT could not be loaded (missing, corrupt, or not fitting the base). The message says why."""


@dataclass
class PoolStats:
    """A snapshot of the pool, for EngineStats and metrics."""

    slots_total: int
    slots_used: int  # resident or being filled, base included
    slots_pinned: int
    pins: int  # requests in flight holding a slot (sum over slots)
    tasks_resident: int  # resident keys, base excluded
    hits: int  # acquire() answered from a resident slot
    misses: int  # loads started (disk or CPU tier -> slot)
    evictions: int
    load_failures: int  # loads that failed (a counter: never decreases)
    cpu_tier_entries: int
    cpu_tier_bytes: int
    last_load_s: float  # latency of the last load, from the miss to the slot being ready
    mean_load_s: float  # over the last 256 loads
    loads_completed: int  # a counter
    load_seconds_total: float  # a counter: summed latency of every completed load
    lut_set_bytes: int  # device bytes of one slot (all layers)
    mean_distance_s: float  # with measure_distance: from ready to measured (steps exact), over the last 256


@dataclass
class _Slot:
    key: TaskKey | None = None
    pins: int = 0
    ready: bool = False


class LutPool:
    """S device slots of LUT sets, a CPU tier, and a loader thread. Thread-safe."""

    def __init__(
        self,
        base: SketchedBase,
        store: LutStore | None,
        num_slots: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        cpu_tier_bytes: int = 512 << 20,
        verify_checksums: bool = True,
        on_ready: Callable[[], None] | None = None,
        pin_ahead: bool | None = None,
        measure_distance: bool = False,
    ) -> None:
        """pin_ahead: prepare the CPU tier's host buffers while the loader is idle (default: on CUDA with a store).
        measure_distance: measure each set's distance from the base's as it enters its slot (base_distance; the int8
        activation mode's per-step check; once a task version: DISTANCES_REMEMBERED), at the cost of one more set's
        memory on the device (the weights' per-entry counts)."""
        if num_slots < 1:
            raise ValueError("the pool needs at least the base's slot")
        self.device, self.dtype = torch.device(device), dtype
        self.store, self.spec = store, base.spec()
        self.layer_names = base.layer_names
        self.cpu_tier_budget, self.verify_checksums = cpu_tier_bytes, verify_checksums
        self.on_ready = on_ready or (lambda: None)
        self.lut_pools, self.fused_luts = allocate_lut_pools(base, num_slots, dtype, self.device)
        self.lut_set_bytes = sum(t[0].numel() * t.element_size() for t in self.lut_pools.values())
        self._set_numel = sum(t[0].numel() for t in self.lut_pools.values())  # a CPU-tier buffer's elements
        self._lock = threading.Lock()
        self._slots = [_Slot() for _ in range(num_slots)]
        self.slot_generation = [0] * num_slots  # bumped each time a slot receives a LUT set (for weight caches)
        # per slot: how far its LUT set lies from the base's (lut_distance; infinite from before the slot is ready
        # until its version is measured, just after)
        self.base_distance = [0.0] * num_slots
        self.measure_distance = measure_distance
        self._distances: OrderedDict[TaskKey, float] = OrderedDict()  # each version's, as measured (lock held)
        self._measured = threading.Condition(self._lock)  # notified as each version's distance is measured
        if measure_distance:
            # per projection: sqrt of how many weights use each LUT entry, so ||LUT * w|| = ||W_hat||
            self._entry_weights = [code_counts(base.codes[name].to(self.device), base.bits, base.layer_shapes[name][1],
                                               base.gpr).sqrt_().to(dtype) for name in self.lut_pools]  # fmt: skip
            self._base_norms = self._norms(BASE_SLOT, minus_base=False).clamp_min(1e-30)
        self._slots[BASE_SLOT] = _Slot(BASE_KEY, 0, True)
        self._slot_of_key: dict[TaskKey, int] = {BASE_KEY: BASE_SLOT}
        self._lru: OrderedDict[TaskKey, None] = OrderedDict()  # resident task keys, least recently used first
        self._cpu_tier: OrderedDict[TaskKey, dict[str, torch.Tensor]] = OrderedDict()
        self._cpu_buffers: dict[TaskKey, torch.Tensor] = {}  # each tier entry's host buffer (its layers are views)
        self._spare_buffers: list[torch.Tensor] = []  # dropped or prepared buffers, for the next loads
        # host buffers at most (entries and spares): the budget's sets plus the one being loaded, as before any reuse,
        # and at most MAX_HOST_BUFFERS (small sets: a fresh buffer costs little, and thousands would be pinned)
        self.max_host_buffers = min(self.cpu_tier_budget // max(1, self.lut_set_bytes) + 1, MAX_HOST_BUFFERS)
        self.pin_ahead = (self.device.type == "cuda" and store is not None) if pin_ahead is None else pin_ahead
        self._cpu_tier_bytes = 0
        self._loading: set[TaskKey] = set()
        self._failed: dict[TaskKey, str] = {}
        self._missed_at: dict[TaskKey, float] = {}
        self._load_times: list[float] = []
        self._distance_times: list[float] = []  # new versions' measurements, from ready to measured
        self._loads_completed, self._load_seconds_total = 0, 0.0
        self._hits = self._misses = self._evictions = self._load_failures = 0
        self._jobs: queue.Queue = queue.Queue()
        # the copies and the distance's kernels (LOAD_STREAM_PRIORITY): with the distance measured (the int8 mode,
        # the server's default on sm_90), its few small kernels may queue behind a busy engine's decode steps, whose
        # PDL-launched kernels hold the SMs (a new version's steps run exact until it is measured, after it went
        # ready); a stream of the highest priority did not shorten that (see LOAD_STREAM_PRIORITY)
        self._stream = (torch.cuda.Stream(self.device, priority=LOAD_STREAM_PRIORITY) if self.device.type == "cuda"
                        else None)  # fmt: skip
        # the checksum of a file runs beside its parse and staging (hashlib releases the GIL): 187 ms of a 174 MB
        # gpr-4 set's load on the H200 host, as long as the rest
        self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lut-pool-hash")
        self._loader = threading.Thread(target=self._loader_loop, name="lut-pool-loader", daemon=True)
        self._loader.start()

    @property
    def num_slots(self) -> int:
        return len(self._slots)

    @staticmethod
    def slots_for_budget(base: SketchedBase, pool_bytes: int, dtype: torch.dtype) -> int:
        """How many slots (base included, at least 2) fit pool_bytes."""
        per_slot = sum(lut.numel() for lut in base.luts.values()) * torch.empty((), dtype=dtype).element_size()
        return max(2, pool_bytes // per_slot)

    # --- the scheduler's side ----------------------------------------------------------------------------------

    def acquire(self, key: TaskKey) -> int | None:
        """Pin and return key's slot if resident; else start loading it and return None. LutLoadError if failed."""
        with self._lock:
            slot = self._slot_of_key.get(key)
            if slot is not None:
                if not self._slots[slot].ready:
                    return None
                self._slots[slot].pins += 1
                if key in self._lru:
                    self._lru.move_to_end(key)
                self._hits += 1
                return slot
            if key in self._failed:
                raise LutLoadError(self._failed[key])
            if key in self._loading:
                return None
            if key not in self._missed_at:
                self._misses += 1
                self._missed_at[key] = time.perf_counter()
            if key in self._cpu_tier:
                self._place(key)
            else:
                self._loading.add(key)
                self._jobs.put(("load", key))
            return None

    def release(self, key: TaskKey) -> None:
        """Drop one pin of key (request finished, cancelled or failed)."""
        with self._lock:
            slot = self._slot_of_key[key]
            state = self._slots[slot]
            if state.pins <= 0:
                raise RuntimeError(f"{key} released more often than acquired")
            state.pins -= 1
            if state.pins == 0 and slot != BASE_SLOT and self._superseded(key):
                self._free(slot)

    def failure(self, key: TaskKey) -> str | None:
        """The error of a failed key, if it failed."""
        with self._lock:
            return self._failed.get(key)

    def forget(self, task: str) -> None:
        """Drop a deleted task: its unpinned slots and CPU-tier entries now, pinned slots at their last release."""
        with self._lock:
            for key in [k for k in self._slot_of_key if k[0] == task]:
                slot = self._slot_of_key[key]
                if self._slots[slot].ready and self._slots[slot].pins == 0:
                    self._free(slot)
            for key in [k for k in self._cpu_tier if k[0] == task]:
                self._drop_staged(key)
            for key in [k for k in self._failed if k[0] == task]:
                del self._failed[key]

    def latest_key(self, task: str) -> TaskKey | None:
        """(task, version) of task's latest stored LUT; None if the task is not stored (any more)."""
        latest = self.store.latest(task) if self.store is not None else None
        return None if latest is None else (task, latest.version)

    def slot_of(self, key: TaskKey) -> int | None:
        """key's slot if resident and ready (no pin taken)."""
        with self._lock:
            slot = self._slot_of_key.get(key)
            return slot if slot is not None and self._slots[slot].ready else None

    def pins(self, key: TaskKey | None = None) -> int:
        """Pins held on key's slot, or on all slots."""
        with self._lock:
            if key is None:
                return sum(s.pins for s in self._slots)
            slot = self._slot_of_key.get(key)
            return 0 if slot is None else self._slots[slot].pins

    def stats(self) -> PoolStats:
        with self._lock:
            times = self._load_times
            return PoolStats(
                slots_total=len(self._slots),
                slots_used=sum(s.key is not None for s in self._slots),
                slots_pinned=sum(s.pins > 0 for s in self._slots),
                pins=sum(s.pins for s in self._slots),
                tasks_resident=sum(s.ready and s.key != BASE_KEY for s in self._slots),
                hits=self._hits,
                misses=self._misses,
                evictions=self._evictions,
                load_failures=self._load_failures,
                cpu_tier_entries=len(self._cpu_tier),
                cpu_tier_bytes=self._cpu_tier_bytes,
                last_load_s=times[-1] if times else 0.0,
                mean_load_s=sum(times) / len(times) if times else 0.0,
                loads_completed=self._loads_completed,
                load_seconds_total=self._load_seconds_total,
                lut_set_bytes=self.lut_set_bytes,
                mean_distance_s=sum(self._distance_times) / len(self._distance_times) if self._distance_times else 0.0,
            )

    def close(self) -> None:
        self._jobs.put(None)
        self._loader.join(timeout=10)
        self._hasher.shutdown(wait=False)

    def lut_distance(self, slot: int) -> float:
        """How far the slot's LUT set lies from the base's: the largest over projections of ||W_hat - W_hat_base|| /
        ||W_hat_base||, from the LUTs and how many weights use each entry (no weight is rebuilt). The int8
        activation mode's error on a projection is its one-digit rounding error times about this
        (EngineConfig.int8_max_lut_distance). On the pool's device, in the current stream; one read-back. Needs
        measure_distance."""
        if not self.measure_distance:
            raise RuntimeError("the pool was built without measure_distance")
        return float((self._norms(slot, minus_base=True) / self._base_norms).max())

    def distance_of(self, key: TaskKey) -> float | None:
        """With measure_distance: how far key's LUT set lies from the base's (lut_distance), as measured just after
        the version first entered a slot (0 for the base); None before then, or without measure_distance."""
        if not self.measure_distance:
            return None
        with self._lock:
            return 0.0 if key == BASE_KEY else self._distances.get(key)

    def wait_for_distance(self, key: TaskKey, timeout_s: float = 30.0) -> float | None:
        """distance_of(key), waiting up to timeout_s for its measurement (a version that entered a slot is measured
        just after it went ready; its steps run exact until then). None without measure_distance or on time-out."""
        if not self.measure_distance:
            return None
        with self._measured:
            self._measured.wait_for(lambda: key == BASE_KEY or key in self._distances, timeout=timeout_s)
            return 0.0 if key == BASE_KEY else self._distances.get(key)

    def _norms(self, slot: int, minus_base: bool) -> torch.Tensor:
        """float32 [P]: ||(lut - lut_base if minus_base else lut) * w|| of each projection's LUT in slot (w its
        _entry_weights), through multi-tensor kernels a chunk of projections at a time (a few launches a chunk, not
        several a projection; the temporaries a chunk's, where a whole 7B gpr-4 set is 174 MB)."""
        pools, norms = list(self.lut_pools.values()), []
        for i in range(0, len(pools), DISTANCE_CHUNK):
            chunk, weights = pools[i : i + DISTANCE_CHUNK], self._entry_weights[i : i + DISTANCE_CHUNK]
            luts = [t[slot] for t in chunk]
            values = torch._foreach_sub(luts, [t[BASE_SLOT] for t in chunk]) if minus_base else luts
            norms += torch._foreach_norm(torch._foreach_mul(values, weights))  # (the pool's dtype: plenty here)
        return torch.stack(norms).float()

    # --- slot bookkeeping (lock held) --------------------------------------------------------------------------

    def _superseded(self, key: TaskKey) -> bool:
        latest = self.store.latest(key[0]) if self.store is not None else None
        return latest is None or latest.version != key[1]

    def _free(self, slot: int) -> None:
        key = self._slots[slot].key
        self._slot_of_key.pop(key, None)
        self._lru.pop(key, None)
        self._slots[slot] = _Slot()

    def _reserve_slot(self) -> int | None:
        for slot, state in enumerate(self._slots):
            if state.key is None:
                return slot
        for key in self._lru:  # least recently used first
            slot = self._slot_of_key[key]
            if self._slots[slot].pins == 0:
                self._free(slot)
                self._evictions += 1
                return slot
        return None

    def _place(self, key: TaskKey) -> None:
        """Reserve a slot for a staged key and queue its copy; without a free slot it stays staged."""
        slot = self._reserve_slot()
        if slot is None:
            return
        self._slots[slot] = _Slot(key, 0, False)
        self._slot_of_key[key] = slot
        self._jobs.put(("copy", key))

    def _stage(self, key: TaskKey, luts: dict[str, torch.Tensor], buffer: torch.Tensor) -> None:
        # One version per task in the CPU tier: an older one is only ever read again by a request that resolved
        # it before the upload, and such a request can read it from disk; keeping it would fill the budget
        # with dead versions under steady uploads.
        for old in [k for k in self._cpu_tier if k[0] == key[0] and k[1] < key[1]]:
            self._drop_staged(old)
        self._cpu_tier[key] = luts
        self._cpu_buffers[key] = buffer
        self._cpu_tier_bytes += _nbytes(luts)
        while self._cpu_tier_bytes > self.cpu_tier_budget and len(self._cpu_tier) > 1:
            self._drop_staged(next(iter(self._cpu_tier)))

    def _drop_staged(self, key: TaskKey) -> None:
        """Take key out of the CPU tier; its buffer waits for the next load (only the loader thread reuses one, after
        any copy from it has ended: copies run on that thread too), up to max_host_buffers in all: host memory then
        peaks where it did when each load allocated its own, at the budget plus the set being loaded."""
        self._cpu_tier_bytes -= _nbytes(self._cpu_tier.pop(key))
        buffer = self._cpu_buffers.pop(key)
        if self._room_for_a_buffer():
            self._spare_buffers.append(buffer)

    def _room_for_a_buffer(self) -> bool:
        """Lock held. Whether the CPU tier's host buffers (entries and spares) are fewer than max_host_buffers."""
        return len(self._cpu_buffers) + len(self._spare_buffers) < self.max_host_buffers

    def _host_buffer(self) -> torch.Tensor:
        """A host buffer for one LUT set: a spare (dropped or prepared), else a new one (pinned on CUDA)."""
        with self._lock:
            if self._spare_buffers:
                return self._spare_buffers.pop()
        return self._new_host_buffer()

    def _new_host_buffer(self) -> torch.Tensor:
        return torch.empty(self._set_numel, dtype=self.dtype, pin_memory=self.device.type == "cuda")

    def _pin_one_ahead(self) -> bool:
        """On the loader thread, between jobs: prepare one more spare host buffer if the tier has room for it.
        Returns whether it did (one buffer at a time: a job that arrives meanwhile waits for one allocation only)."""
        if not self.pin_ahead:
            return False
        with self._lock:
            if not self._room_for_a_buffer():
                return False
        try:
            buffer = self._new_host_buffer()
        except RuntimeError as e:  # host memory short of the budget: loads allocate their own, as without
            log.warning("LUT pool: pinning the CPU tier's buffers ahead stopped (%s)", e)
            self.pin_ahead = False
            return False
        with self._lock:
            self._spare_buffers.append(buffer)
        return True

    # --- the loader thread -------------------------------------------------------------------------------------

    def _loader_loop(self) -> None:
        if self.device.type == "cpu":  # its copies and checks must not slow the engine's matmuls (cpu_threads.py)
            single_threaded_torch()
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                if self._pin_one_ahead():
                    continue
                job = self._jobs.get()
            if job is None:
                break
            kind, key = job
            try:
                self._load(key) if kind == "load" else self._copy(key)
            except Exception as e:  # noqa: BLE001 - every failure must reach the key's requests
                newer = self.latest_key(key[0])
                pruned = newer is not None and newer != key and not self.store.has_version(*key)
                if pruned:  # newer uploads pruned it before it loaded: expected under churn, its requests move on
                    log.info("LUT pool: %s was replaced and pruned before it loaded; its requests take %s", key, newer)
                else:
                    log.warning("LUT pool: loading %s failed: %s", key, e)
                with self._lock:
                    self._loading.discard(key)
                    slot = self._slot_of_key.get(key)
                    if slot is not None and not self._slots[slot].ready:
                        self._free(slot)
                    self._failed[key] = f"task {key[0]!r} version {key[1]}: LUT could not be loaded: {e}"
                    if not pruned:
                        self._load_failures += 1
                    self._missed_at.pop(key, None)
            self.on_ready()

    def _load(self, key: TaskKey) -> None:
        task, version = key
        if self.store is None:
            raise LutLoadError("no LUT store is configured")
        # The checksum runs beside the parse and staging; nothing reaches a slot before it matched. A verified file
        # is byte for byte the one the store validated at upload, values included.
        checked = self._hasher.submit(self.store.verify, task, version) if self.verify_checksums else None
        try:
            task_lut = load_task_lut(self.store.path(task, version), self.spec, check_values=checked is None)
            buffer = self._host_buffer()
            luts = stage_lut_set(task_lut.luts, self.layer_names, buffer)
        except Exception:
            if checked is not None:
                checked.result()  # a corrupt file's error is its checksum's (and the store quarantines it)
            raise
        if checked is not None:
            checked.result()
        with self._lock:
            self._loading.discard(key)
            self._stage(key, luts, buffer)
            self._place(key)

    def _copy(self, key: TaskKey) -> None:
        with self._lock:
            slot, luts = self._slot_of_key.get(key), self._cpu_tier.get(key)
            if slot is None:
                return
            if luts is None:  # dropped from the CPU tier since: read it again
                self._free(slot)
                self._loading.add(key)
                self._jobs.put(("load", key))
                return
        self.slot_generation[slot] += 1
        # A version measured before takes its distance at once. A new one is served before it is measured, with
        # its steps exact meanwhile (an infinite distance): the measurement's kernels, which may queue behind a busy
        # engine's decode steps, stay off its requests' first token (LOAD_STREAM_PRIORITY).
        distance = self.distance_of(key) if self.measure_distance else 0.0
        self.base_distance[slot] = math.inf if distance is None else distance
        if self._stream is not None:
            with torch.cuda.stream(self._stream):
                for name, t in luts.items():
                    self.lut_pools[name][slot].copy_(t, non_blocking=True)
            self._stream.synchronize()
        else:
            for name, t in luts.items():
                self.lut_pools[name][slot].copy_(t)
        with self._lock:
            if self._slots[slot].key == key:
                self._slots[slot].ready = True
                self._lru[key] = None
                missed = self._missed_at.pop(key, None)
                if missed is not None:
                    latency = time.perf_counter() - missed
                    self._load_times.append(latency)
                    del self._load_times[:-256]
                    self._loads_completed += 1
                    self._load_seconds_total += latency
        if distance is None:
            self.on_ready()  # its requests start now
            try:
                self._measure_distance(key, slot)
            except Exception as e:  # noqa: BLE001 - the set is served all the same: its steps stay exact
                log.warning("LUT pool: measuring %s's distance from the base failed (its steps run exact): %s", key, e)

    def _measure_distance(self, key: TaskKey, slot: int) -> None:
        """On the loader thread, after key's set went ready in slot: its lut_distance, remembered for the version and
        given to base_distance[slot] if the slot still holds key. Until then no other set enters a slot (copies run
        on this thread), so an eviction meanwhile leaves the slot's values key's."""
        started = time.perf_counter()
        if self._stream is not None:
            with torch.cuda.stream(self._stream):
                distance = self.lut_distance(slot)
        else:
            distance = self.lut_distance(slot)
        with self._measured:
            self._distance_times.append(time.perf_counter() - started)
            del self._distance_times[:-256]
            self._distances[key] = distance
            if len(self._distances) > DISTANCES_REMEMBERED:
                self._distances.popitem(last=False)
            if self._slots[slot].key == key:
                self.base_distance[slot] = distance
            self._measured.notify_all()


def stage_lut_set(luts: dict[str, torch.Tensor], names: list[str], buffer: torch.Tensor) -> dict[str, torch.Tensor]:
    """A CPU-tier entry: luts' layers (in names' order) copied side by side into buffer (1-D, the pool's dtype,
    large enough), each returned as a view of its part."""
    staged, start = {}, 0
    for name in names:
        t = luts[name]
        staged[name] = buffer[start : start + t.numel()].view(t.shape)
        staged[name].copy_(t)  # (to the buffer's dtype)
        start += t.numel()
    return staged


def _nbytes(luts: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in luts.values())
