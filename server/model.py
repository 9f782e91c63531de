"""A compact Llama-family decoder (Llama 2/3, Mistral, Qwen2, SmolLM2) on the multi-LUT op, after gpt-fast.

One forward runs a flat batch of T tokens from B sequences of many tasks:

    input_ids [T], positions [T], slot_of_token [T] int32 (the LUT pool slot of each token's task)
      -> embed -> L x [RMSNorm -> attention (RoPE, GQA, paged KV) -> RMSNorm -> SwiGLU MLP]
      -> RMSNorm -> lm_head on the sampled rows only -> logits [num_sampled, V] float32

Every projection (q, k, v, o, gate, up, down) is one `lut_linear` call over all T tokens: the codes
[N, packed K] are shared by every task, `lut_pool[layer]` [S, N, gpr, 2**bits] is owned by adapters/pool.py
and indexed by slot_of_token, so one batch mixes tasks at no extra launches.

The flat batch puts decodes first (one token per sequence: one batched SDPA over KV gathered from the paged
cache, static shapes so CUDA graphs can capture it), then prefill chunks (one causal SDPA per sequence).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.bias import causal_lower_right

from adapters.pool import FusedLuts
from kernels import SlotSegments, lut_linear
from kernels.triton_common import pdl_scope
from server.cpu_weights import CpuWeight, DenseWeightCache, cpu_matmul, cpu_weight
from sketch.format import SketchedBase

log = logging.getLogger(__name__)

# CUDA: norms, RoPE + KV-cache writes, SwiGLU's product and decode attention over the paged cache as Triton kernels
# (server/triton_fused.py); SKETCHSERVE_FUSED_OPS=0: the torch forms below (also the CPU path and the reference).
FUSED_OPS = os.environ.get("SKETCHSERVE_FUSED_OPS", "1") != "0"
# The int8 activation mode: the fused RMSNorm writes the int8 digits of its output where the next projection (qkv,
# gate_up) takes the int8 kernel (LutProjection.int8_digits_for), so that call launches no digits kernel of its own.
# SKETCHSERVE_INT8_NORM_DIGITS picks the producers: "norm" (the default), "silu" (down_proj's, a row a program),
# "1" both, "0" none. 16 x 16 steps on the H200 (forty-fifth session, 7B-shaped): none 7.03 / 7.87 ms (gpr 1 / 4),
# norm 6.91 / 7.72, silu 7.50 / 7.82, both 7.34 / 7.70: SiLU's row-a-program form costs more than the launch it saves
# under PDL (without PDL a wash, forty-eighth session: each of its 16 programs needs a whole SM).
INT8_DIGIT_PRODUCERS = {"0": frozenset(), "norm": frozenset({"norm"}), "silu": frozenset({"silu"}),
                        "1": frozenset({"norm", "silu"})}  # fmt: skip
_NORM_DIGITS = os.environ.get("SKETCHSERVE_INT8_NORM_DIGITS", "norm")
if _NORM_DIGITS not in INT8_DIGIT_PRODUCERS:
    raise ValueError(f"SKETCHSERVE_INT8_NORM_DIGITS must be one of {sorted(INT8_DIGIT_PRODUCERS)}, "
                     f"got {_NORM_DIGITS!r}")
INT8_NORM_DIGITS: frozenset[str] = INT8_DIGIT_PRODUCERS[_NORM_DIGITS]


_fused_ok: dict[tuple[str, torch.dtype], bool] = {}  # (device, dtype) -> the fused kernels passed their self-check


def _on_gpu(x: torch.Tensor) -> bool:
    return x.is_cuda


def fused_ops_for(x: torch.Tensor) -> ModuleType | None:
    """The fused-kernel module for activations x on CUDA (unless SKETCHSERVE_FUSED_OPS=0), else None.

    Before its first use on a device and dtype, the kernels are checked against the torch forms once; if they fail
    (a Triton build that cannot compile them), the torch forms serve instead, with a warning.
    """
    if not (FUSED_OPS and _on_gpu(x)):
        return None
    from server import triton_fused  # imports Triton kernels: CUDA only

    key = (str(x.device), x.dtype)
    if key not in _fused_ok:
        if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
            return None  # never check inside a CUDA graph capture (the engine's eager steps come first)
        error = triton_fused.self_check(x.device, x.dtype)
        if error is not None:
            log.warning("fused decoder kernels disabled on %s %s: %s", *key, error)
        _fused_ok[key] = error is None
    return triton_fused if _fused_ok[key] else None


SUPPORTED_ROPE_TYPES = ("default", "linear", "llama3", "dynamic", "yarn")
ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_PROJECTIONS = ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class RopeConfig:
    """Rotary embedding parameters, from either config style (see ModelConfig.from_hf)."""

    theta: float = 10000.0
    rope_type: str = "default"
    factor: float = 1.0
    params: dict = field(default_factory=dict)  # the type's other keys (low_freq_factor, beta_fast, ...)


@dataclass(frozen=True)
class ModelConfig:
    """The architecture of a Llama-family checkpoint, read from its Hugging Face config.json."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float
    max_position_embeddings: int
    tie_word_embeddings: bool
    rope: RopeConfig
    eos_token_ids: tuple[int, ...] = ()
    bos_token_id: int | None = None

    @staticmethod
    def from_hf(config: dict) -> ModelConfig:
        """Accepts transformers 5 (`rope_parameters`) and older (`rope_theta` + `rope_scaling`) configs."""
        heads = config["num_attention_heads"]
        rope = dict(config.get("rope_parameters") or config.get("rope_scaling") or {})
        theta = float(rope.pop("rope_theta", config.get("rope_theta", 10000.0)))
        rope_type = rope.pop("rope_type", rope.pop("type", "default"))
        if rope_type not in SUPPORTED_ROPE_TYPES:
            raise NotImplementedError(f"rope type {rope_type!r} is not supported (supported: {SUPPORTED_ROPE_TYPES})")
        if float(rope.pop("partial_rotary_factor", 1.0)) != 1.0:
            raise NotImplementedError("partial rotary embeddings are not supported")
        factor = rope.pop("factor", None)
        if factor is None and rope_type == "yarn" and rope.get("original_max_position_embeddings"):
            factor = config.get("max_position_embeddings", 2048) / rope["original_max_position_embeddings"]
        eos = config.get("eos_token_id")
        eos_ids = tuple(eos) if isinstance(eos, (list, tuple)) else (() if eos is None else (int(eos),))
        return ModelConfig(
            vocab_size=config["vocab_size"],
            hidden_size=config["hidden_size"],
            intermediate_size=config["intermediate_size"],
            num_layers=config["num_hidden_layers"],
            num_heads=heads,
            num_kv_heads=config.get("num_key_value_heads") or heads,
            head_dim=config.get("head_dim") or config["hidden_size"] // heads,
            rms_norm_eps=float(config.get("rms_norm_eps", 1e-6)),
            max_position_embeddings=config.get("max_position_embeddings", 2048),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            rope=RopeConfig(theta, rope_type, 1.0 if factor is None else float(factor), rope),
            eos_token_ids=eos_ids,
            bos_token_id=config.get("bos_token_id"),
        )


def rope_inv_freq(cfg: ModelConfig, max_len: int) -> tuple[torch.Tensor, float]:
    """(inv_freq [head_dim / 2] float32, scale of cos/sin), as transformers computes them per rope type.

    'dynamic' (NTK) rescales with the sequence length in transformers; a server cannot give each sequence its own
    table, so, like vLLM, we use one table: the original frequencies up to max_position_embeddings (identical to
    transformers there) and the table of length `max_len` beyond it.
    """
    rope, dim = cfg.rope, cfg.head_dim
    exponents = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    inv_freq = 1.0 / (rope.theta**exponents)
    p = rope.params
    if rope.rope_type == "linear":
        return inv_freq / rope.factor, 1.0
    if rope.rope_type == "dynamic":
        if max_len <= cfg.max_position_embeddings:
            return inv_freq, 1.0
        ratio = rope.factor * max_len / cfg.max_position_embeddings - (rope.factor - 1)
        return 1.0 / ((rope.theta * ratio ** (dim / (dim - 2))) ** exponents), 1.0
    if rope.rope_type == "llama3":
        old_len = p.get("original_max_position_embeddings", cfg.max_position_embeddings)
        low_wavelen, high_wavelen = old_len / p["low_freq_factor"], old_len / p["high_freq_factor"]
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wavelen, inv_freq / rope.factor, inv_freq)
        smooth = (old_len / wavelen - p["low_freq_factor"]) / (p["high_freq_factor"] - p["low_freq_factor"])
        smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled
        medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
        return torch.where(medium, smoothed, scaled), 1.0
    if rope.rope_type == "yarn":
        return _yarn_inv_freq(cfg, inv_freq)
    return inv_freq, 1.0


def _yarn_inv_freq(cfg: ModelConfig, inv_freq: torch.Tensor) -> tuple[torch.Tensor, float]:
    rope, dim, p = cfg.rope, cfg.head_dim, cfg.rope.params
    old_len = p.get("original_max_position_embeddings") or cfg.max_position_embeddings

    def mscale(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    attention_factor = p.get("attention_factor")
    if attention_factor is None:
        if p.get("mscale") and p.get("mscale_all_dim"):
            attention_factor = mscale(rope.factor, p["mscale"]) / mscale(rope.factor, p["mscale_all_dim"])
        else:
            attention_factor = mscale(rope.factor)

    def correction_dim(rotations: float) -> float:
        return dim * math.log(old_len / (rotations * 2 * math.pi)) / (2 * math.log(rope.theta))

    low, high = correction_dim(p.get("beta_fast") or 32), correction_dim(p.get("beta_slow") or 1)
    if p.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    extrapolation = 1 - ramp  # share of each frequency kept unscaled
    return inv_freq / rope.factor * (1 - extrapolation) + inv_freq * extrapolation, float(attention_factor)


def rope_tables(cfg: ModelConfig, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [max_len, head_dim] float32, in transformers' rotate-half layout."""
    inv_freq, scale = rope_inv_freq(cfg, max_len)
    freqs = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)  # [max_len, head_dim / 2]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos() * scale, emb.sin() * scale


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [T, H, hd], cos/sin [T, hd] in x's dtype."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos[:, None] + rotated * sin[:, None]


@dataclass
class PrefillSpan:
    """One sequence's prefill chunk inside the flat batch: tokens [start, start + num_tokens)."""

    start: int
    num_tokens: int
    context_len: int  # tokens in the KV cache once this chunk is written (earlier chunks + this one)
    block_table: torch.Tensor  # [ceil(context_len / block_size)] int64, on the device


@dataclass
class AttentionMeta:
    """Where each token's K/V goes and which cached K/V each query reads (built by the runner)."""

    slot_mapping: torch.Tensor  # [T] int64: row of each token's K/V in the flat cache (block * block_size + offset)
    num_decodes: int  # the first num_decodes tokens are decodes, one per sequence
    decode_block_tables: torch.Tensor  # [num_decodes, nb] int32, padded with the null block 0
    decode_context_lens: torch.Tensor  # [num_decodes] int32: cached tokens including the new one
    prefills: list[PrefillSpan] = field(default_factory=list)
    cpu_gather: DecodeGather | None = None  # set by Transformer.forward for its CPU decode rows, one plan a step


@dataclass
class DecodeGather:
    """The CPU decode attention's gather, built once a step (decode_gather) and used by every layer. Per layer, the
    torch form of _decode indexed the cache by the padded block tables (aten::index over whole blocks, ~3x an
    index_select of the rows wanted), built the visibility mask and had SDPA convert it to an additive one: 4.3 of a
    batch-1 step's ~33 ms and 11.6 of a batch-8 step's ~46 on the 2-core dev CPU, now 2.3 and 7.2 (the rest is the
    rows' copy, which at batch 8 reads the layer's K/V from DRAM, and SDPA)."""

    rows: torch.Tensor | None  # [B * C] int64: flat cache row of each decode row's context position c < C
    context: int  # C: the longest context among the decode rows (no row reads past it)
    mask: torch.Tensor | None  # [B, 1, 1, C] additive (0 / -inf) in the activations' dtype; None: every row sees C
    start: int = 0  # rows None (one decode row whose blocks are consecutive): its context is cache rows start + c

    def keys_values(self, cache: torch.Tensor, batch: int) -> torch.Tensor:
        """One layer's cache [num_blocks, block_size, Hkv, hd] -> the context [B, Hkv, C, hd]: a view of the cache
        where one row's context lies in consecutive blocks (a lone sequence's often do), else gathered."""
        flat = cache.view(-1, *cache.shape[2:])
        rows = flat[self.start : self.start + self.context] if self.rows is None else flat.index_select(0, self.rows)
        return rows.view(batch, self.context, *cache.shape[2:]).transpose(1, 2)


def decode_gather(meta: AttentionMeta, block_size: int, dtype: torch.dtype) -> DecodeGather:
    """The decode rows' context as flat KV-cache rows, up to the longest context (the block tables' padding and the
    blocks' unused tail are never read), and the additive mask of rows whose context is shorter. Host reads:
    the CPU only (on CUDA the context lengths would sync)."""
    lens = meta.decode_context_lens.tolist()
    context = max(lens)
    if len(lens) == 1:
        blocks = meta.decode_block_tables[0, : -(-context // block_size)].tolist()
        if blocks == list(range(blocks[0], blocks[0] + len(blocks))):
            return DecodeGather(None, context, None, blocks[0] * block_size)
    pos = torch.arange(context, device=meta.decode_block_tables.device)
    rows = meta.decode_block_tables[:, pos // block_size] * block_size + pos % block_size  # [B, C]
    mask = None
    if min(lens) < context:
        hidden = pos[None, :] >= meta.decode_context_lens[:, None]  # [B, C]
        mask = torch.zeros(hidden.shape, dtype=dtype, device=pos.device).masked_fill_(hidden, float("-inf"))
        mask = mask[:, None, None, :]
    return DecodeGather(rows.flatten(), context, mask)


class RMSNorm(nn.Module):
    def __init__(self, weight: torch.Tensor, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


@dataclass
class KernelHints:
    """What the runner knows on the host about the step it is running, read by every LutProjection.

    num_tasks: distinct LUT slots among the step's tokens. It lets the CUDA op pick its decode kernel (the
    gather kernel's cost grows with it, the bucket kernel's does not) without reading slot_of_token back from
    the device. Under CUDA graphs the choice is baked in at capture, so the graph key includes it.
    segments: the step's tokens as runs of one slot with their bounds on the host (SlotSegments), set for
    prefill steps: the CUDA op plans per run (kernels/triton_ops.py, _planned_segments). One or two long runs
    take the dense path (that task's weight dequantized once, then cuBLAS: 2,048 tokens of one task on an H200
    106.7 us at 4096x4096 against cuBLAS's 90.9), several shorter ones the register-LUT prefill kernel's tiles of
    one run each (8 tasks x 256 tokens: 169 us against 228 dense; benchmarks/NOTES.md twenty-seventh session).
    """

    num_tasks: int | None = None
    segments: SlotSegments | None = None
    int8: bool = True
    """Whether the step may take the int8 activation kernel where the projections hold the base's tables
    (Transformer.enable_int8_activations): the runner clears it for a step with a task LUT far from the base's
    (ModelRunner.int8_allowed). Baked into CUDA graphs as num_tasks is (Transformer.int8_key)."""


class LutProjection(nn.Module):
    """y [T, N] = x [T, K] @ W_hat(slot of each token).T (+ bias); lut_pool is the pool's tensor, shared."""

    def __init__(
        self,
        codes_packed: torch.Tensor,
        lut_pool: torch.Tensor,
        bits: int,
        in_features: int,
        bias: torch.Tensor | None,
        dense_cache: DenseWeightCache | None = None,
        hints: KernelHints | None = None,
    ) -> None:
        super().__init__()
        self.register_buffer("codes_packed", codes_packed)
        self.lut_pool = lut_pool  # [S, N, gpr, 2**bits]: a plain attribute, so .to() never copies the pool
        self.bits, self.gpr, self.in_features = bits, lut_pool.shape[2], in_features
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)
        self.dense_cache = dense_cache
        self.hints = hints or KernelHints()
        self.int8_base: tuple[torch.Tensor, ...] | None = None  # Transformer.enable_int8_activations

    def forward(self, x: torch.Tensor, slot_of_token: torch.Tensor,
                digits: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:  # fmt: skip
        """digits: x's int8 digits, written by x's producer into int8_digits_for's buffers, or None."""
        if self.dense_cache is not None and not x.is_cuda:
            y = self.dense_cache.linear(self, x, slot_of_token)
        else:
            # Slots are checked on the host by the runner: a range check here would sync and break graph capture.
            segments = self.hints.segments
            slots = segments if segments is not None and segments.per_token is slot_of_token else slot_of_token
            y = lut_linear(x, self.codes_packed, self.lut_pool, slots, self.bits, self.gpr, False,
                           num_tasks=self.hints.num_tasks, int8_base=self.int8_base if self.hints.int8 else None,
                           int8_digits=digits)  # fmt: skip
        return y if self.bias is None else y + self.bias

    def int8_digits_for(self, x_like: torch.Tensor, producer: str = "norm") -> tuple[torch.Tensor, ...] | None:
        """Buffers for the int8 digits of this call's input, for the kernel that makes the input to fill (the fused
        RMSNorm or SiLU), where the call takes the int8 kernel (kernels/triton_ops.py int8_takes); else None (the op
        makes the digits itself where it needs them). x_like: a tensor of the input's shape, type and device (the
        residual that the norm reads); producer: "norm" or "silu" (INT8_NORM_DIGITS lists those that write them)."""
        if self.int8_base is None or not self.hints.int8 or producer not in INT8_NORM_DIGITS:
            return None
        from kernels import triton_ops
        from kernels.triton_bucket_int8 import DIGITS_ROW_MAX, int8_digits_buffers

        hints = self.hints
        if self.in_features > DIGITS_ROW_MAX:  # the producers take a row in one program
            return None
        if not triton_ops.int8_takes(x_like, self.codes_packed, self.lut_pool, self.bits, hints.segments,
                                     hints.num_tasks):  # fmt: skip
            return None
        return int8_digits_buffers(x_like.shape[0], self.in_features, x_like.device, sums=True)


# Prefill attention's SDPA backends: every one but cuDNN's (Attention._prefill says why).
PREFILL_SDPA_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


class Attention(nn.Module):
    """proj holds q_proj, k_proj, v_proj, o_proj, or qkv_proj (fused: one op call, output split) and o_proj.

    Run as project (q/k/v, RoPE, cache writes) then attend; o_proj is Block.after_attention's. fused, in every
    method: the fused-kernel module the model chose for this forward (fused_ops_for), or None: the torch forms."""

    def __init__(self, cfg: ModelConfig, proj: dict[str, LutProjection]) -> None:
        super().__init__()
        self.qkv_proj = proj.get("qkv_proj")
        if self.qkv_proj is None:
            self.q_proj, self.k_proj, self.v_proj = (proj[p] for p in ATTENTION_PROJECTIONS[:3])
        self.o_proj = proj["o_proj"]
        self.num_heads, self.num_kv_heads, self.head_dim = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.qkv_sizes = [self.num_heads * self.head_dim, *[self.num_kv_heads * self.head_dim] * 2]
        self.scale = cfg.head_dim**-0.5

    def project(
        self, x: torch.Tensor, slots: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, slot_mapping: torch.Tensor,
        kv_cache: tuple[torch.Tensor, torch.Tensor], fused: ModuleType | None = None,
        digits: tuple[torch.Tensor, ...] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """x [T, D] -> q [T, H, hd] and k, v [T, Hkv, hd], RoPE applied; k and v also written to the cache rows
        slot_mapping [T]. Everything of attention that a step's CUDA graph can hold (server/prefill_graphs.py).
        digits: x's int8 digits for qkv_proj (LutProjection.int8_digits_for), or None."""
        t = x.shape[0]
        if self.qkv_proj is not None:
            q, k, v = self.qkv_proj(x, slots, digits).split(self.qkv_sizes, dim=-1)  # [T, N_q + 2 N_kv] -> 3 views
        else:
            q, k, v = self.q_proj(x, slots), self.k_proj(x, slots), self.v_proj(x, slots)
        q = q.view(t, self.num_heads, self.head_dim)
        k = k.view(t, self.num_kv_heads, self.head_dim)
        v = v.view(t, self.num_kv_heads, self.head_dim)
        k_cache, v_cache = kv_cache  # [num_blocks, block_size, Hkv, hd]
        if fused is not None:  # one kernel: rope(q), rope(k), and rope(k), v into the caches
            q, k = fused.rope_and_store(q, k, v, cos, sin, k_cache, v_cache, slot_mapping)
        else:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            k_cache.view(-1, self.num_kv_heads, self.head_dim).index_copy_(0, slot_mapping, k)
            v_cache.view(-1, self.num_kv_heads, self.head_dim).index_copy_(0, slot_mapping, v)
        return q, k, v

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, meta: AttentionMeta,
        kv_cache: tuple[torch.Tensor, torch.Tensor], fused: ModuleType | None = None, out: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """The attention of project's rows over the cache -> [T, H * hd], written into out [T, H, hd] when given
        (a graph's static buffer). Only the decode rows and the prefill spans' rows are written."""
        k_cache, v_cache = kv_cache
        nd = meta.num_decodes
        if out is None and not meta.prefills and nd == q.shape[0]:
            # decode-only: no copy to out (on CUDA it was a memcpy node a layer in the step's graph: ~1.2 us each, and
            # a break in the PDL chain between the attention and o_proj)
            return self._decode(q, k_cache, v_cache, meta, fused).reshape(nd, -1)
        out = torch.empty_like(q) if out is None else out  # [T, H, hd]
        if nd:
            out[:nd] = self._decode(q[:nd], k_cache, v_cache, meta, fused)
        for span in meta.prefills:
            rows = slice(span.start, span.start + span.num_tokens)
            out[rows] = self._prefill(q[rows], k[rows], v[rows], k_cache, v_cache, span)
        return out.view(q.shape[0], -1)

    def _decode(self, q, k_cache, v_cache, meta: AttentionMeta, fused=None) -> torch.Tensor:
        if fused is not None:  # reads the cached rows in place instead of gathering each context (below)
            bt, lens = meta.decode_block_tables, meta.decode_context_lens
            return fused.paged_decode_attention(q, k_cache, v_cache, bt, lens, self.scale)
        if not q.is_cuda:
            return self._decode_cpu(q, k_cache, v_cache, meta)
        # q [B, H, hd] -> [B, Hkv, G, hd]: each KV head serves G query heads, so K/V are never repeated.
        b = q.shape[0]
        bt = meta.decode_block_tables
        k = k_cache[bt].flatten(1, 2).transpose(1, 2)  # [B, nb, bs, Hkv, hd] -> [B, Hkv, C, hd]
        v = v_cache[bt].flatten(1, 2).transpose(1, 2)
        visible = torch.arange(k.shape[2], device=q.device)[None, :] < meta.decode_context_lens[:, None]  # [B, C]
        q = q.view(b, self.num_kv_heads, -1, self.head_dim)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=visible[:, None, None, :], scale=self.scale)
        return o.reshape(b, self.num_heads, self.head_dim)

    def _decode_cpu(self, q, k_cache, v_cache, meta: AttentionMeta) -> torch.Tensor:
        """_decode's torch form on the CPU: q [B, H, hd] over the rows of the step's DecodeGather (meta.cpu_gather,
        else built here) -> [B, H, hd]."""
        b, hkv, hd = q.shape[0], self.num_kv_heads, self.head_dim
        # q [B, H, hd] -> [B, Hkv, G, hd]: each KV head serves G query heads, so K/V are never repeated.
        gather = meta.cpu_gather or decode_gather(meta, k_cache.shape[1], q.dtype)
        k, v = gather.keys_values(k_cache, b), gather.keys_values(v_cache, b)  # [B, Hkv, C, hd]
        q = q.view(b, hkv, -1, hd)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=gather.mask, scale=self.scale)
        return o.reshape(b, self.num_heads, hd)

    def _prefill(self, q, k_new, v_new, k_cache, v_cache, span: PrefillSpan) -> torch.Tensor:
        """Attention of a chunk's n queries [n, H, hd] over its context, as one batch of 4-D SDPA (3-D inputs fall
        back to the math kernel on CUDA: H200, 3.4 ms against 0.08 ms per layer for 2,048 tokens).

        Backends: PREFILL_SDPA_BACKENDS (set once per forward by Transformer.forward), without cuDNN's, which
        builds a plan for every new shape (40-200 ms each on the H200, up to 1.5 s; a prefill meets a new (chunk,
        context) shape with almost every prompt) where flash starts in ~0.1 ms (benchmarks/sdpa_backends.py,
        NOTES.md eighth session). A chunk after cached rows attends causally aligned to the context's end: on CUDA
        torch's lower-right CausalBias, which flash takes with enable_gqa (a dense mask would leave efficient
        attention, and it only with K/V heads repeated)."""
        n, ctx = span.num_tokens, span.context_len
        if ctx == n:  # the whole context is this chunk: plain causal attention
            k, v, mask = k_new, v_new, None
        else:  # a later chunk (or one after a cached prefix): the cached rows, query i sees rows <= ctx - n + i
            k = k_cache[span.block_table].flatten(0, 1)[:ctx]  # [ctx, Hkv, hd]
            v = v_cache[span.block_table].flatten(0, 1)[:ctx]
            if q.is_cuda:
                mask = causal_lower_right(n, ctx)
            else:  # a dense mask: CausalBias's CPU dispatch takes the flash op, which does not group K/V heads
                query_pos = torch.arange(ctx - n, ctx, device=q.device)
                mask = (torch.arange(ctx, device=q.device)[None, :] <= query_pos[:, None])[None, None]  # [1, 1, n, ctx]
        q4, k4, v4 = (t.transpose(0, 1)[None] for t in (q, k, v))  # [1, heads, rows, hd]
        o = F.scaled_dot_product_attention(q4, k4, v4, attn_mask=mask, is_causal=mask is None, scale=self.scale,
                                           enable_gqa=True)  # fmt: skip
        return o[0].transpose(0, 1)


class MLP(nn.Module):
    """proj holds gate_proj, up_proj, down_proj, or gate_up_proj (fused: one op call, output halved) and down_proj."""

    def __init__(self, proj: dict[str, LutProjection]) -> None:
        super().__init__()
        self.gate_up_proj = proj.get("gate_up_proj")
        if self.gate_up_proj is None:
            self.gate_proj, self.up_proj = proj["gate_proj"], proj["up_proj"]
        self.down_proj = proj["down_proj"]

    def forward(self, x: torch.Tensor, slots: torch.Tensor, fused=None,
                digits: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:  # fmt: skip
        """digits: x's int8 digits for gate_up_proj (LutProjection.int8_digits_for), or None."""
        if self.gate_up_proj is not None:
            gate_up = self.gate_up_proj(x, slots, digits)  # [T, 2F]
            if fused is not None:  # (the int8 mode: SiLU writes its output's digits where down_proj takes them)
                act = torch.empty(gate_up.shape[0], gate_up.shape[1] // 2, dtype=gate_up.dtype, device=gate_up.device)
                act_digits = self.down_proj.int8_digits_for(act, "silu")
                return self.down_proj(fused.silu_mul(gate_up, act, act_digits), slots, act_digits)
            gate, up = gate_up.chunk(2, dim=-1)
        else:
            gate, up = self.gate_proj(x, slots), self.up_proj(x, slots)
        return self.down_proj(F.silu(gate) * up, slots)


class Block(nn.Module):
    """A decoder layer in two halves, attention_inputs and after_attention, with Attention.attend between them (as
    Transformer.forward and the prefill graphs' pieces run it)."""

    def __init__(self, cfg: ModelConfig, attention: Attention, mlp: MLP, norms: tuple[torch.Tensor, torch.Tensor]):
        super().__init__()
        self.input_layernorm = RMSNorm(norms[0], cfg.rms_norm_eps)
        self.self_attn = attention
        self.post_attention_layernorm = RMSNorm(norms[1], cfg.rms_norm_eps)
        self.mlp = mlp

    def attention_inputs(
        self, h: torch.Tensor, pending: torch.Tensor | None, slots: torch.Tensor, cos: torch.Tensor,
        sin: torch.Tensor, slot_mapping: torch.Tensor, kv_cache: tuple[torch.Tensor, torch.Tensor],
        fused: ModuleType | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """The block up to attention: RMSNorm, then q, k, v (Attention.project; k and v cached) -> (h, q, k, v).
        pending: the previous block's MLP output not yet added to h (after_attention, fused path): the residual
        add and this norm run as one kernel, and the h returned includes it."""
        norm1, qkv = self.input_layernorm, self.self_attn.qkv_proj
        # the int8 activation mode: the fused norm writes its output's digits for qkv_proj where that takes them
        digits = qkv.int8_digits_for(h) if fused is not None and qkv is not None else None
        if pending is not None:
            h, x = fused.add_rms_norm(h, pending, norm1.weight, norm1.eps, digits)
        else:
            x = norm1(h) if fused is None else fused.rms_norm(h, norm1.weight, norm1.eps, digits)
        return h, *self.self_attn.project(x, slots, cos, sin, slot_mapping, kv_cache, fused, digits)

    def after_attention(
        self, h: torch.Tensor, attention: torch.Tensor, slots: torch.Tensor, fused: ModuleType | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The block after attention: attention [T, H * hd] (Attention.attend) -> o_proj, residual, MLP ->
        (h, pending). The torch forms add the MLP's output (pending None); the fused path leaves it pending for the
        next norm (attention_inputs, Transformer.logits), one kernel a layer fewer."""
        o = self.self_attn.o_proj(attention, slots)
        if fused is None:
            h = h + o
            return h + self.mlp(self.post_attention_layernorm(h), slots), None
        norm2, gate_up = self.post_attention_layernorm, self.mlp.gate_up_proj
        digits = gate_up.int8_digits_for(h) if gate_up is not None else None  # (as attention_inputs' for qkv_proj)
        h, normed = fused.add_rms_norm(h, o, norm2.weight, norm2.eps, digits)  # the residual add and the next norm
        return h, self.mlp(normed, slots, fused, digits)


class Transformer(nn.Module):
    """The decoder. Dense tensors are copied to `dtype` on `device`; the LUTs stay in the pool's tensors.

    dense_cache (CPU only) replaces the reference op by cached dense weights; outputs are the same.
    """

    def __init__(
        self,
        base: SketchedBase,
        lut_pools: dict[str, torch.Tensor],
        max_len: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        dense_cache: DenseWeightCache | None = None,
        fused_luts: dict[str, FusedLuts] | None = None,
    ) -> None:
        super().__init__()
        cfg = self.config = ModelConfig.from_hf(base.config)
        fused_luts = fused_luts or {}
        self.dense_cache = dense_cache
        self.kernel_hints = KernelHints()  # set by the runner before each forward
        self.int8_activations = False  # enable_int8_activations

        def dense(name: str) -> torch.Tensor:
            if name not in base.dense:
                raise ValueError(f"the sketched base lacks the dense tensor {name!r}")
            return base.dense[name].to(device=device, dtype=dtype)

        def projection(name: str) -> LutProjection:
            bias = base.dense.get(f"{name}.bias")
            bias = None if bias is None else bias.to(device=device, dtype=dtype)
            k = base.layer_shapes[name][1]
            return LutProjection(base.codes[name].to(device), lut_pools[name], base.bits, k, bias, dense_cache,
                                 self.kernel_hints)

        def fused_projection(group: FusedLuts) -> LutProjection:
            """One projection over the group's members stacked along N: codes and biases concatenated."""
            biases = [base.dense.get(f"{m}.bias") for m in group.members]
            bias = None if biases[0] is None else torch.cat(biases).to(device=device, dtype=dtype)
            codes = torch.cat([base.codes[m] for m in group.members]).to(device)
            k = base.layer_shapes[group.members[0]][1]
            return LutProjection(codes, group.lut_pool, base.bits, k, bias, dense_cache, self.kernel_hints)

        def projections(prefix: str, fused_name: str, names: tuple[str, ...]) -> dict[str, LutProjection]:
            group = fused_luts.get(f"{prefix}.{fused_name}")
            if group is None:
                return {n: projection(f"{prefix}.{n}") for n in names}
            members = {m.rsplit(".", 1)[1] for m in group.members}
            return {fused_name: fused_projection(group)} | {
                n: projection(f"{prefix}.{n}") for n in names if n not in members}

        self.embed_tokens = nn.Parameter(dense("model.embed_tokens.weight"), requires_grad=False)
        blocks = []
        for i in range(cfg.num_layers):
            p = f"model.layers.{i}"
            attn = Attention(cfg, projections(f"{p}.self_attn", "qkv_proj", ATTENTION_PROJECTIONS))
            mlp = MLP(projections(f"{p}.mlp", "gate_up_proj", MLP_PROJECTIONS))
            norms = (dense(f"{p}.input_layernorm.weight"), dense(f"{p}.post_attention_layernorm.weight"))
            blocks.append(Block(cfg, attn, mlp, norms))
        self.layers = nn.ModuleList(blocks)
        self.norm = RMSNorm(dense("model.norm.weight"), cfg.rms_norm_eps)
        tied = cfg.tie_word_embeddings or "lm_head.weight" not in base.dense
        self.lm_head = self.embed_tokens if tied else nn.Parameter(dense("lm_head.weight"), requires_grad=False)
        # CPU with a lower-precision weight cache: the lm_head (the largest single matmul of a decode step, 113 MB
        # in float32 for the default model) in that dtype too (int8: the same per-row quantization).
        head_dtype = dense_cache.weight_dtype if dense_cache is not None else None
        self.lm_head_lowp: CpuWeight | None = None
        if head_dtype not in (None, dtype):
            self.lm_head_lowp = cpu_weight(self.lm_head.detach().float(), head_dtype)
        cos, sin = rope_tables(cfg, max_len)
        # [max_len, hd] in the activations' dtype: rounded once here, not per step (the same values either way)
        self.register_buffer("rope_cos", cos.to(device=device, dtype=dtype), persistent=False)
        self.register_buffer("rope_sin", sin.to(device=device, dtype=dtype), persistent=False)

    def enable_int8_activations(self) -> int:
        """The int8 activation mode (EngineConfig.int8_activations; the server's default where it runs): every
        projection keeps the base LUT's tables (pool slot 0 always holds the base; kernels/triton_bucket_int8.py
        base_tables) for the CUDA op, which then runs decode batches of 9-16 rows over many tasks with x's high int8
        digit through each token's LUT and the remainder through the base's (kernels/triton_ops.py). Returns the
        tables' bytes. Call before CUDA graphs are captured: the choice is baked into them."""
        from kernels.triton_bucket_int8 import base_tables

        size = 0
        for module in self.modules():
            if isinstance(module, LutProjection):
                module.int8_base = base_tables(module.lut_pool[0])
                size += sum(t.numel() * t.element_size() for t in module.int8_base)
        self.int8_activations = True
        return size

    def int8_key(self, rows: int | None = None) -> bool:
        """What a CUDA graph key records of the int8 activation mode: whether this forward's op calls may take the
        int8 kernel (the tables are set, kernel_hints.int8 allows it, and, for op calls of `rows` rows, rows in the
        kernel's 9-16; None: rows not known). A graph captured with it never replays a step without."""
        if not self.int8_activations or not self.kernel_hints.int8:
            return False
        if rows is None:
            return True
        from kernels.triton_bucket_int8 import INT8_MAX_M, INT8_MIN_M

        return INT8_MIN_M <= rows <= INT8_MAX_M

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        slot_of_token: torch.Tensor,
        meta: AttentionMeta,
        kv_caches: list[tuple[torch.Tensor, torch.Tensor]],
        logits_indices: torch.Tensor,
    ) -> torch.Tensor:
        """input_ids/positions/slot_of_token [T], logits_indices [R] -> logits [R, V] float32."""
        if self.dense_cache is not None:
            self.dense_cache.begin_step()
        h, cos, sin = self.embed(input_ids, positions)
        fused = fused_ops_for(h)  # one choice per forward: every activation shares h's device and dtype
        pending = None  # the last MLP output not yet added to h (Block.after_attention)
        # PDL (kernels/triton_common.py pdl_scope): slot_of_token is the step's input, written before the embedding
        # (which launches without PDL) and by no kernel after it. SDPA backends: once per step (Attention._prefill).
        if fused is None and not h.is_cuda and meta.num_decodes:
            meta.cpu_gather = decode_gather(meta, kv_caches[0][0].shape[1], h.dtype)  # this step's, for every layer
        try:
            with sdpa_kernel(PREFILL_SDPA_BACKENDS), pdl_scope():
                for layer, kv_cache in zip(self.layers, kv_caches, strict=True):
                    h, q, k, v = layer.attention_inputs(h, pending, slot_of_token, cos, sin, meta.slot_mapping,
                                                        kv_cache, fused)  # fmt: skip
                    attention = layer.self_attn.attend(q, k, v, meta, kv_cache, fused)
                    h, pending = layer.after_attention(h, attention, slot_of_token, fused)
                return self.logits(h, logits_indices, fused, pending)
        finally:
            meta.cpu_gather = None  # a multi-step decode advances meta's tensors in place: never reuse a plan

    def embed(self, input_ids: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """input_ids, positions [T] -> h [T, D], and the rows' RoPE cos, sin [T, hd] in h's dtype."""
        h = F.embedding(input_ids, self.embed_tokens)
        return h, self.rope_cos[positions], self.rope_sin[positions]

    def logits(
        self, h: torch.Tensor, logits_indices: torch.Tensor, fused: ModuleType | None = None,
        pending: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """The last layer's h [T, D] (+ pending, its MLP output not yet added) -> logits [R, V] float32 of the rows
        logits_indices [R]."""
        h = h[logits_indices]
        if pending is not None:
            h = fused.add_rms_norm(h, pending[logits_indices], self.norm.weight, self.norm.eps)[1]
        else:
            h = self.norm(h) if fused is None else fused.rms_norm(h, self.norm.weight, self.norm.eps)
        if self.lm_head_lowp is not None:
            return cpu_matmul(h, self.lm_head_lowp).float()
        return F.linear(h, self.lm_head).float()
