"""Prefill chunks as decode rows (server/runner.py as_decode_rows): a step whose tokens fit the largest CUDA graph
replays it even when it prefills, each chunk token a decode row of its own. The rows' tokens, positions and
sampling picks, then the engine: the same tokens as prefilling in the prefill form.

On the CPU there are no graphs; a stand-in (EagerRows) runs the rows through the same decode forward eagerly. On
CUDA the real graphs run.
"""

from __future__ import annotations

import torch

from server.runner import ModelRunner, as_decode_rows
from server.sampling import SamplingParams
from server.scheduler import ScheduledChunk, SchedulerOutput

from .conftest import collect, create_engine, greedy, make_resident, prompt_ids

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def chunk(rid: str, tokens: list[int], start: int, slot: int, sample: bool = True, **kw) -> ScheduledChunk:
    blocks = list(range(10 * slot, 10 * slot + 4))
    return ScheduledChunk(rid, tokens, start, blocks, slot, sample, SamplingParams(), None, **kw)


def test_each_prefill_token_becomes_a_row_and_each_sampling_chunk_picks_its_last():
    plan = SchedulerOutput(
        decodes=[chunk("d0", [5], 7, slot=2), chunk("d1", [6], 3, slot=3)],
        prefills=[chunk("p0", [10, 11, 12], 4, slot=3), chunk("p1", [20, 21], 0, slot=2, sample=False),
                  chunk("p2", [30], 9, slot=1)],  # fmt: skip
    )
    rows, picks = as_decode_rows(plan)
    assert [(r.request_id, r.token_ids, r.start_pos) for r in rows] == [
        ("p2", [30], 9),  # slot 1
        ("d0", [5], 7), ("p1", [20], 0), ("p1", [21], 1),  # slot 2, in plan order
        ("d1", [6], 3), ("p0", [10], 4), ("p0", [11], 5), ("p0", [12], 6),  # slot 3
    ]  # fmt: skip
    assert all(r.sample and len(r.token_ids) == 1 for r in rows)  # every row computes logits
    assert all(r.block_ids == list(range(10 * r.slot, 10 * r.slot + 4)) for r in rows)  # its chunk's table
    sampling = [c.request_id for c in plan.chunks if c.sample]
    assert sampling == ["d0", "d1", "p0", "p2"]  # p1 is a prompt's first chunk: it samples nothing
    assert [(rows[i].request_id, rows[i].start_pos) for i in picks] == [("d0", 7), ("d1", 3), ("p0", 6), ("p2", 9)]


def test_a_chunk_that_scores_its_prompt_keeps_the_prefill_form():
    plan = SchedulerOutput(prefills=[chunk("p", [1, 2, 3], 0, slot=0, prompt_targets=[2, 3])])
    assert as_decode_rows(plan) is None


class EagerRows:
    """DecodeGraphs' interface without graphs (the CPU has none): the rows through the runner's eager forward, as
    decode rows. Keeps every row it ran."""

    def __init__(self, runner: ModelRunner, max_rows: int) -> None:
        self.runner, self.max_rows, self.rows = runner, max_rows, []

    def supports(self, batch: int) -> bool:
        return batch <= self.max_rows

    def run(self, rows: list[ScheduledChunk]) -> torch.Tensor:
        return self.replay(*self.prepare(rows))

    def prepare(self, rows: list[ScheduledChunk]):
        self.rows += [(r.request_id, r.start_pos) for r in rows]
        return None, self.runner.prepare(rows, [])

    def replay(self, key, args) -> torch.Tensor:
        return self.runner.forward(*args)


def rows_engine(base, store, graph_prefill: bool, max_num_batched_tokens: int = 32, **kw):
    """An engine on the test device whose steps of up to 16 tokens replay graphs (CUDA) or their eager stand-in."""
    engine = create_engine(base, store, device=DEVICE, graph_prefill=graph_prefill,
                           max_num_batched_tokens=max_num_batched_tokens, cuda_graph_max_batch=16, **kw)  # fmt: skip
    if DEVICE == "cpu":
        engine.runner.graphs = EagerRows(engine.runner, max_rows=16)
    return engine


def submit_mix(engine):
    """3 tasks; prompts of 3 to 40 tokens, each arriving after a step (mixed steps of decodes and prefill chunks);
    a step of more than 16 tokens (decodes and chunks of up to 32 tokens) runs eagerly. "again" repeats r4 on r4's
    task after r4 finished: 20 of its tokens are cached, the step computes 3."""
    prompts = {f"r{i}": prompt_ids(100 + i, n) for i, n in enumerate([3, 9, 14, 40, 23, 6])}
    prompts["again"] = prompts["r4"]
    handles, tokens = [], {}
    for i, (rid, ids) in enumerate(prompts.items()):
        task = "beta" if rid == "again" else ["alpha", "beta", "gamma"][i % 3]
        handle = engine.add_request(task, ids, greedy(12), request_id=rid)
        if rid == "r4":
            tokens |= collect(engine, [handle])  # r4 (and all before it) finishes: "again" reuses its blocks
        else:
            handles.append(handle)
            engine.step()
    return prompts, tokens | collect(engine, handles)


def test_prefilling_as_decode_rows_gives_the_prefill_forms_tokens(base, store):
    reference = rows_engine(base, store, graph_prefill=False)
    rows = rows_engine(base, store, graph_prefill=True)
    for engine in (reference, rows):
        make_resident(engine, ["alpha", "beta", "gamma"])
    prompts, expected = submit_mix(reference)
    _, got = submit_mix(rows)
    assert got == expected
    if DEVICE == "cpu":  # which prompts the stand-in saw (in part) as rows: all but r3, whose steps had 32 tokens
        prefilled = {rid for rid, pos in rows.runner.graphs.rows if rid in prompts and pos < len(prompts[rid])}
        assert prefilled == {"r0", "r1", "r2", "r4", "r5", "again"}  # r4: its 5-token second chunk
        assert not any(rid in prompts and pos < len(prompts[rid]) for rid, pos in reference.runner.graphs.rows)
    for engine in (reference, rows):
        stats = engine.stats()
        assert stats.kv_blocks_used == 0 and stats.running == 0 and stats.pool.pins == 0


def test_a_long_prompt_in_short_chunks_runs_every_chunk_as_rows(base, store):
    """A 30-token prompt under an 8-token budget: four chunks, the first three sampling nothing (no rows picked),
    each replayed as rows; the tokens are the prefill form's."""
    outputs = {}
    for graph_prefill in (False, True):
        engine = rows_engine(base, store, graph_prefill, max_num_batched_tokens=8, max_num_seqs=4)
        make_resident(engine, ["gamma"])
        if DEVICE == "cpu":
            engine.runner.graphs.rows.clear()  # make_resident's own prompt
        outs = list(engine.generate("gamma", prompt_ids(7, 30), greedy(6)))
        outputs[graph_prefill] = [t for o in outs for t in o.token_ids]
        if DEVICE == "cpu":
            prompt_rows = sorted(pos for _, pos in engine.runner.graphs.rows if pos < 30)
            assert prompt_rows == (list(range(30)) if graph_prefill else [])
    assert outputs[True] == outputs[False] and len(outputs[True]) == 6

