"""A step's inputs as views of two packed device buffers (server/runner.py StepArgs): what each view holds, and
how a CUDA graph's static copy is refreshed (two copies, same layout only)."""

from __future__ import annotations

import pytest
import torch

from server.kv_cache import NULL_BLOCK
from server.runner import StepArgs, advance_decodes
from server.sampling import SamplingParams
from server.scheduler import ScheduledChunk

from .conftest import create_engine


def chunk(rid: str, tokens: list[int], start: int, blocks: list[int], slot: int, sample: bool = True, **kw):
    return ScheduledChunk(rid, tokens, start, blocks, slot, sample, SamplingParams(), None, **kw)


@pytest.fixture
def runner(base):
    return create_engine(base).runner


def test_every_view_holds_what_the_step_lists(runner):
    bs = runner.block_size  # 4
    decodes = [chunk("d0", [5], 3, [3], slot=2), chunk("d1", [6], bs + 1, [4, 9], slot=1)]
    prefills = [chunk("p0", [10, 11, 12], 1, [7], slot=3),
                chunk("p1", [20, 21], 0, [8], slot=2, sample=False, prompt_targets=[21, 22])]  # fmt: skip
    ids, positions, slots, meta, logits_rows = runner.prepare(decodes, prefills)
    assert ids.tolist() == [5, 6, 10, 11, 12, 20, 21]  # decodes, then the chunks
    assert positions.tolist() == [3, bs + 1, 1, 2, 3, 0, 1]
    assert slots.dtype == torch.int32 and slots.tolist() == [2, 1, 3, 3, 3, 2, 2]
    assert meta.slot_mapping.tolist() == [3 * bs + 3, 9 * bs + 1, 7 * bs + 1, 7 * bs + 2, 7 * bs + 3, 8 * bs,
                                          8 * bs + 1]  # fmt: skip
    assert meta.num_decodes == 2
    assert meta.decode_block_tables.tolist() == [[3, NULL_BLOCK], [4, 9]]  # as wide as the widest table
    assert meta.decode_context_lens.dtype == torch.int32 and meta.decode_context_lens.tolist() == [4, bs + 2]
    assert logits_rows.tolist() == [0, 1, 4, 5, 6]  # sampled rows (d0, d1, p0's last), then p1's scored rows
    assert [(s.start, s.num_tokens, s.context_len, s.block_table.tolist()) for s in meta.prefills] == [
        (2, 3, 4, [7]), (5, 2, 2, [8])]  # fmt: skip


def test_a_graph_batch_is_padded_with_rows_on_the_null_block_in_the_last_rows_slot(runner):
    """The padding rows take the last real row's slot: a new slot would cost the decode kernels another task."""
    bs = runner.block_size
    ids, positions, slots, meta, logits_rows = runner.prepare([chunk("d", [5], 3, [3], slot=2)], [], pad_to=(3, 4))
    assert ids.tolist() == [5, 0, 0] and positions.tolist() == [3, 0, 0] and slots.tolist() == [2, 2, 2]
    assert meta.slot_mapping.tolist() == [3 * bs + 3, NULL_BLOCK * bs, NULL_BLOCK * bs]
    assert meta.num_decodes == 3 and meta.decode_context_lens.tolist() == [4, 1, 1]
    assert meta.decode_block_tables.tolist() == [[3, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert logits_rows.tolist() == [0, 1, 2]


def test_a_multi_step_decodes_next_step_is_advanced_on_the_device_as_prepare_builds_it(runner):
    """advance_decodes: the real rows one position on (two of them into their next block), with the tokens drawn;
    the padding rows stay on the null block. The same buffers as the host would send for the next step."""
    bs = runner.block_size  # 4
    decodes = [chunk("d0", [5], bs - 1, [3, 7], slot=2), chunk("d1", [6], bs + 1, [4, 9], slot=1),
               chunk("d2", [8], 2 * bs - 1, [2, 6, 5], slot=1)]  # fmt: skip
    args = runner.prepare(decodes, [], pad_to=(4, 4))
    tokens = torch.tensor([11, 12, 13], device=args.packed64.device)
    advance_decodes(args, tokens, bs)
    advance_decodes(args, tokens + 10, bs)
    ahead = [chunk(c.request_id, [int(t) + 10], c.start_pos + 2, c.block_ids, c.slot)
             for c, t in zip(decodes, tokens, strict=True)]  # fmt: skip
    expected = runner.prepare(ahead, [], pad_to=(4, 4))
    assert args.packed64.tolist() == expected.packed64.tolist()
    assert args.packed32.tolist() == expected.packed32.tolist()
    assert args.positions.tolist() == [bs + 1, bs + 3, 2 * bs + 1, 0]  # d0 and d2 crossed into their next block
    assert args.meta.slot_mapping.tolist() == [7 * bs + 1, 9 * bs + 3, 5 * bs + 1, NULL_BLOCK * bs]


def test_a_prefill_graph_step_pads_its_short_rows_and_its_long_rows_and_keeps_the_logits_in_plan_order(runner):
    bs = runner.block_size
    decode = chunk("d", [5], 3, [3], slot=2)
    long, short = chunk("p", [7, 8, 9], 0, [4], slot=1), chunk("q", [6], 4, [5, 6], slot=3)
    # rows: the decode, the short chunk, padding to 4 rows (slot 3), the long chunk, padding to 8 rows (slot 1)
    args = runner.prepare([decode], [short, long], pad_points=((1, 4, 3), (2, 8, 1)),
                          logits_order=[decode, long, short])  # fmt: skip
    ids, positions, slots, meta, logits_rows = args
    assert ids.tolist() == [5, 6, 0, 0, 7, 8, 9, 0] and slots.tolist() == [2, 3, 3, 3, 1, 1, 1, 1]
    assert meta.slot_mapping.tolist() == [3 * bs + 3, 6 * bs, NULL_BLOCK * bs, NULL_BLOCK * bs, 4 * bs, 4 * bs + 1,
                                          4 * bs + 2, NULL_BLOCK * bs]  # fmt: skip
    assert meta.num_decodes == 1 and meta.decode_context_lens.tolist() == [4]  # padding rows get no attention
    assert [(s.start, s.num_tokens, s.context_len) for s in meta.prefills] == [(1, 1, 5), (4, 3, 3)]
    assert logits_rows.tolist() == [0, 6, 1]  # the sampled rows in the order asked: decode, long, short
    with pytest.raises(ValueError, match="decode-only"):
        runner.prepare([decode], [long], pad_to=(2, 1))


def test_a_static_copy_takes_another_steps_inputs_of_the_same_layout_only(runner):
    first = runner.prepare([chunk("a", [1], 3, [2], slot=1)], [], pad_to=(2, 2))  # block size 4
    static = first.clone()
    assert static.packed64.data_ptr() != first.packed64.data_ptr()
    second = runner.prepare([chunk("b", [9], 6, [5, 6], slot=4)], [], pad_to=(2, 2))
    views = [static.input_ids, static.meta.decode_block_tables, static.slot_of_token]
    static.copy_from(second)
    assert static.input_ids.tolist() == [9, 0] and static.positions.tolist() == [6, 0]
    assert static.meta.decode_block_tables.tolist() == [[5, 6], [0, 0]] and static.slot_of_token.tolist() == [4, 4]
    # the views a graph captured still alias the buffers it refreshes
    assert [v.data_ptr() for v in views] == [static.input_ids.data_ptr(), static.meta.decode_block_tables.data_ptr(),
                                             static.slot_of_token.data_ptr()]  # fmt: skip
    wider = runner.prepare([chunk("c", [9], 10, [5, 6, 7], slot=4)], [], pad_to=(2, 2))
    with pytest.raises(ValueError, match="layout"):
        static.copy_from(wider)
    assert isinstance(wider, StepArgs)


def test_picked_rows_come_in_the_order_asked(runner):
    logits = torch.arange(12.0).view(4, 3)
    assert runner.pick_rows(logits, [0, 1]).tolist() == logits[:2].tolist()
    assert runner.pick_rows(logits, [3, 0, 2]).tolist() == logits[[3, 0, 2]].tolist()
