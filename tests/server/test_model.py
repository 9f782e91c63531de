"""server/model.py computes the logits of transformers' model of the same sketched base (sketch/lut_model.py)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import sdpa_kernel
from torch.nn.attention.bias import causal_lower_right

import server.model
from adapters.pool import allocate_lut_pools
from kernels import triton_common
from kernels.reference import dequantize
from server.cpu_weights import (
    INT8_MATVEC_ROWS,
    ROW_CHUNK,
    DenseWeightCache,
    Int8Weight,
    PackedBf16Weight,
    host_available_bytes,
    matmul_few_shapes,
    packed_bf16_ok,
    row_chunks,
)
from server.kv_cache import KVCache
from server.model import (
    PREFILL_SDPA_BACKENDS,
    Attention,
    AttentionMeta,
    LutProjection,
    ModelConfig,
    PrefillSpan,
    Transformer,
    decode_gather,
)
from sketch.lut_model import load_sketched_model
from sketch.synthetic import random_task_luts
from tests.server.conftest import create_base

BLOCK = 4


def run_ours(base, luts_per_slot, ids: list[int], slot: int, prefill: int, fused: bool = False,
             int8: bool = False) -> torch.Tensor:  # fmt: skip
    """Logits [n, V] of every position: a prefill of `prefill` tokens (in two chunks), then one decode per token.

    fused: the pool's layout (q/k/v and gate/up side by side, one op call each) instead of one pool per layer.
    int8: with the int8 activation mode's tables (Transformer.enable_int8_activations)."""
    names = base.layer_names
    if fused:
        pools, fused_luts = allocate_lut_pools(base, len(luts_per_slot), torch.float32, "cpu")
        for s, luts in enumerate(luts_per_slot):
            for n in names:
                pools[n][s].copy_(luts[n])
        assert len(fused_luts) == 2 * model_config_layers(base)
    else:
        pools, fused_luts = {n: torch.stack([luts[n].float() for luts in luts_per_slot]) for n in names}, None
    model = Transformer(base, pools, max_len=128, fused_luts=fused_luts)
    if int8:
        assert model.enable_int8_activations() > 0
    cache = KVCache(model.config, num_blocks=1 + len(ids) // BLOCK + 1, block_size=BLOCK, device="cpu",
                    dtype=torch.float32)
    blocks = list(range(1, cache.num_blocks))
    rows = [blocks[p // BLOCK] * BLOCK + p % BLOCK for p in range(len(ids))]
    logits = []
    half = prefill // 2
    for start, end in [(0, half), (half, prefill)]:  # chunked prefill: the second chunk reads the first from cache
        n = end - start
        meta = AttentionMeta(torch.tensor(rows[start:end]), 0, torch.zeros(0, 1, dtype=torch.long),
                             torch.zeros(0, dtype=torch.int32),
                             [PrefillSpan(0, n, end, torch.tensor(blocks[: (end + BLOCK - 1) // BLOCK]))])
        logits.append(model(torch.tensor(ids[start:end]), torch.arange(start, end),
                            torch.full((n,), slot, dtype=torch.int32), meta, cache.layers, torch.arange(n)))
    for p in range(prefill, len(ids)):
        table = torch.tensor([blocks[: p // BLOCK + 1]])
        meta = AttentionMeta(torch.tensor([rows[p]]), 1, table, torch.tensor([p + 1], dtype=torch.int32))
        logits.append(model(torch.tensor([ids[p]]), torch.tensor([p]), torch.tensor([slot], dtype=torch.int32),
                            meta, cache.layers, torch.tensor([0])))
    return torch.cat(logits)


def model_config_layers(base) -> int:
    return base.config["num_hidden_layers"]


def hf_logits(base, luts, ids: list[int]) -> torch.Tensor:
    model, _ = load_sketched_model(base)
    for name, module in model.named_modules():
        if name in luts:
            module.lut.data = luts[name].float()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0]


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"tie_word_embeddings": True},
        {"num_key_value_heads": 1, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                   "high_freq_factor": 4.0, "original_max_position_embeddings": 16}},
        {"rope_scaling": {"type": "linear", "factor": 2.0}, "rope_theta": 500.0},
        {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 1000.0,
                             "original_max_position_embeddings": 32}},
        {"rope_scaling": {"rope_type": "dynamic", "factor": 2.0}},
    ],
    ids=["gqa", "tied", "mqa-llama3", "linear-old-style", "yarn-rope_parameters", "dynamic"],
)
def test_logits_match_transformers_for_base_and_task_lut(config):
    base = create_base(seed=3, **config)
    task = random_task_luts(base, seed=7)
    ids = torch.randint(0, 256, (21,), generator=torch.Generator().manual_seed(0)).tolist()
    for slot, luts in [(0, base.luts), (1, task)]:
        ours = run_ours(base, [base.luts, task], ids, slot=slot, prefill=13)
        torch.testing.assert_close(ours, hf_logits(base, luts, ids), rtol=1e-4, atol=1e-4)


def test_qwen2_projection_biases_match_transformers():
    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "num_key_value_heads": 2}
    base = create_base(seed=4, **config)
    g = torch.Generator().manual_seed(1)
    for name in base.layer_names:
        if any(p in name for p in ("q_proj", "k_proj", "v_proj")):
            base.dense[f"{name}.bias"] = torch.randn(base.layer_shapes[name][0], generator=g).half()
    ids = list(range(3, 20))
    for fused in (False, True):
        torch.testing.assert_close(run_ours(base, [base.luts], ids, 0, 9, fused), hf_logits(base, base.luts, ids),
                                   rtol=1e-4, atol=1e-4)


def test_fused_qkv_and_gate_up_match_transformers_for_each_slot():
    base = create_base(seed=5, num_key_value_heads=2)
    task = random_task_luts(base, seed=9)
    ids = torch.randint(0, 256, (15,), generator=torch.Generator().manual_seed(1)).tolist()
    for slot, luts in [(0, base.luts), (1, task)]:
        ours = run_ours(base, [base.luts, task], ids, slot=slot, prefill=9, fused=True)
        torch.testing.assert_close(ours, hf_logits(base, luts, ids), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fused", [False, True])
def test_int8_activations_keep_each_projections_base_tables_and_leave_the_cpu_exact(fused):
    """enable_int8_activations gives every projection base_tables of its pool's slot 0 (the base LUT; fused
    projections the group's); the CPU op ignores them, so the logits are the exact ones."""
    from kernels.triton_bucket_int8 import base_tables

    base = create_base()
    luts = [base.luts, random_task_luts(base, seed=1)]
    ids = list(range(3, 13))
    exact = run_ours(base, luts, ids, slot=1, prefill=6, fused=fused)
    assert torch.equal(run_ours(base, luts, ids, slot=1, prefill=6, fused=fused, int8=True), exact)
    pools, fused_luts = allocate_lut_pools(base, 2, torch.float32, "cpu")
    for n in base.layer_names:
        pools[n][1].copy_(luts[1][n])
    model = Transformer(base, pools, max_len=32, fused_luts=fused_luts if fused else None)
    model.enable_int8_activations()
    projections = [m for m in model.modules() if isinstance(m, LutProjection)]
    assert projections and all(m.int8_base is not None for m in projections)
    for m in projections:
        for got, want in zip(m.int8_base, base_tables(m.lut_pool[0]), strict=True):
            assert torch.equal(got, want)


def test_the_forward_is_a_pdl_scope(monkeypatch):
    """Its slot_of_token is the step's input, written before its first kernel: every projection runs inside a
    kernels.triton_common.pdl_scope (the decode kernels may launch with PDL there); the scope ends with it."""
    scopes = []
    real = LutProjection.forward

    def recording(self, x, slot_of_token):
        scopes.append(triton_common._PDL_SCOPE.get())
        return real(self, x, slot_of_token)

    monkeypatch.setattr(LutProjection, "forward", recording)
    base = create_base(seed=5)
    run_ours(base, [base.luts], list(range(3, 9)), slot=0, prefill=4)
    assert len(scopes) == 4 * 7 * model_config_layers(base) and all(scopes)  # 4 forwards: 2 chunks, 2 decodes
    assert not triton_common._PDL_SCOPE.get()


def test_config_reads_both_rope_styles():
    new = ModelConfig.from_hf({**create_base().config, "rope_parameters": {"rope_theta": 5e5, "rope_type": "default"}})
    old = ModelConfig.from_hf({**create_base().config, "rope_theta": 5e5, "rope_scaling": None})
    assert new.rope == old.rope and new.rope.theta == 5e5
    with pytest.raises(NotImplementedError, match="longrope"):
        ModelConfig.from_hf({**create_base().config, "rope_scaling": {"rope_type": "longrope", "factor": 2.0}})


def test_cpu_weight_cache_drops_a_slots_weight_once_the_slot_holds_another_lut():
    codes = torch.randint(0, 256, (8, 8), dtype=torch.uint8)  # N=8, K=16, 4-bit
    pool = torch.randn(3, 8, 2, 16)  # 3 slots, gpr 2
    generation = [0, 0, 0]
    cache = DenseWeightCache(generation, budget_bytes=1 << 20)
    proj = LutProjection(codes, pool, bits=4, in_features=16, bias=None, dense_cache=cache)
    x = torch.randn(2, 16)
    one_weight = 8 * 16 * 4
    for slot in (1, 2):
        proj(x, torch.tensor([slot, slot]))
    assert cache.nbytes == 2 * one_weight
    for _ in range(5):  # slot 1 receives another task's LUT again and again
        generation[1] += 1
        pool[1].normal_()
        y = proj(x, torch.tensor([1, 1]))
        assert torch.allclose(y, x @ dequantize(codes, pool[1], 4, 16).T, atol=1e-5)
    assert cache.nbytes == 2 * one_weight  # the dead generations were dropped, not kept until the budget


def test_cpu_weight_cache_keeps_hitting_when_a_step_needs_more_than_its_budget():
    codes = torch.randint(0, 256, (8, 8), dtype=torch.uint8)  # N=8, K=16, 4-bit: 512 B per fp32 weight
    pool = torch.randn(4, 8, 2, 16)
    cache = DenseWeightCache([0, 0, 0, 0], budget_bytes=2 * 8 * 16 * 4)  # room for 2 of the 3 slots' weights
    proj = LutProjection(codes, pool, bits=4, in_features=16, bias=None, dense_cache=cache)
    x = torch.randn(3, 16)
    slots = torch.tensor([1, 2, 3])  # every step needs 3 weights
    for _ in range(5):
        cache.begin_step()
        y = proj(x, slots)
    for row, slot in enumerate((1, 2, 3)):
        torch.testing.assert_close(y[row], x[row] @ dequantize(codes, pool[slot], 4, 16).T)
    # plain LRU would evict each weight right before its next use (0 hits); here 2 of 3 hit after the first step
    assert cache.hits == 2 * 4 and cache.misses == 3 + 4 and cache.nbytes == 2 * 8 * 16 * 4
    cache.begin_step()
    proj(x[:1], torch.tensor([0]))  # a new task arrives: a weight unused this step makes room for it
    assert cache.misses == 3 + 4 + 1 and cache.nbytes == 2 * 8 * 16 * 4


@pytest.mark.parametrize("lens, tables", [
    ([7, 13, 2], [[3, 9, 5, 0], [8, 2, 6, 4], [1, 0, 0, 0]]),  # shorter rows masked, blocks out of order: gathered
    ([14], [[2, 3, 4, 5, 0, 0]]),  # one row in consecutive blocks: a view of the cache
    ([9], [[6, 2, 7, 0]]),  # one row in scattered blocks: gathered
])
def test_cpu_decode_attention_reads_each_rows_context_only(lens, tables):
    """The CPU decode attention (DecodeGather) against attention written out row by row over each row's cached
    positions 0 .. len - 1, with 2 query heads per K/V head."""
    base = create_base(num_key_value_heads=2)  # 4 query heads
    cfg = ModelConfig.from_hf(base.config)
    attention = Attention(cfg, dict.fromkeys(("q_proj", "k_proj", "v_proj", "o_proj")))
    g = torch.Generator().manual_seed(len(lens))
    bs, hkv, hd = BLOCK, cfg.num_kv_heads, cfg.head_dim
    k_cache, v_cache = (torch.randn(10, bs, hkv, hd, generator=g) for _ in range(2))
    q = torch.randn(len(lens), cfg.num_heads, hd, generator=g)
    meta = AttentionMeta(torch.zeros(len(lens), dtype=torch.long), len(lens), torch.tensor(tables),
                         torch.tensor(lens, dtype=torch.int32))  # fmt: skip
    assert (decode_gather(meta, bs, q.dtype).rows is None) == (len(lens) == 1 and tables[0][:4] == [2, 3, 4, 5])
    got = attention._decode(q, k_cache, v_cache, meta)
    for b, n in enumerate(lens):
        rows = [tables[b][p // bs] * bs + p % bs for p in range(n)]
        k, v = (c.view(-1, hkv, hd)[rows].repeat_interleave(cfg.num_heads // hkv, 1) for c in (k_cache, v_cache))
        scores = torch.einsum("hd,nhd->hn", q[b], k) * attention.scale  # [H, n]
        want = torch.einsum("hn,nhd->hd", scores.softmax(-1), v)
        torch.testing.assert_close(got[b], want, rtol=1e-5, atol=1e-5)


def test_low_precision_cpu_matmuls_see_only_a_few_row_counts():
    allowed = {1 << i for i in range(ROW_CHUNK.bit_length())}  # 1, 2, 4, ..., ROW_CHUNK
    for m in range(1, 700):
        chunks = row_chunks(m)
        assert sum(rows for _, rows, _ in chunks) == m and chunks[0][0] == 0
        assert all(rows <= padded and padded in allowed for _, rows, padded in chunks)


@pytest.mark.parametrize("m", [1, 3, 64, 65, 130])
def test_chunked_bf16_matmul_equals_the_plain_one(m):
    g = torch.Generator().manual_seed(m)
    x = torch.randn(m, 48, generator=g).bfloat16()
    w = torch.randn(40, 48, generator=g).bfloat16()
    torch.testing.assert_close(matmul_few_shapes(x, w).float(), (x @ w.T).float(), rtol=1e-2, atol=1e-2)


needs_packed_bf16 = pytest.mark.skipif(not packed_bf16_ok(), reason="no oneDNN bf16 linear on this CPU")


@needs_packed_bf16
@pytest.mark.parametrize("m", [1, 2, 3, 64, 65, 130])
def test_packed_bf16_weights_multiply_as_the_plain_bf16_matmul(m):
    """oneDNN's blocked layout changes the speed, not the product: fp32 sums rounded once to bf16, like the plain
    bf16 matmul (which may sum in another order: within a bf16 rounding step of it), in row chunks above 64."""
    g = torch.Generator().manual_seed(m)
    x = torch.randn(m, 48, generator=g).bfloat16()
    w = torch.randn(40, 48, generator=g)
    y = PackedBf16Weight(w).matmul(x)
    exact = x.float() @ w.bfloat16().float().T
    assert y.dtype == torch.bfloat16 and y.shape == (m, 40)
    torch.testing.assert_close(y.float(), exact, rtol=8e-3, atol=8e-3)  # bf16's step: 2**-7 relative
    torch.testing.assert_close(y.float(), matmul_few_shapes(x, w.bfloat16()).float(), rtol=1.6e-2, atol=1.6e-2)


@needs_packed_bf16
def test_the_bf16_weight_cache_keeps_packed_weights_and_counts_two_bytes_a_weight():
    codes = torch.randint(0, 256, (40, 24), dtype=torch.uint8)  # N=40, K=48, 4-bit
    pool = torch.randn(2, 40, 2, 16)
    cache = DenseWeightCache([0, 0], budget_bytes=1 << 20, weight_dtype=torch.bfloat16)
    proj = LutProjection(codes, pool, bits=4, in_features=48, bias=None, dense_cache=cache)
    x = torch.randn(3, 48, generator=torch.Generator().manual_seed(0))
    y = proj(x, torch.tensor([1, 1, 0], dtype=torch.int32))
    assert y.dtype == torch.float32 and cache.nbytes == 2 * 40 * 48 * 2
    assert all(isinstance(w, PackedBf16Weight) for w in cache._weights.values())
    for row, slot in enumerate([1, 1, 0]):  # each token by its own slot's weight, rounded to bf16 with its input
        exact = x[row].bfloat16().float() @ dequantize(codes, pool[slot], 4, 48).bfloat16().float().T
        torch.testing.assert_close(y[row], exact, rtol=8e-3, atol=8e-3 * exact.abs().max().item())


@pytest.mark.parametrize("m", [1, 4, 5, 70])
def test_int8_cpu_weights_take_a_quarter_of_float32_and_stay_within_their_rounding(m):
    """int8 weight-only, one scale per row: the int8 kernel up to INT8_MATVEC_ROWS rows; above, a bf16 copy made
    once and counted in the cache's bytes; both within the quantization step of the exact product."""
    codes = torch.randint(0, 256, (40, 24), dtype=torch.uint8)  # N=40, K=48, 4-bit
    pool = torch.randn(2, 40, 2, 16)
    cache = DenseWeightCache([0, 0], budget_bytes=1 << 20, weight_dtype=torch.int8)
    proj = LutProjection(codes, pool, bits=4, in_features=48, bias=None, dense_cache=cache)
    x = torch.randn(m, 48, generator=torch.Generator().manual_seed(m))
    w = dequantize(codes, pool[1], 4, 48)
    y = proj(x, torch.ones(m, dtype=torch.int32))
    exact = x @ w.T
    step = w.abs().amax(dim=1) / 127  # [N]: the weights' rounding step, per row
    bound = 0.5 * step[None, :] * x.abs().sum(dim=1, keepdim=True) + 0.02 * exact.abs() + 0.05  # + bf16 rounding
    assert ((y - exact).abs() <= bound).all()
    bf16_copy = 40 * 48 * 2 if m > INT8_MATVEC_ROWS else 0
    assert cache.nbytes == 40 * 48 + 40 * 2 + bf16_copy  # int8 values, a bf16 scale per row (+ the batches' copy)
    assert isinstance(cache._weights[next(iter(cache._weights))], Int8Weight)
    proj(x[:1], torch.ones(1, dtype=torch.int32))
    assert cache.nbytes == 40 * 48 + 40 * 2 + bf16_copy  # one row again: the int8 kernel, nothing new


def test_prefill_attention_never_takes_cudnn(monkeypatch):
    """cuDNN's SDPA builds a plan per new shape (40-200 ms on the H200) and prefill shapes change with every prompt;
    flash does not. Both chunk kinds: the first (causal) and a later one over cached rows (masked)."""
    base = create_base()  # 4 query heads, 2 K/V heads
    seen = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, **kwargs):
        seen.append((torch.backends.cuda.cudnn_sdp_enabled(), torch.backends.cuda.flash_sdp_enabled(),
                     attn_mask is not None))  # fmt: skip
        return sdpa(q, k, v, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(server.model.F, "scaled_dot_product_attention", spy)
    ids = list(range(3, 13))
    run_ours(base, [random_task_luts(base, seed=1)], ids, 0, prefill=len(ids))  # two chunks: causal, then masked
    assert {masked for *_, masked in seen} == {False, True}
    assert all(not cudnn and flash for cudnn, flash, _ in seen)
    assert torch.backends.cuda.cudnn_sdp_enabled()  # the global setting is back once the call returns


@pytest.mark.gpu
@pytest.mark.parametrize("kv_heads", [2, 4])
def test_the_lower_right_causal_bias_is_the_later_chunks_mask_on_cuda(kv_heads):
    """A later chunk's mask on CUDA: query i of n over ctx rows sees rows 0 .. ctx - n + i, K/V heads grouped, under
    the prefill backends (flash); against a dense mask with K/V heads repeated (efficient attention)."""
    torch.manual_seed(0)
    n, ctx, sdpa = 48, 200, torch.nn.functional.scaled_dot_product_attention
    q = torch.randn(1, 4, n, 64, device="cuda", dtype=torch.float16)
    k, v = (torch.randn(1, kv_heads, ctx, 64, device="cuda", dtype=torch.float16) for _ in range(2))
    dense = (torch.arange(ctx, device="cuda")[None, :] <= torch.arange(ctx - n, ctx, device="cuda")[:, None])
    want = sdpa(q, k.repeat_interleave(4 // kv_heads, 1), v.repeat_interleave(4 // kv_heads, 1),
                attn_mask=dense[None, None])  # fmt: skip
    with sdpa_kernel(PREFILL_SDPA_BACKENDS):
        got = sdpa(q, k, v, attn_mask=causal_lower_right(n, ctx), enable_gqa=True)
    torch.testing.assert_close(got, want, atol=2e-3, rtol=2e-3)


def test_the_auto_cpu_weight_budget_holds_every_slots_weights_within_half_the_available_memory():
    base = create_base()
    weights = sum(n * k for n, k in base.layer_shapes.values())
    huge = 1 << 40
    assert DenseWeightCache.auto_budget(base, torch.float32, 8, huge) == 8 * 4 * weights
    assert DenseWeightCache.auto_budget(base, torch.bfloat16, 8, huge) == 8 * 2 * weights
    assert DenseWeightCache.auto_budget(base, torch.int8, 8, huge) == 8 * 3 * weights  # with its bf16 copy
    assert DenseWeightCache.auto_budget(base, torch.float32, 8, available_bytes=4 * weights) == 2 * weights
    assert 0 < host_available_bytes() < 1 << 50
