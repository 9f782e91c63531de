"""A bounded load test on loopback (benchmarks/load_test.py's driver, CI-sized): 100 clients over 10+ tasks."""

import asyncio
import time

import pytest

from benchmarks.load_test import run_load
from tests.server.api_helpers import create_test_app, serve_on_loopback, tiny_base, write_task_lut


@pytest.mark.slow
@pytest.mark.parametrize("overlap", ["off", "on"])
def test_100_clients_over_10_tasks_with_churn(tmp_path, overlap):
    """overlap: the engine's overlapped scheduling (off is the CPU's default; on, requests end, are cancelled and
    their tasks deleted while a plan holding their rows is on the device)."""
    base = tiny_base()
    luts = [write_task_lut(base, tmp_path / f"l{i}.safetensors", seed=i).read_bytes() for i in range(3)]
    app, engine = create_test_app(base, tmp_path, max_waiting=256, max_num_seqs=32, overlap_scheduling=overlap)
    with serve_on_loopback(app) as url:
        report = asyncio.run(run_load(url, luts, clients=100, requests_per_client=2, num_tasks=10,
                                      max_duration_s=240))
        deadline = time.monotonic() + 30
        while (s := engine.stats()).running or s.waiting:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    summary = report.summary()
    assert summary["server_errors"] == 0, summary
    assert report.malformed == [], report.malformed[:3]
    assert report.requests == 200
    # clients: 404 only for the churned task while it is deleted; no 429 below the queue bound
    assert set(report.statuses) <= {200, 404}, summary
    assert report.statuses[200] >= 150
    # churn: uploads 201, downloads 200 (404 for the churned task while deleted), deletes 200, or 409 while the
    # task's requests run
    assert set(report.churn_statuses) <= {200, 201, 404, 409}, summary
    assert report.uploads > 0 and report.deletes > 0 and report.downloads > 0
    assert s.kv_blocks_used == 0 and s.pool.pins == 0
