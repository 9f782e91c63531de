"""The config-grid scripts' shared timing loop (benchmarks/bench_kernels.time_grid), without a GPU."""

import pytest

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


def test_the_half2_quality_emulation_rounds_as_the_kernels_asm_does():
    """benchmarks/half2_quality.py's CPU emulation against the asm's own emulator (kernels/prmt_lut.py), one code
    word at a time: bit-exact for a word (acc 0), and the same rounding over a row of words."""
    import numpy as np
    import torch

    from kernels.prmt_lut import byte_tables, emulate, f32, lookup_program

    quality = load_benchmark("half2_quality")
    program = lookup_program("f16x2")
    rng = np.random.default_rng(11)
    for _ in range(32):
        entries = rng.standard_normal(16).astype(np.float16)
        codes = rng.integers(0, 16, 8)
        x = rng.standard_normal(8).astype(np.float16)
        lo, hi = byte_tables(entries.view(np.uint16))
        pairs = [int(x[2 * i].view(np.uint16)) | int(x[2 * i + 1].view(np.uint16)) << 16 for i in range(4)]
        operands = {"$1": 0.0, "$2": sum(int(c) << (4 * i) for i, c in enumerate(codes))}
        operands |= {f"${3 + i}": v for i, v in enumerate(lo + hi)} | {f"${11 + i}": p for i, p in enumerate(pairs)}
        asm = f32(emulate(program, operands)["$0"])
        w = torch.tensor(entries[codes].astype(np.float32))[None]
        assert quality.half2_matmul(torch.tensor(x.astype(np.float32))[None], w).item() == asm
    # a row of words: close to the fp32 products, not equal to them (the fp16 sums round)
    g = torch.Generator().manual_seed(0)
    x, w = (torch.randn(*shape, generator=g).half().float() for shape in ((3, 256), (5, 256)))
    half2, exact = quality.half2_matmul(x, w), x.double() @ w.double().T
    err = ((half2 - exact).norm() / exact.norm()).item()
    assert 0 < err < 2e-3


def test_the_fragment_grid_offers_only_chunks_that_tile_the_groups_and_launchable_configs():
    """benchmarks/mma_grid.py: the fragment kernel's grid at 11008 columns in 4 groups (2752 = 43 x 64) keeps
    64-column chunks only, and its configs launch through the interpreter (a small layer, the same config fields)."""
    import torch

    from kernels.reference import lut_linear_reference
    from kernels.triton_decode import launch_decode

    grid = load_benchmark("mma_grid")
    offered = [cfg for cfg, _ in grid.mma_configs(4096, 11008, 2752, 132)]
    assert offered and {cfg["WPL"] for cfg in offered} == {2}
    # the shipped candidates' AHEAD and EARLY forms (5- and 6-tuples) reach the --kernel mma_tasks grid
    tasks = [cfg for cfg, _ in grid.task_configs(4096, 4096, 4096, 132)]
    assert {cfg.get("AHEAD", 0) for cfg in tasks} == {0, 2, 3, 4} and {cfg.get("EARLY", 0) for cfg in tasks} == {0, 1}
    from .test_triton_forward import DEVICE, make_case, rel_err

    x, codes, pool, slots = make_case(8, 40, 256, 4, 2, 4, "random", torch.float16, seed=3)
    ref = lut_linear_reference(x, codes, pool, slots, 4)
    cfg, _ = next(grid.mma_configs(40, 256, 128, 132))
    y = torch.full((8, 40), float("nan"), dtype=x.dtype, device=DEVICE)
    launch_decode(x, codes, pool, slots, 4, y, cfg)
    assert rel_err(y, ref) < 3e-3


def test_the_two_token_grid_offers_prefetched_blocks_only_inside_a_group_and_its_configs_launch():
    """benchmarks/mma_grid.py --kernel prmt_tokens: blocks that do not divide the group size are not prefetched
    (4096 columns in 4 groups of 1,024 keep 256-1,024-column blocks), and a config launches through the interpreter."""
    import torch

    from kernels.reference import lut_linear_reference
    from kernels.triton_decode import launch_decode

    from .test_triton_forward import DEVICE, make_case, rel_err

    grid = load_benchmark("mma_grid")
    offered = [cfg for cfg, _ in grid.token_configs(4096, 4096, 1024, 132)]
    assert offered and all(1024 % cfg["BLOCK_K"] == 0 for cfg in offered if cfg["PREFETCH"])
    x, codes, pool, slots = make_case(2, 40, 256, 4, 1, 1, "one", torch.float16, seed=4)
    cfg, _ = next(grid.token_configs(40, 256, 256, 132))
    y = torch.full((2, 40), float("nan"), dtype=x.dtype, device=DEVICE)
    launch_decode(x, codes, pool, slots, 4, y, cfg)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slots, 4)) < 1.5e-3


def test_the_grid_plot_takes_each_cases_fastest_config_against_the_op_and_cublas(tmp_path):
    """benchmarks/plot_grid.py on a run as mma_grid.py writes it: the best timed config per case (failed ones,
    us None, left out), the op's and cuBLAS's rows beside it, and a PNG next to the JSON."""
    import json

    plot = load_benchmark("plot_grid")
    case = {"N": 64, "K": 128, "M": 2, "tasks": 1, "gpr": 1}
    rows = [{**case, "kind": "prmt_tokens", "us": 12.0}, {**case, "kind": "prmt_tokens", "us": None},
            {**case, "kind": "prmt_tokens", "us": 9.5}, {**case, "kind": "op", "us": 11.0},
            {**case, "kind": "cublas", "us": 15.0}, {**case, "M": 4, "kind": "op", "us": 13.0},
            {**case, "M": 4, "kind": "cublas", "us": 15.5}]  # fmt: skip
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"gpu": "test", "rows": rows}))
    assert plot.best_per_case(json.loads(run.read_text())) == [
        {"case": (64, 128, 2, 1), "grid": 9.5, "op": 11.0, "cublas": 15.0},
        {"case": (64, 128, 4, 1), "grid": None, "op": 13.0, "cublas": 15.5},
    ]
    assert plot.plot(run) == run.with_suffix(".png") and run.with_suffix(".png").stat().st_size > 0


def test_the_grid_plot_shows_the_op_told_the_task_count_beside_the_op_not_as_a_grid_config(tmp_path):
    """pairs_decode.py with the op's pair class on (SKETCHSERVE_PAIRS_DECODE) adds an op_one_task row per case: a
    reference bar of its own, never the grid's best, even where it is the fastest row."""
    import json

    plot = load_benchmark("plot_grid")
    case = {"N": 64, "K": 128, "M": 1, "tasks": 1, "gpr": 1}
    rows = [{**case, "kind": "pairs", "us": 9.0}, {**case, "kind": "op", "us": 11.0},
            {**case, "kind": "op_one_task", "us": 8.5}, {**case, "kind": "cublas", "us": 15.0}]  # fmt: skip
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"gpu": "test", "rows": rows}))
    assert plot.best_per_case(json.loads(run.read_text())) == [
        {"case": (64, 128, 1, 1), "grid": 9.0, "op": 11.0, "op_one_task": 8.5, "cublas": 15.0}]
    assert plot.plot(run).stat().st_size > 0


def test_the_profiling_launcher_calls_the_op_twice_on_the_shipped_path(capsys):
    """benchmarks/profile_shipped.py: a warm-up call, then the profiled one, each the op's output (the torch
    reference here), finite and of the layer's shape."""
    profile_shipped = load_benchmark("profile_shipped")
    profile_shipped.main(["--m", "3", "--n", "40", "--k", "64", "--gpr", "2", "--tasks", "2", "--device", "cpu"])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{call} call: y (3, 40) torch.float16, finite True" for call in ("warm-up", "profiled")]


@pytest.mark.parametrize("flag", ["--decode-config", "--prefill-config"])
def test_the_profiling_launcher_refuses_a_kernel_config_on_the_cpu(flag, capsys):
    """A kernel config names a Triton kernel to launch: on the CPU there is none, so the script says so and exits
    with a usage error rather than profiling the reference under that name."""
    profile_shipped = load_benchmark("profile_shipped")
    with pytest.raises(SystemExit) as stop:
        profile_shipped.main(["--m", "3", "--n", "40", "--k", "64", "--device", "cpu", flag, '{"MODE": 5}'])
    assert stop.value.code == 2
    assert "CUDA only" in capsys.readouterr().err


def test_linear_as_served_plots_its_ratios_and_needs_a_gpu(tmp_path, monkeypatch):
    import pytest

    served = load_benchmark("linear_as_served")
    rows = [{"n": 4096, "k": 4096, "tokens": m, "gpr": 1, "x_alone": 2.0, "x_after_norm": 2.8} for m in (1, 16)]
    served.plot(rows, tmp_path / "ratios.png", "a GPU")
    assert (tmp_path / "ratios.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("sys.argv", ["linear_as_served.py", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="run it on a GPU"):
        served.main()


def test_the_ncu_summary_totals_stall_reasons_and_opcodes_and_lists_the_hottest_lines(tmp_path):
    """benchmarks/ncu_sass_summary.py on a small source-page export: ncu's "Kernel Name" line, then the table."""
    summary = load_benchmark("ncu_sass_summary")
    head = '"Address","Source","Warp Stall Sampling (All Samples)","Instructions Executed","stall_wait",' \
           '"stall_barrier","stall_wait (Not Issued)"'  # fmt: skip
    lines = ['"Kernel Name","_prefill_prmt_kernel",', head,
             '"0x10","PRMT R1, R2, 0x5140, R3","5","1,024","4","1","4"',
             '"0x20","@!P5  BRA 0x10","7","1,024","1","6","1"',
             '"0x30","PRMT.F R4, R2, 0x7362, R3","2","1,024","2","1","2"']  # fmt: skip
    path = tmp_path / "sass.csv"
    path.write_text("\n".join(lines) + "\n")
    out = summary.summarize(summary.read_rows(path), top=2).splitlines()
    assert out[0] == "instructions 3072 samples 14 sass lines 3"
    assert out[1] == "by reason [('stall_barrier', 8), ('stall_wait', 7)]"  # the "(Not Issued)" columns left out
    assert out[2] == "by opcode samples [('PRMT', 7), ('BRA', 7)]"  # predicate and modifiers stripped
    assert out[4].startswith("0x20 @!P5  BRA 0x10 7 1024 [(6, 'stall_barrier')")
    assert len(out) == 4 + 2
    (tmp_path / "empty.csv").write_text("nothing here\n")
    with pytest.raises(ValueError, match="no SASS table"):
        summary.read_rows(tmp_path / "empty.csv")


def _sass_rows(tmp_path, kernel: str, columns: str, instructions: list[str]) -> list[dict]:
    """ncu_sass_summary.read_rows of a source-page export with these columns after Address, Source and Instructions
    Executed, one line an instruction."""
    summary = load_benchmark("ncu_sass_summary")
    lines = [f'"Kernel Name","{kernel}",', '"Address","Source","Instructions Executed",' + columns, *instructions]
    path = tmp_path / "sass.csv"
    path.write_text("\n".join(lines) + "\n")
    return summary.read_rows(path)


def test_the_ncu_summary_sums_shared_wavefronts_by_full_opcode(tmp_path):
    """--shared: wavefronts, their ideal and the instructions executed by opcode with its modifiers, so that a
    ring's cp.async through L1 (LDGSTS.E.128) and around it (LDGSTS.E.BYPASS.128) stay apart; opcodes with no
    shared wavefronts left out; most wavefronts first."""
    rows = _sass_rows(tmp_path, "_decode_pairs_kernel", '"L1 Wavefronts Shared","L1 Wavefronts Shared Ideal"',
                      ['"0x10","LDGSTS.E.128 [R1], desc[UR4][R2.64]","10","100","40"',
                       '"0x20","@P0 LDGSTS.E.BYPASS.128 [R1], desc[UR4][R2.64]","10","80","40"',
                       '"0x30","LDS R3, [R4+UR5]","20","20","20"',
                       '"0x40","LDS R5, [R6+UR5]","4","0","0"',
                       '"0x50","PRMT R1, R2, 0x3240, R3","30","0","0"'])  # fmt: skip
    assert load_benchmark("ncu_sass_summary").shared_wavefronts(rows) == (
        "shared wavefronts (opcode, wavefronts, ideal, executed) "
        "[('LDGSTS.E.128', 100, 40, 10), ('LDGSTS.E.BYPASS.128', 80, 40, 10), ('LDS', 20, 20, 24)]")


def test_the_ncu_summary_sums_global_sectors_by_full_opcode(tmp_path):
    """--global: L1 tag requests, L2 sectors and their ideal with the instructions executed, by opcode with its
    modifiers (a 16-byte load apart from a 4-byte one, predicated or not); opcodes with no global requests left out."""
    columns = '"L1 Tag Requests Global","L2 Theoretical Sectors Global","L2 Theoretical Sectors Global Ideal"'
    rows = _sass_rows(tmp_path, "_decode_mma_kernel", columns,
                      ['"0x10","@!P2 LDG.E.128 R52, desc[UR8][R24.64]","8192","131072","262144","131072"',
                       '"0x20","LDG.E.128 R36, desc[UR8][R36.64]","2048","16384","32768","32768"',
                       '"0x30","@!P3 LDG.E.128 R72, desc[UR8][R12.64]","8192","131072","262144","131072"',
                       '"0x40","LDG.E R98, desc[UR8][R56.64]","2048","4096","16384","8192"',
                       '"0x50","PRMT R1, R2, 0x3240, R3","30","0","0","0"'])  # fmt: skip
    assert load_benchmark("ncu_sass_summary").global_sectors(rows) == (
        "global (opcode, L1 tag requests, L2 sectors, ideal, executed) "
        "[('LDG.E.128', 278528, 557056, 294912, 18432), ('LDG.E', 4096, 16384, 8192, 2048)]")


def test_the_decode_wgmma_grid_splits_k_for_one_to_four_programs_an_sm():
    """benchmarks/decode_wgmma_grid.py: token tiles of 8 up to 8 tokens and 16 above; split-K of whole 64-column
    blocks (never more splits than blocks), distinct configs only."""
    grid = load_benchmark("decode_wgmma_grid")
    four = grid.configs(4096, 4096, 4, sms=132)
    assert {c["BLOCK_M"] for c in four} == {8} and {c["BLOCK_M"] for c in grid.configs(4096, 4096, 16, 132)} == {16}
    assert len(four) == len({tuple(sorted(c.items())) for c in four})
    for c in four:
        tiles = 4096 // c["BLOCK_N"]
        assert 1 <= c["SPLIT_K"] <= 4096 // 64 and 0.5 * 132 <= tiles * c["SPLIT_K"] <= 4.5 * 132, c
    assert max(c["SPLIT_K"] for c in grid.configs(256, 128, 4, 132)) == 2  # K of 2 blocks: at most 2 splits


def test_the_decode_wgmma_grid_offers_each_config_plain_and_with_each_latency_cure():
    grid = load_benchmark("decode_wgmma_grid")
    plain = grid.configs(4096, 4096, 16, 132)
    every = grid.configs(4096, 4096, 16, 132, ("plain", "codes", "staged"))
    assert len(every) == 3 * len(plain)
    for keys in grid.VARIANTS.values():
        assert all({**c, **keys} in every for c in plain), keys
    assert all(c["CODES_TMA"] for c in every if c.get("LUT_STAGE"))


def test_the_read_floor_plot_draws_from_its_json_without_a_gpu(tmp_path):
    """benchmarks/read_floor.py --plot: the PNG again from a run's JSON."""
    import json

    floor = load_benchmark("read_floor")
    path = tmp_path / "read_floor.json"
    path.write_text(json.dumps({"gpu": "H200", "rows": [{"N": 4096, "K": 4096, "read_us": 4.4, "ours_us": 6.7,
                                                          "cublas_us": 15.2}]}))  # fmt: skip
    floor.plot(json.loads(path.read_text()), path.with_suffix(".png"))
    assert path.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_turns_us_times_label_after_label_each_round_and_takes_each_labels_median(monkeypatch):
    bench = load_benchmark("bench_kernels")
    calls, samples = [], iter([5.0, 1.0, 7.0, 2.0, 6.0, 3.0])

    def fake_graph_us(fn):
        calls.append(fn())
        return next(samples)

    monkeypatch.setattr(bench, "graph_us", fake_graph_us)
    assert bench.turns_us({"a": lambda: "a", "b": lambda: "b"}) == {"a": 6.0, "b": 2.0}
    assert calls == ["a", "b"] * 3


def test_the_level_split_plot_takes_each_ps_best_candidate_against_the_ops_choice(tmp_path):
    """benchmarks/bucket_level_split.py --plot: per case the op's time over the fastest candidate of each P (none
    where a P has no candidate: P = 4 at 32 tokens), and the PNG from a run's JSON."""
    import json

    level_split = load_benchmark("bucket_level_split")
    rows = [{"M": 32, "N": 4096, "K": 4096, "gpr": 1,
             "us": {"op_choice": 44.0, "split2_16x256_w4_s2_k4": 40.0, "split2_8x256_w2_s2_k4": 55.0}},
            {"M": 64, "N": 4096, "K": 4096, "gpr": 1,
             "us": {"op_choice": 72.0, "split2_16x256_w4_s2_k2": 80.0, "split4_8x256_w4_s2_k4": 90.0}}]  # fmt: skip
    assert level_split.best_speedup(rows[0], 2) == pytest.approx(1.1) and level_split.best_speedup(rows[0], 4) is None
    assert level_split.best_speedup(rows[1], 2) == pytest.approx(0.9) and level_split.best_speedup(rows[1], 4) == 0.8
    path = tmp_path / "bucket_level_split_gpr1.json"
    path.write_text(json.dumps({"gpu": "H200", "rows": rows}))
    level_split.main(["--plot", str(path)])
    assert path.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_the_pair_table_grid_times_the_ops_candidates_first():
    """benchmarks/pairs_decode.py: its grid starts with the op's candidates (always timed, whatever the budget), then
    the rest of PAIRS_GRID, each config once."""
    from kernels.gluon_decode_pairs import pairs_candidates

    pairs = load_benchmark("pairs_decode")
    for n, k, gpr in [(4096, 4096, 1), (4096, 11008, 4)]:
        grid = pairs.pair_configs(n, k, k // gpr, 132)
        ops = pairs_candidates(n, k, k // gpr, 132)
        assert grid[: len(ops)] == ops and len(grid) > len(ops)
        assert len({str(c) for c in grid}) == len(grid)


def test_the_pair_table_grid_can_time_named_lists_of_entries_only():
    """pairs_decode.py --lists candidates,staged_x: the op's candidates, then the staged-x entries that are not among
    them, each config once; every XSTAGE config of the grid is in the staged-x list, or, reading its rings ahead, in
    the ring_ahead list, beside the same config without RING_AHEAD."""
    pairs = load_benchmark("pairs_decode")
    ops = pairs.pair_configs(4096, 4096, 4096, 132, "candidates")
    both = pairs.pair_configs(4096, 4096, 4096, 132, "candidates,staged_x")
    staged = pairs.pair_configs(4096, 4096, 4096, 132, "staged_x")
    assert both == ops + [cfg for cfg in staged if cfg not in ops] and len(both) > len(ops)
    grid_x = [cfg for cfg in pairs.pair_configs(4096, 4096, 4096, 132) if cfg["XSTAGE"]]
    assert grid_x and all(cfg in staged for cfg in grid_x if not cfg.get("RING_AHEAD"))
    ahead = pairs.pair_configs(4096, 4096, 4096, 132, "ring_ahead")
    read_ahead = [cfg for cfg in grid_x if cfg.get("RING_AHEAD")]
    assert read_ahead and all(cfg in ahead for cfg in read_ahead)
    assert all({k: v for k, v in cfg.items() if k != "RING_AHEAD"} in ahead for cfg in read_ahead)


def test_a_pair_table_grid_row_gives_back_the_config_it_was_timed_with():
    """pairs_decode.py's best config (printed, and launched again for Nsight Compute) is read back from its row:
    every knob of every grid config, XRING included, none of the case's fields."""
    pairs = load_benchmark("pairs_decode")
    grid = pairs.pair_configs(4096, 4096, 4096, 132)
    assert any(cfg["XRING"] for cfg in grid)
    for cfg in grid:
        row = {"N": 4096, "K": 4096, "M": 16, "tasks": 1, "gpr": 1, "kind": "pairs", **cfg, "us": 7.0, "err": 1e-4}
        assert pairs.config_of(row) == cfg


def test_size_lists_on_the_grid_scripts_command_lines():
    bench = load_benchmark("bench_kernels")
    assert bench.dims("4096x4096,11008x4096") == [(4096, 4096), (11008, 4096)]
    assert bench.dims("16x1") == [(16, 1)]


def _case(phase, n, m, tasks, ours, cublas, gpr=1):
    return {"phase": phase, "N": n, "K": 4096, "M": m, "tasks": tasks, "gpr": gpr, "ours_graph_us": ours,
            "ours_us": ours + 40.0, "bucket_graph_us": ours + 1.0, "cublas_graph_us": cublas,
            "cublas_us": cublas + 5.0}  # fmt: skip


def test_issue_bars_picks_the_cases_each_bar_names_and_judges_them_in_the_bars_own_terms(tmp_path):
    """benchmarks/issue_bars.py: one-task decode up to 16 tokens against 2.5x, 16 x 16 against 2x, 2,048-token
    prefill against 1.3x cuBLAS's time; other cases (64 tokens, 4 tasks, 512-token prefill) name no bar. Times are
    the graph-replay ones (cuBLAS's eager time is ignored)."""
    bars = load_benchmark("issue_bars")
    run = {"gpu": "NVIDIA H100 80GB HBM3", "cases": [
        _case("decode", 4096, 1, 1, ours=7.0, cublas=18.0),     # 2.57x: met
        _case("decode", 4096, 16, 1, ours=13.0, cublas=18.0),   # 1.38x: missed
        _case("decode", 4096, 16, 4, ours=20.0, cublas=18.0),   # no bar
        _case("decode", 4096, 64, 1, ours=17.0, cublas=18.0),   # no bar
        _case("decode", 4096, 16, 16, ours=9.0, cublas=18.0),   # 2.0x: met, at the bar
        _case("prefill", 4096, 512, 1, ours=40.0, cublas=30.0),  # no bar
        _case("prefill", 4096, 2048, 8, ours=118.9, cublas=89.9),  # 1.32x the time: missed
        _case("prefill", 4096, 2048, 1, ours=107.7, cublas=90.1),  # 1.20x: met
    ]}  # fmt: skip
    cases = bars.bar_cases(run)
    assert [(c.label, c.met) for c in cases] == [
        ("decode 4096x4096 gpr1 M=1 T=1", True), ("decode 4096x4096 gpr1 M=16 T=1", False),
        ("decode 4096x4096 gpr1 M=16 T=16", True), ("prefill 4096x4096 gpr1 M=2048 T=8", False),
        ("prefill 4096x4096 gpr1 M=2048 T=1", True)]  # fmt: skip
    table = bars.markdown(cases)
    row = "H100 80GB HBM3 | prefill 4096x4096 gpr1 M=2048 T=8 | 118.9 | 89.9 | ours ÷ cuBLAS 1.323 | <= 1.30 | **no** |"
    assert row in table
    assert "| decode 4096x4096 gpr1 M=1 T=1 | 7.0 | 18.0 | cuBLAS ÷ ours 2.571 | >= 2.50 | yes |" in table
    h200 = [bars.BarCase("NVIDIA H200", c.bar, c.label, c.ours_us, c.cublas_us * 0.8, c.need) for c in cases]
    bars.plot(cases + h200, tmp_path / "bars.png")
    assert (tmp_path / "bars.png").read_bytes()[:4] == b"\x89PNG"


def test_issue_bars_takes_the_faster_kernel_as_the_server_would():
    """The op's time: the faster of the gather and bucket kernels' graph times (bench_kernels.best_graph_us), the
    eager time where a run has no graph time."""
    bars = load_benchmark("issue_bars")
    run = {"gpu": "NVIDIA H100 80GB HBM3", "cases": [
        {"phase": "decode", "N": 4096, "K": 4096, "M": 16, "tasks": 16, "gpr": 1, "ours_graph_us": 26.0,
         "ours_us": 40.0, "bucket_graph_us": 24.0, "cublas_graph_us": 18.0, "cublas_us": 23.0},
        {"phase": "decode", "N": 4096, "K": 4096, "M": 1, "tasks": 1, "gpr": 1, "ours_graph_us": None,
         "ours_us": 40.0, "bucket_graph_us": None, "cublas_graph_us": 18.0, "cublas_us": 23.0}]}  # fmt: skip
    assert [c.ours_us for c in bars.bar_cases(run)] == [24.0, 40.0]


def test_issue_bars_takes_each_case_from_the_latest_run_of_its_gpu():
    """Runs given oldest first: a case that a later run of the same GPU times again is the later run's, in its
    first place; cases only one run has, and other GPUs' cases of the same label, are kept."""
    bars = load_benchmark("issue_bars")
    h100, h200 = "NVIDIA H100 80GB HBM3", "NVIDIA H200"
    decode = {"gpu": h100, "cases": [_case("decode", 4096, 1, 1, ours=8.0, cublas=18.0),
                                     _case("decode", 4096, 16, 16, ours=24.0, cublas=18.0)]}  # fmt: skip
    prefill = {"gpu": h100, "cases": [_case("prefill", 4096, 2048, 8, ours=110.0, cublas=90.0)]}
    one_task = {"gpu": h100, "cases": [_case("decode", 4096, 1, 1, ours=7.0, cublas=18.0)]}
    other = {"gpu": h200, "cases": [_case("decode", 4096, 1, 1, ours=7.5, cublas=15.6)]}
    cases = bars.latest_cases([decode, prefill, other, one_task])
    assert [(c.gpu, c.label, c.ours_us) for c in cases] == [
        (h100, "decode 4096x4096 gpr1 M=1 T=1", 7.0), (h100, "decode 4096x4096 gpr1 M=16 T=16", 24.0),
        (h100, "prefill 4096x4096 gpr1 M=2048 T=8", 110.0), (h200, "decode 4096x4096 gpr1 M=1 T=1", 7.5)]  # fmt: skip


def test_issue_bars_orders_a_panel_by_shape_then_gpr_tokens_and_tasks():
    bars = load_benchmark("issue_bars")
    labels = ["decode 4096x4096 gpr1 M=1 T=1", "decode 4096x4096 gpr1 M=16 T=1", "decode 11008x4096 gpr1 M=1 T=1",
              "decode 4096x4096 gpr4 M=1 T=1", "decode 11008x4096 gpr1 M=8 T=1", "decode 4096x4096 gpr1 M=8 T=1",
              "decode 4096x4096 gpr1 M=1 T=1"]  # fmt: skip
    assert bars.panel_order(labels) == [
        "decode 4096x4096 gpr1 M=1 T=1", "decode 4096x4096 gpr1 M=8 T=1", "decode 4096x4096 gpr1 M=16 T=1",
        "decode 4096x4096 gpr4 M=1 T=1", "decode 11008x4096 gpr1 M=1 T=1",
        "decode 11008x4096 gpr1 M=8 T=1"]  # fmt: skip


def test_the_trials_summary_says_whether_a_winner_broke_or_only_slowed_under_another_run(tmp_path):
    """benchmarks/trials_summary.py over two SKETCHSERVE_AUTOTUNE_TRIALS files: per entry, each run's winner and what
    the first run's winner did in the second (here it failed to compile, so the second run took a slower config)."""
    import json

    summary = load_benchmark("trials_summary")
    fast, slow = {"BLOCK_N": 16}, {"BLOCK_N": 64}

    def write(name, trials):
        path = tmp_path / name
        lines = [json.dumps({"entry": "decode|(16, 11008)", "config": c, **o}) for c, o in trials]
        path.write_text("\n".join(lines) + "\n")
        return summary.load(path)

    a = write("a.jsonl", [(fast, {"ms": 0.0271}), (slow, {"ms": 0.0424}), ({"BLOCK_N": 8}, {"disagrees": True})])
    b = write("b.jsonl", [(fast, {"failed": "out of resource: shared memory"}), (slow, {"ms": 0.0424})])
    lines = summary.summary(a, b)
    assert lines[0] == "decode|(16, 11008): 3 candidates, 0 failed, 1 disagreed"
    assert lines[1] == "  A: 27.1 us {'BLOCK_N': 16}" and lines[2] == "  B: 42.4 us {'BLOCK_N': 64}"
    assert lines[3] == "  A's winner in B: failed: out of resource: shared memory"


def test_shipping_a_devices_choices_moves_only_the_named_kernels(tmp_path):
    """benchmarks/device/ship_choices.py: a device cache's entries of the named kernels go into the shipped file
    (added or changed); its other choices, tuned under another Triton perhaps, stay out."""
    ship = load_benchmark("device/ship_choices")
    shipped = {"decode|16,4096": {"MODE": 5}, "decode_pairs|16,4096": {"RB": 1}}
    cache = {"decode|16,4096": {"MODE": 4}, "decode_pairs|16,4096": {"RB": 2},
             "decode_family|16,4096": {"KERNEL": "pairs"}, "decode_pairs|1,4096": {"RB": 1}}  # fmt: skip
    merged, changes = ship.merge(cache, shipped, {"decode_pairs", "decode_family"})
    assert merged == {"decode|16,4096": {"MODE": 5}, "decode_pairs|16,4096": {"RB": 2},
                      "decode_family|16,4096": {"KERNEL": "pairs"}, "decode_pairs|1,4096": {"RB": 1}}  # fmt: skip
    assert changes == ["added decode_family|16,4096: {'KERNEL': 'pairs'}", "added decode_pairs|1,4096: {'RB': 1}",
                       "changed decode_pairs|16,4096: {'RB': 2}"]  # fmt: skip
    assert ship.merge(cache, merged, {"decode_pairs"})[1] == []  # shipped already: nothing to do


def test_a_variant_ships_only_where_it_beat_the_shipped_choice_by_two_percent_and_kept_its_error(monkeypatch, tmp_path):
    """benchmarks/device/ship_best_variant.py over shipped_in_turns's rows: a key takes its fastest variant that is
    >= 2 % faster than the shipped choice with an error within 1.5x its own (+1e-3); the file keeps the other keys."""
    import json
    import sys

    ship = load_benchmark("device/ship_best_variant")
    shipped_cfg = {"MODE": 5, "SPLIT_K": 8, "num_warps": 8}
    row = {"N": 4096, "K": 4096, "gpr": 1, "M": 4, "config": shipped_cfg,
           "configs": {"shipped": shipped_cfg, "fast": shipped_cfg | {"maxnreg": 80},
                       "faster_but_wrong": shipped_cfg | {"SPLIT_K": 12}, "close": shipped_cfg | {"AHEAD": 3}},
           "us": {"cublas": 18.0, "shipped": 10.0, "fast": 9.5, "faster_but_wrong": 9.0, "close": 9.9},
           "err": {"shipped": 2e-3, "fast": 2e-3, "faster_but_wrong": 0.5, "close": 2e-3}}  # fmt: skip
    slower = row | {"M": 8, "us": {"cublas": 18.0, "shipped": 10.0, "fast": 9.9, "faster_but_wrong": 9.0,
                                   "close": 10.5}}  # fmt: skip
    assert ship.best_variants([row, slower]) == {"decode|4,4096,4096,4,1,torch.float16,torch.float16": "fast"}

    shipped_file = tmp_path / "shipped.json"
    other = {"decode|1,4096,4096,4,1,torch.float16,torch.float16": {"MODE": 3}}
    shipped_file.write_text(json.dumps(other | {ship.one_task_decode_key(m, 4096, 4096, 1): shipped_cfg
                                                for m in (4, 8)}))  # fmt: skip
    (tmp_path / "variants.json").write_text(json.dumps([row, slower]))
    monkeypatch.setenv("OUT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["ship_best_variant.py", "variants.json", str(shipped_file)])
    ship.main()
    after = json.loads(shipped_file.read_text())
    assert after[ship.one_task_decode_key(4, 4096, 4096, 1)] == shipped_cfg | {"maxnreg": 80}
    assert after[ship.one_task_decode_key(8, 4096, 4096, 1)] == shipped_cfg and after | other == after
    assert json.loads((tmp_path / "variants_shipped.json").read_text()) == {
        ship.one_task_decode_key(4, 4096, 4096, 1): shipped_cfg | {"maxnreg": 80}}


def test_the_kernel_table_renders_the_readme_rows_in_order_and_bolds_the_faster_kernel():
    """benchmarks/kernels_table.py: the README's cases the run timed, in the README's order (not the run's); a case
    the run lacks is left out; graph times, the faster of gather and bucket in bold, a prefill row without a bucket."""
    table = load_benchmark("kernels_table")
    common = {"K": 4096, "gpr": 1, "gbps": 1166.0, "floor_ratio": 2.59, "floor_us": 2.8, "lora_us": 70.1}
    run = {"gpu": "NVIDIA H100 80GB HBM3", "cases": [
        {**common, "phase": "decode", "N": 4096, "M": 16, "tasks": 16, "ours_graph_us": 81.3, "ours_us": 84.8,
         "bucket_graph_us": 24.4, "cublas_graph_us": 18.4, "cublas_us": 23.0, "gather_us": 3439.5},
        {**common, "phase": "decode", "N": 4096, "M": 1, "tasks": 1, "ours_graph_us": 7.3, "ours_us": 50.9,
         "bucket_graph_us": 20.5, "cublas_graph_us": 18.4, "cublas_us": 22.9, "gather_us": 218.1},
        {**common, "phase": "prefill", "N": 11008, "M": 2048, "tasks": 1, "ours_graph_us": 308.9,
         "bucket_graph_us": None, "cublas_graph_us": 277.1},
        {**common, "phase": "decode", "N": 4096, "M": 2, "tasks": 1, "ours_graph_us": 8.0,
         "cublas_graph_us": 18.0},  # no README row
    ]}  # fmt: skip
    lines = table.table(run).splitlines()
    assert lines[0].startswith("| case | gather µs | bucket µs |") and len(lines) == 2 + 3
    assert lines[2] == ("| decode 4096×4096 gpr1, M=1, 1 task | **7.3** | 20.5 | 1,166 | 2.6× | 18.4 | 2.8 | 70.1 "
                        "| 218.1 |")
    assert lines[3].startswith("| decode 4096×4096 gpr1, M=16, 16 tasks | 81.3 | **24.4** |")
    assert lines[3].endswith("| 3,439.5 |")
    assert lines[4].startswith("| prefill 11008×4096 gpr1, 2048 tokens, 1 task | 308.9 |  |")
    assert lines[4].endswith("| 277.1 | 2.8 | 70.1 |  |")
    assert len(table.table(run, None).splitlines()) == 2 + 4  # --all: every case, the run's order
