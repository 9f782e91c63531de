"""The config-grid scripts' shared timing loop (benchmarks/bench_kernels.time_grid), without a GPU."""

from tests.conftest import load_benchmark


def test_time_grid_times_every_launch_into_rows_and_starts_no_group_past_the_budget(monkeypatch):
    bench = load_benchmark("bench_kernels")
    timed = []

    def fake_checked_time(launch, layer, x, slots, ref, cfg):
        timed.append(cfg)
        return 10.0 + len(timed), 1e-4

    monkeypatch.setattr(bench, "checked_time", fake_checked_time)
    groups = ([({"BLOCK_N": bn, "SPLIT_K": split}, {"N": 64, "waves": split}) for split in (1, 2)] for bn in (16, 32))
    rows = []
    bench.time_grid(None, None, None, None, None, groups, budget_s=60.0, rows=rows, label="test")
    assert timed == [{"BLOCK_N": 16, "SPLIT_K": 1}, {"BLOCK_N": 16, "SPLIT_K": 2},
                     {"BLOCK_N": 32, "SPLIT_K": 1}, {"BLOCK_N": 32, "SPLIT_K": 2}]  # fmt: skip
    assert rows[1] == {"N": 64, "waves": 2, "BLOCK_N": 16, "SPLIT_K": 2, "us": 12.0, "err": 1e-4}
    assert [r["us"] for r in rows] == [11.0, 12.0, 13.0, 14.0]

    spent = []
    bench.time_grid(None, None, None, None, None, iter([[({"BLOCK_N": 8}, {})]]), budget_s=-1.0, rows=spent, label="t")
    assert spent == [] and len(timed) == 4  # the budget was spent before the first group
