"""The fused decoder kernels (server/triton_fused.py) equal the torch forms of server/model.py.

On the CPU they run through Triton's interpreter (switched on by tests/conftest.py, before the kernels are defined).
"""

from __future__ import annotations

import pytest
import torch

import server.model
from server import triton_fused
from server.model import RMSNorm, apply_rope

from .conftest import collect, create_base, create_engine, create_store, greedy, prompt_ids

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPES = [torch.float32, torch.float16]  # bf16: the CPU interpreter's bf16 is emulated; CUDA runs it for real
TOL = {torch.float32: 1e-5, torch.float16: 2e-3}


def randn(*shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(device=DEVICE, dtype=dtype)


def close(a: torch.Tensor, b: torch.Tensor, dtype) -> bool:
    return a.shape == b.shape and torch.allclose(a.float(), b.float(), rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [64, 96])  # 96: a row narrower than its power-of-two block
def test_rms_norm_and_its_residual_form_equal_the_torch_norm(dtype, d):
    norm = RMSNorm(randn(d, dtype=dtype, seed=1), eps=1e-5)
    wide = randn(5, d + 8, dtype=dtype, seed=2)
    x = wide[:, :d]  # strided rows, as the model's views are
    delta = randn(5, d, dtype=dtype, seed=3) * 4
    assert close(triton_fused.rms_norm(x, norm.weight, norm.eps), norm(x), dtype)
    total, normed = triton_fused.add_rms_norm(x, delta, norm.weight, norm.eps)
    assert close(total, x + delta, dtype) and close(normed, norm(x + delta), dtype)
    assert triton_fused.rms_norm(x[:0], norm.weight, norm.eps).shape == (0, d)


@pytest.mark.parametrize("d", [64, 96])
def test_the_norms_write_their_outputs_int8_digits_as_the_digits_kernel_does(d):
    """rms_norm / add_rms_norm with digits buffers (the int8 activation mode's next projection): the digits, steps
    and low digit's prefix sums of the output equal int8_digits' of it (fp16; 96: a row narrower than its block)."""
    from kernels.triton_bucket_int8 import int8_digits, int8_digits_buffers

    dtype = torch.float16
    norm = RMSNorm(randn(d, dtype=dtype, seed=1), eps=1e-5)
    x, delta = randn(5, d, dtype=dtype, seed=2), randn(5, d, dtype=dtype, seed=3)
    for fused in (lambda digits: triton_fused.rms_norm(x, norm.weight, norm.eps, digits),
                  lambda digits: triton_fused.add_rms_norm(x, delta, norm.weight, norm.eps, digits)[1]):  # fmt: skip
        digits = int8_digits_buffers(5, d, torch.device(DEVICE), sums=True)
        out = fused(digits)
        assert torch.equal(out, fused(None))  # the output itself unchanged
        for got, want in zip(digits, int8_digits(out, sums=True), strict=True):
            assert torch.equal(got, want)
    with pytest.raises(ValueError, match="int8_digits_buffers"):
        triton_fused.rms_norm(x, norm.weight, norm.eps, int8_digits_buffers(4, d, torch.device(DEVICE), sums=True))


@pytest.mark.parametrize("f", [64, 96])
def test_silu_mul_writes_its_outputs_int8_digits_as_the_digits_kernel_does(f):
    """silu_mul with digits buffers (a program a row then): its output unchanged, into out, and the output's digits,
    steps and low digit's prefix sums equal int8_digits' of it (fp16; 96: a row narrower than its block)."""
    from kernels.triton_bucket_int8 import int8_digits, int8_digits_buffers

    gate_up = randn(5, 2 * f, dtype=torch.float16, seed=4) * 3
    digits = int8_digits_buffers(5, f, torch.device(DEVICE), sums=True)
    out = torch.empty(5, f, dtype=torch.float16, device=DEVICE)
    assert triton_fused.silu_mul(gate_up, out, digits) is out
    assert torch.equal(out, triton_fused.silu_mul(gate_up))
    for got, want in zip(digits, int8_digits(out, sums=True), strict=True):
        assert torch.equal(got, want)
    with pytest.raises(ValueError, match="contiguous"):
        triton_fused.silu_mul(gate_up, torch.empty(5, f + 1, dtype=torch.float16, device=DEVICE))


@pytest.mark.parametrize("dtype", DTYPES)
def test_silu_mul_equals_silu_of_gate_times_up(dtype):
    gate_up = randn(3, 2 * 80, dtype=dtype, seed=4) * 3
    gate, up = gate_up.chunk(2, dim=-1)
    assert close(triton_fused.silu_mul(gate_up), torch.nn.functional.silu(gate) * up, dtype)
    with pytest.raises(ValueError, match="even"):
        triton_fused.silu_mul(gate_up[:, 1:])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t, h, hkv", [(5, 4, 2), (3, 9, 3), (4, 32, 8)])  # chunks of 1, 2 and 4 heads
def test_rope_and_store_rotates_q_k_and_writes_only_the_mapped_cache_rows(dtype, t, h, hkv):
    hd, bs = 16, 4
    blocks = -(-2 * t // bs)
    qkv = randn(t, (h + 2 * hkv) * hd, dtype=dtype, seed=5)
    q, k, v = (p.view(t, -1, hd) for p in qkv.split([h * hd, hkv * hd, hkv * hd], dim=-1))  # strided views
    angles = randn(t, hd // 2, dtype=torch.float32, seed=6)
    cos, sin = (torch.cat([f(angles)] * 2, dim=-1).to(dtype) for f in (torch.cos, torch.sin))
    slot_mapping = torch.randperm(blocks * bs, generator=torch.Generator().manual_seed(t))[:t].to(DEVICE)
    k_cache = torch.full((blocks, bs, hkv, hd), float("nan"), dtype=dtype, device=DEVICE)
    v_cache = k_cache.clone()
    q_rot, k_rot = triton_fused.rope_and_store(q, k, v, cos, sin, k_cache, v_cache, slot_mapping)
    assert close(q_rot, apply_rope(q, cos, sin), dtype) and close(k_rot, apply_rope(k, cos, sin), dtype)
    flat_k, flat_v = k_cache.view(-1, hkv, hd), v_cache.view(-1, hkv, hd)
    assert close(flat_k[slot_mapping], k_rot, dtype) and torch.equal(flat_v[slot_mapping], v)
    untouched = [r for r in range(blocks * bs) if r not in slot_mapping.tolist()]
    assert flat_k[untouched].isnan().all() and flat_v[untouched].isnan().all()


def test_rope_chunks_cover_every_head_in_at_most_rope_chunks_programs_a_token():
    for h, hkv in ((32, 32), (32, 8), (9, 3), (4, 2), (1, 1), (64, 8)):
        chunks, block_h, block_hkv = triton_fused.rope_chunks(h, hkv)
        assert chunks * block_h >= h > (chunks - 1) * block_h and chunks * block_hkv >= hkv
        assert chunks <= triton_fused.ROPE_CHUNKS
    assert triton_fused.rope_chunks(32, 32) == (8, 4, 4)  # Llama-2-7B: a 16-token decode step in 128 programs


def test_rope_and_store_rejects_mismatched_shapes():
    q, k = torch.zeros(2, 4, 16), torch.zeros(2, 2, 16)
    cache = torch.zeros(1, 4, 2, 16)
    with pytest.raises(ValueError, match="shapes"):
        triton_fused.rope_and_store(q, k, k, torch.zeros(2, 8), torch.zeros(2, 8), cache, cache, torch.zeros(2))


def test_the_model_with_fused_kernels_generates_what_the_torch_forms_do(tmp_path, monkeypatch):
    """A mixed batch of 3 tasks through every fused kernel against the torch forms (on the test device: the CPU
    through the interpreter, where the fused kernels are forced on, or the GPU, where they are off for the
    reference run)."""
    base = create_base(seed=3)
    store = create_store(base, tmp_path, {"alpha": 1, "beta": 2, "gamma": 3})
    specs = [(task, prompt_ids(i, 6 + i), 6) for i, task in enumerate(["alpha", "beta", "gamma", "alpha"])]

    def run(fused) -> list[list[int]]:
        calls = []

        def ops_for(x):
            calls.append(x.shape)
            return fused

        monkeypatch.setattr(server.model, "fused_ops_for", ops_for)
        engine = create_engine(base, store, cpu_weight_cache_bytes=0, device=DEVICE)
        handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs]
        got = collect(engine, handles)
        assert calls, "the model never asked for the fused ops"
        return [got[h.request_id] for h in handles]

    assert run(triton_fused) == run(None)


@pytest.mark.skipif(DEVICE != "cpu", reason="forces the op's int8 choice, which a GPU makes itself")
def test_in_the_int8_mode_the_norms_write_the_digits_of_what_qkv_and_gate_up_read(tmp_path, monkeypatch):
    """Where a qkv, gate_up or down call takes the int8 kernel (forced here: triton_ops.int8_takes), the fused norm
    or SiLU before it writes its output's int8 digits and the projection hands them to the op: equal to
    int8_digits(x, sums=True) of the x the op gets (the CPU op itself stays exact); o_proj (after the attention)
    gets none."""
    from kernels import triton_ops
    from kernels.triton_bucket_int8 import int8_digits

    base = create_base(seed=3)
    store = create_store(base, tmp_path, {"alpha": 1, "beta": 2})
    monkeypatch.setattr(server.model, "fused_ops_for", lambda x: triton_fused)
    monkeypatch.setattr(triton_ops, "int8_takes", lambda *args: True)
    monkeypatch.setattr(server.model, "INT8_NORM_DIGITS", frozenset({"norm", "silu"}))  # ("1")
    seen = []  # (the call's N and K, whether its digits are x's; None: no digits)
    real = server.model.lut_linear

    def recording(x, codes, pool, slots, bits, gpr, check, num_tasks=None, int8_base=None, int8_digits=None):
        made = None if int8_digits is None else all(torch.equal(a, b) for a, b in
                                                    zip(int8_digits, digits_of(x), strict=True))  # fmt: skip
        seen.append((codes.shape[0], x.shape[1], made))
        return real(x, codes, pool, slots, bits, gpr, check, num_tasks=num_tasks)

    def digits_of(x):
        return int8_digits(x, sums=True)

    monkeypatch.setattr(server.model, "lut_linear", recording)
    engine = create_engine(base, store, cpu_weight_cache_bytes=0)
    assert engine.runner.model.enable_int8_activations() > 0
    handles = [engine.add_request(task, prompt_ids(i, 5), greedy(3)) for i, task in enumerate(["alpha", "beta"])]
    collect(engine, handles)
    cfg = engine.model_config
    qkv, gate_up = (cfg.num_heads + 2 * cfg.num_kv_heads) * cfg.head_dim, 2 * base.config["intermediate_size"]
    hidden = cfg.hidden_size  # o_proj's and down_proj's N: told apart by K
    assert {(n, k) for n, k, made in seen if made is not None} == {(qkv, hidden), (gate_up, hidden),
                                                                  (hidden, gate_up // 2)}  # fmt: skip
    assert all(made for *_, made in seen if made is not None)
    assert all(made is None for n, k, made in seen if (n, k) == (hidden, cfg.num_heads * cfg.head_dim))


def test_self_check_passes_and_names_a_kernel_that_disagrees(monkeypatch):
    """What the server runs before the first fused use on a GPU (a failure there means: torch forms instead)."""
    assert triton_fused.self_check(torch.device(DEVICE), torch.float32) is None
    monkeypatch.setattr(triton_fused, "silu_mul", lambda gate_up: gate_up[:, : gate_up.shape[1] // 2])
    assert "silu_mul" in triton_fused.self_check(torch.device(DEVICE), torch.float32)

    def broken(*args):
        raise RuntimeError("no kernel image")

    monkeypatch.setattr(triton_fused, "rms_norm", broken)
    assert "no kernel image" in triton_fused.self_check(torch.device(DEVICE), torch.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("heads,kv_heads,block_size", [(4, 2, 4), (6, 2, 16), (2, 2, 8)])  # G = 2, 3 (odd), 1
@pytest.mark.parametrize("num_splits", [1, 2, 5])  # 5 parts: more than a short context has chunks (empty parts)
@pytest.mark.parametrize("form", ["ATTENTION_FEW_PAIRS", "ATTENTION_MANY_PAIRS"])  # attention_config's two
def test_paged_decode_attention_reads_each_context_in_place(dtype, heads, kv_heads, block_size, num_splits, form,
                                                            monkeypatch):  # fmt: skip
    monkeypatch.setattr(triton_fused, "attention_config", lambda pairs, sms: getattr(triton_fused, form))
    hd = 16
    lens = [1, block_size, block_size + 1, 5 * block_size - 3, 70]  # one token, a full block, one over, long
    width = max(-(-n // block_size) for n in lens)
    blocks = 2 * width
    k_cache = randn(blocks, block_size, kv_heads, hd, dtype=dtype, seed=8)
    v_cache = randn(blocks, block_size, kv_heads, hd, dtype=dtype, seed=9)
    g = torch.Generator().manual_seed(10)
    tables = torch.stack([torch.randperm(blocks, generator=g)[:width] for _ in lens]).to(DEVICE)  # scattered
    context_lens = torch.tensor(lens, dtype=torch.int32, device=DEVICE)
    q = randn(len(lens), heads, hd, dtype=dtype, seed=11)
    got = triton_fused.paged_decode_attention(q, k_cache, v_cache, tables, context_lens, hd**-0.5, num_splits)
    want = triton_fused._dense_decode_attention(q, k_cache, v_cache, tables, context_lens, hd**-0.5)
    assert close(got, want, dtype)
    with pytest.raises(ValueError, match="shapes"):
        triton_fused.paged_decode_attention(q[..., :8], k_cache, v_cache, tables, context_lens, 1.0)  # head dim
    with pytest.raises(ValueError, match="num_splits"):
        triton_fused.paged_decode_attention(q, k_cache, v_cache, tables, context_lens, 1.0, num_splits=0)


@pytest.mark.parametrize("num_splits", [1, 3])
@pytest.mark.parametrize("block_t", [16, 64])
def test_the_attention_prefetching_a_chunk_ahead_reads_each_context_as_the_plain_form_does(num_splits, block_t):
    """PREFETCH (each chunk's rows requested before the chunk before it is attended) against the dense reference:
    contexts of one token, of whole chunks and of chunks plus a few, parts past a short context."""
    hd, heads, kv_heads, bs = 16, 4, 2, 8
    lens = [1, block_t, 2 * block_t + 3, 70]
    width = max(-(-n // bs) for n in lens)
    k_cache = randn(2 * width, bs, kv_heads, hd, dtype=torch.float32, seed=12)
    v_cache = randn(2 * width, bs, kv_heads, hd, dtype=torch.float32, seed=13)
    g = torch.Generator().manual_seed(14)
    tables = torch.stack([torch.randperm(2 * width, generator=g)[:width] for _ in lens]).to(DEVICE)
    context_lens = torch.tensor(lens, dtype=torch.int32, device=DEVICE)
    q = randn(len(lens), heads, hd, dtype=torch.float32, seed=15)
    want = triton_fused._dense_decode_attention(q, k_cache, v_cache, tables, context_lens, hd**-0.5)
    config = {"BLOCK_T": block_t, "num_warps": 4, "PREFETCH": 1}
    got = triton_fused.launch_paged_decode_attention(q, k_cache, v_cache, tables, context_lens, hd**-0.5, num_splits,
                                                     config)  # fmt: skip
    assert close(got, want, torch.float32)


def test_a_split_attention_launch_leaves_its_arrival_counters_at_zero():
    """The last part of each (sequence, KV head) resets its counter: the next launch (a graph replay) starts clean."""
    k_cache = randn(4, 8, 2, 16, dtype=torch.float32, seed=1)
    tables = torch.tensor([[0, 1, 2], [3, 2, 1]], device=DEVICE)
    lens = torch.tensor([20, 3], dtype=torch.int32, device=DEVICE)
    q = randn(2, 4, 16, dtype=torch.float32, seed=2)
    first = triton_fused.paged_decode_attention(q, k_cache, k_cache, tables, lens, 0.25, num_splits=4)
    counters = triton_fused.arrival_counters(torch.device(DEVICE), 4)
    assert not counters.any()
    again = triton_fused.paged_decode_attention(q, k_cache, k_cache, tables, lens, 0.25, num_splits=4)
    assert torch.equal(again, first)


def test_a_batch_of_at_most_two_sequence_heads_an_sm_takes_the_prefetching_attention():
    """Up to two (sequence, KV head) pairs an SM each program's dependent loads are its time: the prefetching form."""
    few, many = triton_fused.ATTENTION_FEW_PAIRS, triton_fused.ATTENTION_MANY_PAIRS
    assert few["PREFETCH"] and not many.get("PREFETCH")
    assert triton_fused.attention_config(pairs=32, sms=132) == few  # batch 1, 7B
    assert triton_fused.attention_config(pairs=264, sms=132) == few  # batch 8
    assert triton_fused.attention_config(pairs=265, sms=132) == many
    assert triton_fused.attention_config(pairs=16 * 32, sms=132) == many  # batch 16, 7B


def test_contexts_are_split_only_when_few_programs_would_run():
    """~2 programs per SM, parts of >= MIN_TOKENS_PER_PART tokens of the capacity, never more than 32."""
    per_part = triton_fused.MIN_TOKENS_PER_PART
    assert triton_fused.attention_splits(programs=32, capacity=4096, num_sms=132) == 8  # batch 1, 7B: 264 // 32
    assert triton_fused.attention_splits(programs=32, capacity=2 * per_part, num_sms=132) == 2  # short capacity
    assert triton_fused.attention_splits(programs=512, capacity=4096, num_sms=132) == 1  # batch 16: enough
    assert triton_fused.attention_splits(programs=1, capacity=1 << 20, num_sms=132) == 32


def test_a_gpu_whose_fused_kernels_fail_their_self_check_serves_with_the_torch_forms(monkeypatch, caplog):
    checks = []

    def failing_check(device, dtype):
        checks.append((device, dtype))
        return "rms_norm differs from the torch form by 3"

    monkeypatch.setattr(server.model, "_on_gpu", lambda x: True)  # as if x lived on a GPU
    monkeypatch.setattr(server.model, "_fused_ok", {})
    monkeypatch.setattr(triton_fused, "self_check", failing_check)
    x = torch.zeros(2, 4)
    assert server.model.fused_ops_for(x) is None and server.model.fused_ops_for(x) is None
    assert len(checks) == 1 and "disabled" in caplog.text  # checked once per device and dtype, then remembered
    monkeypatch.setattr(triton_fused, "self_check", lambda device, dtype: None)
    assert server.model.fused_ops_for(x.half()) is triton_fused  # another dtype: checked, passes
    monkeypatch.setattr(server.model, "FUSED_OPS", False)  # SKETCHSERVE_FUSED_OPS=0
    assert server.model.fused_ops_for(x.half()) is None


def test_attention_warm_up_compiles_the_models_own_variants_and_leaves_the_caches_alone(monkeypatch):
    """At start the engine runs the paged attention once on the model's geometry, whole and split, in its few-pairs
    and its many-pairs form (the variants a first request, a first long context and a first large batch would
    otherwise compile), without touching the KV cache; in the launch mode of the call (the runner calls it in
    each)."""
    k_cache, v_cache = (randn(4, 16, 2, 64, dtype=torch.float16, seed=s) for s in (1, 2))
    before = (k_cache.clone(), v_cache.clone())
    calls = []
    real = triton_fused.launch_paged_decode_attention

    def spy(q, kc, vc, tables, lens, scale, num_splits, config):
        calls.append((tuple(q.shape), num_splits, config))
        return real(q, kc, vc, tables, lens, scale, num_splits, config)

    monkeypatch.setattr(triton_fused, "launch_paged_decode_attention", spy)
    triton_fused.warm_up_attention(k_cache, v_cache, num_heads=8)
    one, many = triton_fused.ATTENTION_FEW_PAIRS, triton_fused.ATTENTION_MANY_PAIRS
    assert calls == [((1, 8, 64), 1, one), ((1, 8, 64), 2, one), ((1, 8, 64), 1, many), ((1, 8, 64), 2, many)]
    assert torch.equal(k_cache, before[0]) and torch.equal(v_cache, before[1])
