"""Prefix caching: computed full KV blocks are reused by later requests with the same tokens and LUT version.

The bookkeeping (server/kv_cache.py: BlockManager, block_hashes) on its own, then the engine: what is reused,
what never is, and that reuse changes no request's tokens (against an engine with prefix caching off).
"""

from __future__ import annotations

import pytest

from server.kv_cache import BlockManager, block_hashes

from .conftest import collect, create_engine, create_store, greedy, make_resident, prompt_ids, task_lut_file

KEY = ("alpha", 1)


def hashes(tokens, key=KEY, block_size=4):
    return block_hashes(b"", key, tokens, block_size)


def test_a_prefix_hash_covers_the_lut_version_and_every_earlier_token():
    tokens = list(range(12))
    assert len(hashes(tokens)) == 3 and len(hashes(tokens[:11])) == 2  # full blocks only
    assert hashes(tokens)[:2] == hashes(tokens[:8])
    assert hashes(tokens, key=("alpha", 2))[0] != hashes(tokens)[0]  # another LUT version: other K/V
    changed = [99] + tokens[1:]
    assert all(a != b for a, b in zip(hashes(changed), hashes(tokens), strict=True))  # block 0 differs: all do
    chained = block_hashes(hashes(tokens)[0], KEY, tokens[4:], 4)
    assert chained == hashes(tokens)[1:]  # hashing on from a block gives the same chain


def test_released_blocks_stay_reusable_until_free_ones_run_out():
    blocks = BlockManager(num_blocks=6, block_size=4)  # 5 lendable
    seq = []
    blocks.grow(seq, 12)  # 3 blocks
    h = hashes(list(range(12)))
    for block, prefix in zip(seq, h, strict=True):
        blocks.register(block, prefix)
    first = list(seq)
    blocks.release(seq)
    assert blocks.num_used == 0 and blocks.num_free == 5 and blocks.num_cached == 3
    assert blocks.cached_prefix(h + hashes(list(range(16)))[3:]) == first  # the longest cached run
    assert blocks.cached_prefix([hashes([7] * 4)[0]] + h) == []  # from the first block on, or nothing

    other = []
    blocks.grow(other, 12)  # 2 free blocks, then the least recently released cached one: the prefix's tail
    assert blocks.num_cached == 2 and blocks.cached_prefix(h) == first[:2]
    blocks.release(other)
    blocks.grow(other, 20)  # every block: the whole prefix is evicted
    assert blocks.num_cached == 0 and blocks.cached_prefix(h) == [] and blocks.num_free == 0


def test_a_cached_block_shared_by_two_sequences_is_lent_until_both_release_it():
    blocks = BlockManager(num_blocks=8, block_size=4)
    owner = []
    blocks.grow(owner, 8)
    h = hashes(list(range(8)))
    blocks.register(owner[0], h[0])
    blocks.register(owner[1], h[1])
    reader = []
    blocks.take_cached(reader, blocks.cached_prefix(h))
    assert reader == owner and blocks.num_used == 2
    shared = list(reader)
    blocks.release(owner)
    assert blocks.num_used == 2  # still held by the reader
    blocks.release(reader)
    assert blocks.num_used == 0 and blocks.num_free == 7
    with pytest.raises(RuntimeError, match="released twice"):
        blocks.release(shared[:1])
    twin = []
    blocks.grow(twin, 4)
    blocks.register(twin[0], h[0])  # the same prefix computed again elsewhere: the first block stays its home
    assert blocks.cached_prefix(h[:1]) != twin


def test_a_repeated_prompt_recomputes_only_its_last_block(base, store):
    prompt = prompt_ids(1, 14)  # block size 4: 3 full blocks before the last token's block
    cold = create_engine(base, store, prefix_caching=False)
    reference = [t for o in cold.generate("alpha", prompt, greedy(6)) for t in o.token_ids]
    engine = create_engine(base, store)
    first = [t for o in engine.generate("alpha", prompt, greedy(6)) for t in o.token_ids]
    stats = engine.stats()
    assert stats.prefix_cache_hit_tokens_total == 0 and stats.kv_blocks_cached == (14 + 5) // 4
    again = [t for o in engine.generate("alpha", prompt, greedy(6)) for t in o.token_ids]
    stats = engine.stats()
    assert first == again == reference
    assert stats.prefix_cache_hit_tokens_total == 12  # (14 - 1) // 4 blocks: the last token is always run
    prefills = [s.prefill_tokens for s in stats.recent_steps if s.prefill_tokens]
    assert prefills[-1] == 2  # the second request's prefill: 14 - 12 tokens
    assert stats.kv_blocks_used == 0


def test_a_conversation_turn_reuses_the_previous_turns_prompt_and_answer(base, store):
    engine = create_engine(base, store)
    prompt = prompt_ids(2, 9)
    answer = [t for o in engine.generate("beta", prompt, greedy(8)) for t in o.token_ids]
    follow_up = prompt + answer + prompt_ids(3, 5)  # 22 tokens: the first 16 were computed by the first turn
    tokens = [t for o in engine.generate("beta", follow_up, greedy(4)) for t in o.token_ids]
    assert engine.stats().prefix_cache_hit_tokens_total == 16  # the answer's K/V included (its last token's not)
    cold = create_engine(base, store, prefix_caching=False)
    assert tokens == [t for o in cold.generate("beta", follow_up, greedy(4)) for t in o.token_ids]


def test_requests_admitted_in_one_step_share_the_prefix_the_first_computes(base, store):
    """Three samples of one prompt arriving together: the first request's chunk registers its full blocks as it is
    scheduled, so the other two start on them in the same step (every layer writes the step's K/V before any
    attention reads it), and all three give the tokens of an engine without prefix caching."""
    prompt = prompt_ids(8, 18)
    cold = create_engine(base, store, prefix_caching=False)
    reference = [t for o in cold.generate("alpha", prompt, greedy(5)) for t in o.token_ids]
    engine = create_engine(base, store)
    make_resident(engine, ["alpha"])
    handles = [engine.add_request("alpha", prompt, greedy(5)) for _ in range(3)]
    engine.step()
    first_step = engine.stats().recent_steps[-1]
    assert first_step.batch_size == 3 and first_step.prefill_tokens == 18 + 2 * 2  # 16 of 18 shared, twice
    got = collect(engine, handles)
    assert [got[h.request_id] for h in handles] == [reference] * 3
    assert engine.stats().prefix_cache_hit_tokens_total == 2 * 16


def test_nothing_is_reused_across_tasks_or_lut_versions(base, store, tmp_path):
    engine = create_engine(base, store)
    prompt = prompt_ids(4, 13)
    list(engine.generate("alpha", prompt, greedy(2)))
    list(engine.generate("gamma", prompt, greedy(2)))  # the same tokens under another task's LUT
    assert engine.stats().prefix_cache_hit_tokens_total == 0
    store.put("alpha", task_lut_file(base, "alpha", 9, tmp_path))  # a new version of alpha
    list(engine.generate("alpha", prompt, greedy(2)))
    assert engine.stats().prefix_cache_hit_tokens_total == 0
    list(engine.generate("alpha", prompt, greedy(2)))
    assert engine.stats().prefix_cache_hit_tokens_total == 12  # the new version's own blocks


def test_a_task_deleted_and_created_again_never_meets_its_old_blocks(base, store, tmp_path):
    """Version numbers only grow across deletes (adapters/store.py), so the re-created task's (task, version) key,
    which the prefix hashes digest, is new."""
    engine = create_engine(base, store)
    prompt = prompt_ids(9, 13)
    list(engine.generate("alpha", prompt, greedy(2)))
    assert engine.delete_task("alpha") == 1
    store.put("alpha", task_lut_file(base, "alpha", 21, tmp_path))
    again = [t for o in engine.generate("alpha", prompt, greedy(4)) for t in o.token_ids]
    assert engine.stats().prefix_cache_hit_tokens_total == 0
    fresh = create_engine(base, store, prefix_caching=False)
    assert again == [t for o in fresh.generate("alpha", prompt, greedy(4)) for t in o.token_ids]


def test_reuse_under_kv_pressure_changes_no_tokens_and_returns_every_block(base, tmp_path):
    """A small cache, shared prefixes across requests in flight together, preemptions and evictions."""
    store = create_store(base, tmp_path, {"alpha": 1, "beta": 2})
    system = prompt_ids(5, 11)
    specs = [("alpha" if i % 3 else "beta", system + prompt_ids(10 + i % 4, 2 + i % 5), 6 + i % 4) for i in range(12)]
    outputs = []
    for caching in (False, True):
        engine = create_engine(base, store, num_blocks=24, max_num_seqs=6, prefix_caching=caching)
        make_resident(engine, ("alpha", "beta"))
        handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs]
        got = collect(engine, handles)
        outputs.append([got[h.request_id] for h in handles])
        stats = engine.stats()
        assert stats.kv_blocks_used == 0 and stats.running == stats.waiting == 0 and stats.pool.pins == 0
    assert outputs[0] == outputs[1]
    assert stats.preemptions_total > 0  # the cache ran full: requests recomputed (on their cached prefixes)
    assert stats.prefix_cache_hit_tokens_total >= 8 * 8  # most requests found the shared system prompt's blocks


def test_a_failed_step_leaves_nothing_in_the_cache(base, store, monkeypatch):
    engine = create_engine(base, store)
    prompt = prompt_ids(6, 13)

    def fail(plan, *args, **kwargs):
        raise RuntimeError("device lost")

    make_resident(engine, ["alpha"])
    cached = engine.stats().kv_blocks_cached  # the warm-up's own prompt
    with monkeypatch.context() as m:
        m.setattr(engine.runner, "launch", fail)
        handles = [engine.add_request("alpha", prompt, greedy(3)) for _ in range(2)]  # the second shares blocks
        outputs = engine.step()
        assert [o.finish_reason for o in outputs] == ["error", "error"]
        assert all(h.finished.is_set() for h in handles)
    assert engine.stats().kv_blocks_cached == cached and engine.stats().kv_blocks_used == 0
    hits = engine.stats().prefix_cache_hit_tokens_total  # 12: the second request, in the failed step
    list(engine.generate("alpha", prompt, greedy(3)))
    assert engine.stats().prefix_cache_hit_tokens_total == hits  # nothing of the failed step was kept
