"""The LUT slot pool on its own: async loads, LRU eviction of unpinned slots only, CPU tier, failures."""

from __future__ import annotations

import math
import os
import threading
import time

import pytest
import torch

from adapters.pool import BASE_KEY, MAX_HOST_BUFFERS, LutLoadError, LutPool
from sketch.task_lut import load_task_lut
from tests.native_threads import non_python_threads_since, threads_of_this_process
from tests.server.conftest import create_base, create_store, task_lut_file


def wait_acquire(pool, key, timeout=10.0):
    deadline = time.monotonic() + timeout
    while (slot := pool.acquire(key)) is None:
        assert time.monotonic() < deadline, f"{key} never became resident"
        time.sleep(0.005)
    return slot


@pytest.fixture
def setup(tmp_path):
    base = create_base()
    store = create_store(base, tmp_path, {f"t{i}": i + 1 for i in range(4)})
    pool = LutPool(base, store, num_slots=3, cpu_tier_bytes=1 << 30)
    yield base, store, pool
    pool.close()


def test_base_is_slot_zero_and_tasks_load_their_luts(setup):
    base, store, pool = setup
    assert pool.acquire(BASE_KEY) == 0
    slot = wait_acquire(pool, ("t0", 1))
    name = base.layer_names[0]
    expected = load_task_lut(store.path("t0", 1)).luts[name].float()  # the pool's dtype here is float32
    assert slot != 0 and torch.equal(pool.lut_pools[name][slot], expected)
    assert torch.equal(pool.lut_pools[name][0], base.luts[name].float())
    # q/k/v and gate/up are views into one fused tensor per layer: the fused projection reads what was loaded
    assert len(pool.fused_luts) == 2 * base.config["num_hidden_layers"]
    task_lut = load_task_lut(store.path("t0", 1)).luts
    for group in pool.fused_luts.values():
        stacked = torch.cat([task_lut[m].float() for m in group.members])
        assert torch.equal(group.lut_pool[slot], stacked) and group.lut_pool.is_contiguous()


def test_eviction_is_lru_and_never_touches_pinned_slots(setup):
    _, _, pool = setup
    a = wait_acquire(pool, ("t0", 1))  # pinned
    b = wait_acquire(pool, ("t1", 1))
    pool.release(("t1", 1))  # t1 unpinned: the only evictable slot
    assert wait_acquire(pool, ("t2", 1)) == b
    assert pool.slot_of(("t0", 1)) == a and pool.slot_of(("t1", 1)) is None
    # both task slots pinned now: t3 cannot get in, and t0/t2 are untouched
    for _ in range(20):
        assert pool.acquire(("t3", 1)) is None
        time.sleep(0.005)
    assert pool.slot_of(("t0", 1)) == a and pool.slot_of(("t2", 1)) == b
    assert pool.stats().cpu_tier_entries == 4  # t3 is staged in host memory, waiting for a slot
    pool.release(("t0", 1))
    assert wait_acquire(pool, ("t3", 1)) == a
    pool.release(("t2", 1))
    pool.release(("t3", 1))
    stats = pool.stats()
    assert stats.pins == 0 and stats.evictions == 2 and stats.misses == 4


def test_cpu_tier_respects_its_budget(tmp_path):
    base = create_base()
    store = create_store(base, tmp_path, {f"t{i}": i for i in range(3)})
    pool = LutPool(base, store, num_slots=4, cpu_tier_bytes=int(base.lut_bytes() * 2 * 1.5))  # 1.5 fp32 sets
    for i in range(3):
        wait_acquire(pool, (f"t{i}", 1))
    stats = pool.stats()
    assert stats.cpu_tier_entries == 1 and stats.tasks_resident == 3
    pool.close()


def test_a_dropped_cpu_tier_entrys_buffer_takes_the_next_load(tmp_path):
    """Each CPU-tier entry is one host buffer (its layers views into it); one the budget drops is reused, and the
    loads through it still fill each slot with its own task's values."""
    base = create_base()
    store = create_store(base, tmp_path, {f"t{i}": i for i in range(3)})
    pool = LutPool(base, store, num_slots=4, cpu_tier_bytes=int(base.lut_bytes() * 2 * 1.5))  # 1.5 fp32 sets
    slots = [wait_acquire(pool, (f"t{i}", 1)) for i in range(3)]
    (key, luts), = pool._cpu_tier.items()
    buffer = pool._cpu_buffers[key]
    assert key == ("t2", 1) and all(t.untyped_storage().data_ptr() == buffer.untyped_storage().data_ptr()
                                    for t in luts.values())  # fmt: skip
    assert len(pool._spare_buffers) == 1  # t1's, dropped when t2 came in (t0's, dropped before, took t2's load)
    for i, slot in enumerate(slots):
        expected = load_task_lut(store.path(f"t{i}", 1)).luts
        assert all(torch.equal(pool.lut_pools[name][slot], lut.float()) for name, lut in expected.items())
    pool.close()


def test_a_corrupt_file_fails_its_checksum_and_unverified_loads_still_check_the_values(tmp_path):
    base = create_base()
    store = create_store(base, tmp_path, {"t0": 0, "t1": 1})
    lut = load_task_lut(store.path("t0", 1))
    lut.luts[base.layer_names[0]][0, 0, 0] = float("nan")
    from sketch.task_lut import save_task_lut

    for name in ("t0", "t1"):  # the stored files replaced behind the store's back
        save_task_lut(lut, store.path(name, 1))
    for verify, match in ((True, "checksum"), (False, "NaN or Inf")):
        pool = LutPool(base, store, num_slots=2, verify_checksums=verify)
        key = ("t0", 1) if verify else ("t1", 1)
        deadline = time.monotonic() + 10
        with pytest.raises(LutLoadError, match=match):
            while True:
                assert pool.acquire(key) is None and time.monotonic() < deadline
                time.sleep(0.005)
        pool.close()


def test_cpu_tier_keeps_only_the_newest_loaded_version_of_a_task(setup, tmp_path):
    base, store, pool = setup
    for seed in (11, 12, 13):  # three uploads of t0, each loaded and then released
        version = store.put("t0", task_lut_file(base, "t0", seed, tmp_path)).version
        wait_acquire(pool, ("t0", version))
        pool.release(("t0", version))
    assert pool.stats().cpu_tier_entries == 1  # the dead versions do not sit in host memory until the budget


def test_failed_load_reports_the_error(setup):
    _, store, pool = setup
    store.path("t1", 1).write_bytes(b"garbage")
    deadline = time.monotonic() + 10
    with pytest.raises(LutLoadError, match="t1"):
        while True:
            assert pool.acquire(("t1", 1)) is None and time.monotonic() < deadline
            time.sleep(0.005)
    assert wait_acquire(pool, ("t0", 1)) != 0  # other tasks still load
    assert pool.stats().load_failures == 1


def test_the_loader_prepares_the_cpu_tiers_buffers_ahead_and_loads_take_them(tmp_path):
    """pin_ahead (on by default on CUDA): while idle, the loader fills the spares up to what the tier's budget holds
    plus the set being loaded; loads then stage into those buffers, and the tier never holds more than that."""
    base = create_base()
    store = create_store(base, tmp_path, {f"t{i}": i for i in range(4)})
    pool = LutPool(base, store, num_slots=5, cpu_tier_bytes=int(base.lut_bytes() * 2 * 2.5), pin_ahead=True)
    assert pool.max_host_buffers == 3  # 2.5 fp32 sets: two entries, and the set being loaded
    assert LutPool(base, None, 2, cpu_tier_bytes=1 << 30).max_host_buffers == MAX_HOST_BUFFERS  # small sets
    deadline = time.monotonic() + 10
    while len(pool._spare_buffers) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    prepared = {b.data_ptr() for b in pool._spare_buffers}
    assert len(prepared) == 3
    slots = [wait_acquire(pool, (f"t{i}", 1)) for i in range(4)]
    used = {b.data_ptr() for b in pool._cpu_buffers.values()} | {b.data_ptr() for b in pool._spare_buffers}
    assert used == prepared and len(pool._cpu_buffers) == 2  # t2 and t3 staged, t0's and t1's buffers reused
    for i, slot in enumerate(slots):
        expected = load_task_lut(store.path(f"t{i}", 1)).luts
        assert all(torch.equal(pool.lut_pools[name][slot], lut.float()) for name, lut in expected.items())
    pool.close()


@pytest.mark.skipif((os.cpu_count() or 1) < 2 or torch.get_num_threads() < 2, reason="one CPU: no OpenMP team")
def test_loading_a_lut_leaves_no_openmp_team_behind(tmp_path):
    """The loader thread lives as long as the pool: an OpenMP team of its own (from a large copy or check) would
    outnumber the CPUs with the engine's and make libgomp throttle the engine's matmuls (kernels/cpu_threads.py;
    1.6x slower CPU decoding after one task load, NOTES.md). Layers of 65,536 LUT entries: parallel ops in torch."""
    base = create_base(intermediate_size=2048)  # gate/up LUTs [2048, 2, 16]
    store = create_store(base, tmp_path, {"big": 1})
    pool = LutPool(base, store, num_slots=2, cpu_tier_bytes=1 << 30)
    try:
        before = threads_of_this_process()
        wait_acquire(pool, ("big", 1))
        assert non_python_threads_since(before) == set()  # no OpenMP workers (the checksum threads are Python's)
    finally:
        pool.close()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_each_slot_knows_how_far_its_lut_set_lies_from_the_bases(tmp_path, dtype, monkeypatch):
    """base_distance[slot] (the int8 activation mode's per-step check): the largest over projections of
    ||W - W_base|| / ||W_base||, measured as the set enters its slot (in chunks of projections: 3 here, so the far
    one is in the second); 0 for the base's slot; a LUT entry that no weight uses does not count."""
    import adapters.pool
    from adapters.store import LutStore
    from sketch.task_lut import TaskLut, save_task_lut

    base = create_base()
    store = LutStore(tmp_path / "store", base.spec())
    codes = base.codes[base.layer_names[5]]
    codes[0] |= (codes[0] & 0x0F == 0).to(torch.uint8)  # row 0 of projection 5: no code 0 (low nibbles)
    codes[0] |= ((codes[0] >> 4) == 0).to(torch.uint8) << 4  # (high nibbles)
    scaled = {name: lut.float() * 1.01 for name, lut in base.luts.items()}  # every projection 1 % off
    one_far = dict(scaled)
    name = base.layer_names[3]
    one_far[name] = base.luts[name].float() * 1.3  # one projection 30 % off
    for task, luts in (("near", scaled), ("far", one_far)):
        store.put(task, save_task_lut(TaskLut(task, luts, base.fingerprint, base.bits, base.gpr),
                                      tmp_path / f"{task}.safetensors"))  # fmt: skip
    monkeypatch.setattr(adapters.pool, "DISTANCE_CHUNK", 3)
    pool = LutPool(base, store, num_slots=3, dtype=dtype, measure_distance=True)
    try:
        near, far = wait_acquire(pool, ("near", 1)), wait_acquire(pool, ("far", 1))
        assert pool.wait_for_distance(("near", 1)) and pool.wait_for_distance(("far", 1))  # (just after ready)
        tol = 1e-4 if dtype == torch.float32 else 2e-2  # (fp16: the values' own rounding, 1 % of a 1 % change)
        assert pool.base_distance[0] == 0.0
        assert pool.base_distance[near] == pytest.approx(0.01, rel=tol)
        assert pool.base_distance[far] == pytest.approx(0.3, rel=tol)
        assert pool.lut_distance(far) == pool.base_distance[far]
        name = base.layer_names[5]
        pool.lut_pools[name][near, 0, 0, 0] += 100.0  # its codes never use row 0's entry 0 (see below)
        assert pool.lut_distance(near) == pytest.approx(0.01, rel=tol)
    finally:
        pool.close()


def near_and_far_store(tmp_path):
    """A base and a store of two tasks: "near" (every LUT 1 % off the base's) and "far" (30 % off)."""
    from adapters.store import LutStore
    from sketch.task_lut import TaskLut, save_task_lut

    base = create_base()
    store = LutStore(tmp_path / "store", base.spec())
    for task, scale in (("near", 1.01), ("far", 1.3)):
        luts = {name: lut.float() * scale for name, lut in base.luts.items()}
        store.put(task, save_task_lut(TaskLut(task, luts, base.fingerprint, base.bits, base.gpr),
                                      tmp_path / f"{task}.safetensors"))  # fmt: skip
    return base, store


def test_a_task_version_copied_into_a_slot_again_is_not_measured_again(tmp_path, monkeypatch):
    """A version's LUTs never change, so after an eviction its set comes back into a slot with the distance measured
    the first time (no kernels on the load's path then), and each version's own distance."""
    base, store = near_and_far_store(tmp_path)
    pool = LutPool(base, store, num_slots=2, measure_distance=True)  # the base and one task: each load evicts
    measured = []
    real = pool.lut_distance
    monkeypatch.setattr(pool, "lut_distance", lambda slot: measured.append(slot) or real(slot))
    try:
        seen = []
        for key in [("near", 1), ("far", 1), ("near", 1), ("far", 1)]:
            slot = wait_acquire(pool, key)
            pool.wait_for_distance(key)
            seen.append(pool.base_distance[slot])
            pool.release(key)
        assert len(measured) == 2  # near's and far's first copies
        assert seen[0] == seen[2] == pytest.approx(0.01, rel=1e-4)
        assert seen[1] == seen[3] == pytest.approx(0.3, rel=1e-4)
        assert pool.stats().evictions == 3
    finally:
        pool.close()


def test_a_new_version_is_served_before_its_distance_is_measured_and_its_steps_run_exact_meanwhile(tmp_path,
                                                                                                  monkeypatch):
    """The distance's kernels stay off a load's path: a new version's slot goes ready with an infinite distance
    (ModelRunner.int8_allowed: its steps exact), then takes the measured one; a version measured before takes its
    distance at once. A slot evicted while its set is being measured takes the next set's own distance, and the
    evicted version's measurement is still remembered."""
    base, store = near_and_far_store(tmp_path)
    pool = LutPool(base, store, num_slots=2, measure_distance=True)  # the base and one task: each load evicts
    held, go_on, measuring = threading.Event(), threading.Event(), threading.Event()
    real = pool.lut_distance

    def held_lut_distance(slot):
        if held.is_set():
            measuring.set()
            assert go_on.wait(10.0)
        return real(slot)

    monkeypatch.setattr(pool, "lut_distance", held_lut_distance)
    try:
        wait_acquire(pool, ("far", 1))
        assert pool.wait_for_distance(("far", 1)) == pytest.approx(0.3, rel=1e-4)
        pool.release(("far", 1))  # far stays in the CPU tier
        held.set()
        slot = wait_acquire(pool, ("near", 1))
        assert measuring.wait(10.0)  # ready, and its measurement under way
        assert pool.base_distance[slot] == math.inf and pool.distance_of(("near", 1)) is None
        assert pool.wait_for_distance(("near", 1), timeout_s=0.05) is None
        pool.release(("near", 1))
        assert pool.acquire(("far", 1)) is None  # staged: takes near's slot now, its copy after the measurement
        assert pool.stats().evictions == 2
        go_on.set()
        far = wait_acquire(pool, ("far", 1))
        assert far == slot and pool.base_distance[far] == pytest.approx(0.3, rel=1e-4)  # remembered: at once
        assert pool.wait_for_distance(("near", 1)) == pytest.approx(0.01, rel=1e-4)
        assert pool.base_distance[far] == pytest.approx(0.3, rel=1e-4)
        assert pool.stats().mean_distance_s > 0  # (from ready to measured: near's was held)
    finally:
        go_on.set()
        pool.close()


def test_a_failed_distance_measurement_leaves_the_version_served_with_exact_steps(tmp_path, monkeypatch):
    """The measurement is not part of the load: if it fails the version stays resident and usable (no load failure),
    its distance unknown, so its steps run exact."""
    base, store = near_and_far_store(tmp_path)
    pool = LutPool(base, store, num_slots=3, measure_distance=True)

    def failing(slot):
        raise RuntimeError("no kernel today")

    monkeypatch.setattr(pool, "lut_distance", failing)
    try:
        slot = wait_acquire(pool, ("near", 1))
        assert pool.wait_for_distance(("near", 1), timeout_s=0.2) is None
        assert pool.base_distance[slot] == math.inf and pool.failure(("near", 1)) is None
        assert pool.stats().load_failures == 0
        pool.release(("near", 1))
        assert wait_acquire(pool, ("near", 1)) == slot  # still resident
    finally:
        pool.close()
