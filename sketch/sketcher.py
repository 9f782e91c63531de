"""Sketching (SketchTune, Algorithm 1): codes + a base LUT for every projection, block after block.

One weight W [N, K] with calibration inputs X [K, n] (n tokens):

    H    = 2 X X^T / n                          [K, K]   (+ damp * mean(diag H) * I; dead columns -> 1)
    U    = upper Cholesky factor of H^-1        [K, K]   H^-1 = U^T U
    for each row-group g = columns [s, e) (gpr groups of ceil(K / gpr) columns):
        importance[c] = (1 / D[c]) ** emphasis,  D[c] = sum_{s <= i <= c} U[i, c]^2
                        (D = diag of the inverse Hessian of the sub-problem still open at s)
        lut[:, g]     = weighted Lloyd k-means (2**bits centroids per row) of the current W[:, s:e],
                        which already carries the compensation of the groups before it
        for c in s .. e-1 (by decreasing H[c, c] inside the group; lazy batch updates of 32 columns):
            codes[:, c] = nearest centroid of W[:, c]
            err         = (W[:, c] - lut[codes]) / U[c, c]
            W[:, c+1:] -= err * U[c, c+1:]         (optimal error compensation, as in GPTQ)
    lut = a few CG steps on  min_lut tr((W - W_hat) H (W - W_hat)^T)  with the codes fixed (refine_iters)

q/k/v share H (they read the same input), and so do gate/up: each pair or triple is one call with rows
stacked. The naive baseline is the k-means of the original W with uniform weights, no H, no compensation.

Model driver: a catcher on block 0 records its inputs exactly as the model passes them; then per block,
hooks accumulate H for the 4 distinct projection inputs, the 7 projections are sketched, their weights
replaced by the dequantized sketch, and the sketched block produces the next block's inputs.
Embeddings, norms and lm_head are never touched. LUTs are stored (and compensated for) in float16.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch
from torch import nn
from tqdm import tqdm

from kernels.packing import SUPPORTED_BITS, group_size, pack_codes
from sketch.format import SKETCHED_PROJECTIONS, SketchedBase
from sketch.kmeans import nearest_centroid, weighted_kmeans

LUT_DTYPE = torch.float16
# Projections sketched together because they read the same input (hence one Hessian).
PROJECTION_GROUPS = (
    ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    ("self_attn.o_proj",),
    ("mlp.gate_proj", "mlp.up_proj"),
    ("mlp.down_proj",),
)
SUPPORTED_GPR = (1, 2, 4, 8)
METHODS = ("sketchtune", "naive")


@dataclass(frozen=True)
class SketchOptions:
    """Algorithm settings; all of them are recorded in the sketched base's sketch_config."""

    bits: int = 4
    gpr: int = 4
    method: str = "sketchtune"  # or "naive": unweighted k-means of the original weights
    emphasis: float = 1.0  # importance = (1 / inverse-Hessian diagonal) ** emphasis
    damp: float = 0.01  # added to diag(H), as a fraction of its mean
    block_size: int = 32  # columns per lazy batch update (same result for any size; 32 is fastest on CPUs)
    kmeans_iters: int = 30
    act_order: bool = True  # sweep each group's columns by decreasing diag(H)
    refine_iters: int = 3  # CG steps of the least-squares LUT refit for the final codes (0: off)

    def __post_init__(self) -> None:
        if self.bits not in SUPPORTED_BITS:
            raise ValueError(f"bits must be one of {SUPPORTED_BITS}, got {self.bits}")
        if self.gpr not in SUPPORTED_GPR:
            raise ValueError(f"gpr must be one of {SUPPORTED_GPR}, got {self.gpr}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")


# ---------------------------------------------------------------------------------------- one weight


def damped_hessian_factor(hessian: torch.Tensor, damp: float) -> tuple[torch.Tensor, torch.Tensor]:
    """H [K, K] -> (H + damping, U): U [K, K] float32 is the upper Cholesky factor of (H + damping)^-1.

    Columns never activated (diag 0) get a unit diagonal; Cholesky failures raise the damping 10x.
    """
    h = hessian.double().clone()
    dead = torch.diagonal(h) == 0
    h[dead, dead] = 1.0
    mean_diag = torch.diagonal(h).mean()
    for attempt in range(6):
        damped = h + torch.eye(h.shape[0], dtype=h.dtype, device=h.device) * (damp * 10**attempt * mean_diag)
        chol, info = torch.linalg.cholesky_ex(damped)
        if info == 0:
            hinv = torch.cholesky_inverse(chol)
            u, info = torch.linalg.cholesky_ex(hinv, upper=True)
            if info == 0:
                return damped.float(), u.float()
    raise RuntimeError("Hessian is not positive definite even with 1e5x damping")


def _round_lut(lut: torch.Tensor) -> torch.Tensor:
    """The values the stored (float16) LUT will hold, back in float32, sorted per row."""
    return lut.to(LUT_DTYPE).float().sort(dim=-1).values


def sketch_weight(
    weight: torch.Tensor, hessian: torch.Tensor, options: SketchOptions
) -> tuple[torch.Tensor, torch.Tensor]:
    """W [N, K], H [K, K] -> (codes int64 [N, K], lut float32 [N, gpr, 2**bits], float16-exact values)."""
    n, k = weight.shape
    levels = 2**options.bits
    gs = group_size(k, options.gpr)
    hessian = hessian.to(weight.device)
    perm = _act_order(hessian, gs) if options.act_order else torch.arange(k, device=weight.device)
    h, u = damped_hessian_factor(hessian[perm][:, perm], options.damp)
    # Work on W^T [K, N]: a column of W is a contiguous row here, and compensation is a rank-1 update.
    wt = weight.detach().float()[:, perm].t().contiguous()
    codes_t = torch.zeros(k, n, dtype=torch.int64, device=wt.device)
    lut = torch.zeros(n, options.gpr, levels, device=wt.device)
    for g in range(options.gpr):
        s, e = g * gs, min(k, (g + 1) * gs)
        if s >= e:  # K not divisible: trailing groups may be empty, their LUT is never read
            continue
        importance = (u[s:e, s:e] ** 2).sum(0).pow(-options.emphasis)  # [e - s]
        centroids = _round_lut(weighted_kmeans(wt[s:e].t(), importance, levels, options.kmeans_iters))
        lut[:, g] = centroids
        mid = (centroids[:, 1:] + centroids[:, :-1]) * 0.5  # [N, L-1]
        for b0 in range(s, e, options.block_size):
            b1 = min(b0 + options.block_size, e)
            block = wt[b0:b1].clone()  # [B, N]
            errors = torch.zeros_like(block)
            ub = u[b0:b1, b0:b1]
            for j in range(b1 - b0):
                col = block[j]  # [N]
                idx = (col[:, None] > mid).sum(1)  # nearest centroid, [N]
                err = (col - centroids.gather(1, idx[:, None])[:, 0]) / ub[j, j]
                block[j + 1 :].sub_(torch.outer(ub[j, j + 1 :], err))
                errors[j] = err
                codes_t[b0 + j] = idx
            wt[b1:].sub_(u[b0:b1, b1:].t() @ errors)  # lazy update of every column after the block
    inverse = torch.argsort(perm)
    codes = codes_t.t()[:, inverse].contiguous()
    h = h[inverse][:, inverse]
    if options.refine_iters:
        lut = refine_lut(weight.detach().float(), codes, lut, h, options.refine_iters)
    return codes, lut


def refine_lut(
    weight: torch.Tensor, codes: torch.Tensor, lut: torch.Tensor, hessian: torch.Tensor, iters: int
) -> torch.Tensor:
    """The LUT minimising tr((W - W_hat) H (W - W_hat)^T) for fixed codes: preconditioned CG per row.

    Per row r, W_hat[r] = A_r l_r with A_r [K, gpr*L] one-hot (bucket of column c = its group and code);
    the normal equations A_r^T H A_r l_r = A_r^T H w_r are solved by `iters` Jacobi-preconditioned CG
    steps from the k-means LUT, all rows at once (one [N, K] x [K, K] product per step).
    """
    n, k = weight.shape
    gpr, levels = lut.shape[1:]
    groups = torch.arange(k, device=codes.device) // group_size(k, gpr)
    bucket = groups[None, :] * levels + codes  # [N, K] index into the flattened row LUT

    def a_t(x: torch.Tensor) -> torch.Tensor:  # [N, K] -> [N, gpr*L]
        return torch.zeros(n, gpr * levels, device=x.device).scatter_add_(1, bucket, x)

    flat = lut.reshape(n, -1).clone()
    precond = a_t(torch.diagonal(hessian)[None, :].expand(n, k).contiguous())
    precond = torch.where(precond > 0, precond, torch.ones_like(precond))
    resid = a_t((weight - flat.gather(1, bucket)) @ hessian)  # -gradient / 2
    z = resid / precond
    direction = z
    rz = (resid * z).sum(1, keepdim=True)
    for _ in range(iters):
        hd = a_t(direction.gather(1, bucket) @ hessian)  # A^T H A p
        alpha = rz / (direction * hd).sum(1, keepdim=True).clamp_min(1e-30)
        flat += alpha * direction
        resid -= alpha * hd
        z = resid / precond
        rz_new = (resid * z).sum(1, keepdim=True)
        direction = z + (rz_new / rz.clamp_min(1e-30)) * direction
        rz = rz_new
    return flat.to(LUT_DTYPE).float().view(n, gpr, levels)
    return codes, lut


def _act_order(hessian: torch.Tensor, gs: int) -> torch.Tensor:
    """[K] column order: inside each row-group, by decreasing diag(H) (GPTQ's act-order, groups kept)."""
    diag = torch.diagonal(hessian)
    starts = range(0, diag.shape[0], gs)
    return torch.cat([s + torch.argsort(diag[s : s + gs], descending=True, stable=True) for s in starts])


def naive_sketch_weight(weight: torch.Tensor, options: SketchOptions) -> tuple[torch.Tensor, torch.Tensor]:
    """The baseline: plain k-means per row-group of the original W, no Hessian, no compensation."""
    n, k = weight.shape
    levels = 2**options.bits
    gs = group_size(k, options.gpr)
    w = weight.detach().float()
    codes = torch.zeros(n, k, dtype=torch.int64, device=w.device)
    lut = torch.zeros(n, options.gpr, levels, device=w.device)
    for g in range(options.gpr):
        s, e = g * gs, min(k, (g + 1) * gs)
        if s >= e:
            continue
        centroids = _round_lut(weighted_kmeans(w[:, s:e], None, levels, options.kmeans_iters))
        lut[:, g] = centroids
        codes[:, s:e] = nearest_centroid(w[:, s:e], centroids)
    return codes, lut


def dequantize_codes(codes: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """codes int64 [N, K], lut [N, gpr, L] -> W_hat [N, K] (unpacked twin of kernels.dequantize)."""
    n, k = codes.shape
    gpr, levels = lut.shape[1:]
    groups = torch.arange(k, device=codes.device) // group_size(k, gpr)
    return lut.reshape(n, -1).gather(1, groups[None, :] * levels + codes)


def relative_output_error(weight: torch.Tensor, w_hat: torch.Tensor, hessian: torch.Tensor) -> float:
    """tr(E H E^T) / tr(W H W^T), E = W - W_hat: the relative squared error of the layer's outputs."""
    w = weight.float()
    e = w - w_hat.float()
    h = hessian.float()
    return float(((e @ h) * e).sum() / ((w @ h) * w).sum().clamp_min(1e-30))


# ---------------------------------------------------------------------------------------- the model


class _StopForward(Exception):
    """Raised by the catcher once block 0's inputs are recorded: the rest of the model is not needed."""


def _move(obj, device: torch.device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, tuple | list):
        return type(obj)(_move(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _move(v, device) for k, v in obj.items()}
    return obj


@torch.no_grad()
def capture_block_inputs(
    model: nn.Module, calibration: torch.Tensor, batch_size: int
) -> list[tuple[torch.Tensor, tuple, dict]]:
    """Per calibration batch, (hidden_states [b, S, D], other args, kwargs) exactly as block 0 receives them."""
    layers = model.model.layers
    records: list[tuple[torch.Tensor, tuple, dict]] = []
    embed_device = model.get_input_embeddings().weight.device

    def catcher(_module, args, kwargs):
        if args:
            hidden, rest = args[0], tuple(args[1:])
        else:
            kwargs = dict(kwargs)
            hidden, rest = kwargs.pop("hidden_states"), ()
        records.append((hidden, rest, dict(kwargs)))
        raise _StopForward

    handle = layers[0].register_forward_pre_hook(catcher, with_kwargs=True)
    try:
        for batch in calibration.split(batch_size):
            try:
                model(input_ids=batch.to(embed_device), use_cache=False)
            except _StopForward:
                pass
    finally:
        handle.remove()
    return records


def _run_block(block: nn.Module, hidden: torch.Tensor, rest: tuple, kwargs: dict) -> torch.Tensor:
    out = block(hidden, *rest, **kwargs)
    return out[0] if isinstance(out, tuple) else out


class _HessianAccumulator:
    """Forward hook: H += x^T x over every token that reaches the hooked module (x [*, K])."""

    def __init__(self, k: int, device: torch.device) -> None:
        self.sum = torch.zeros(k, k, dtype=torch.float32, device=device)
        self.tokens = 0

    def __call__(self, _module, args, _output) -> None:
        x = args[0].detach().reshape(-1, args[0].shape[-1]).float()  # [tokens, K]
        self.sum.addmm_(x.T, x)
        self.tokens += x.shape[0]

    def hessian(self) -> torch.Tensor:
        return self.sum * (2.0 / max(self.tokens, 1))


def _sketch_group(
    block: nn.Module, names: Iterable[str], hessian: torch.Tensor | None, options: SketchOptions
) -> dict[str, tuple[torch.Tensor, torch.Tensor, float]]:
    """Sketch projections sharing one input; replace their weights by the sketch. name -> (codes, lut, err)."""
    modules = [block.get_submodule(name) for name in names]
    stacked = torch.cat([m.weight.detach().float() for m in modules], dim=0)  # [sum N, K]
    if options.method == "naive":
        codes, lut = naive_sketch_weight(stacked, options)
    else:
        codes, lut = sketch_weight(stacked, hessian, options)
    w_hat = dequantize_codes(codes, lut)
    out, r0 = {}, 0
    for name, module in zip(names, modules, strict=True):
        r1 = r0 + module.weight.shape[0]
        err = relative_output_error(stacked[r0:r1], w_hat[r0:r1], hessian) if hessian is not None else float("nan")
        out[name] = (codes[r0:r1], lut[r0:r1], err)
        module.weight.data.copy_(w_hat[r0:r1].to(module.weight.dtype))
        r0 = r1
    return out


@torch.no_grad()
def sketch_model(
    model: nn.Module,
    calibration: torch.Tensor | None,
    options: SketchOptions,
    device: torch.device | str | None = None,
    batch_size: int = 8,
    dense_dtype: torch.dtype = torch.float16,
    source_model: str = "",
    calibration_info: dict | None = None,
    progress: bool = True,
) -> SketchedBase:
    """Sketch every block of a Llama-family causal LM; returns the SketchedBase (codes packed, LUT fp16).

    calibration: LongTensor [n, S] of token ids (None only for method "naive"). The model is modified in
    place: each projection's weight becomes its dequantized sketch, block by block; the model itself stays
    on its device while each block is moved to `device` (default: CUDA when available) to be sketched.
    """
    from sketch.models import clean_config_dict

    t0 = time.perf_counter()
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    naive = options.method == "naive"
    if calibration is None and not naive:
        raise ValueError("sketching needs calibration token ids (only the naive baseline does without)")
    layers = model.model.layers
    records = [] if naive else [_move(r, device) for r in capture_block_inputs(model, calibration, batch_size)]
    codes: dict[str, torch.Tensor] = {}
    luts: dict[str, torch.Tensor] = {}
    shapes: dict[str, tuple[int, int]] = {}
    errors: dict[str, float] = {}
    bar = tqdm(range(len(layers)), desc=f"sketch {options.method} {options.bits}b gpr{options.gpr}",
               unit="block", disable=not progress)
    for i in bar:
        block = layers[i]
        home = next(block.parameters()).device
        block.to(device)
        hessians = _block_hessians(block, records) if not naive else {}
        for names in PROJECTION_GROUPS:
            for name, (c, lut, err) in _sketch_group(block, names, hessians.get(names[0]), options).items():
                full = f"model.layers.{i}.{name}"
                codes[full] = pack_codes(c, options.bits).cpu()
                luts[full] = lut.to(LUT_DTYPE).cpu()
                shapes[full] = tuple(block.get_submodule(name).weight.shape)
                errors[full] = err
        if not naive:  # the sketched block makes the next block's inputs
            records = [(_run_block(block, h, rest, kw), rest, kw) for h, rest, kw in records]
            bar.set_postfix(err=f"{sum(errors[f'model.layers.{i}.{n}'] for n in SKETCHED_PROJECTIONS) / 7:.4f}")
        block.to(home)
    seconds = time.perf_counter() - t0
    finite = [e for e in errors.values() if e == e]
    sketch_config = {
        **asdict(options),
        "lut_dtype": str(LUT_DTYPE).removeprefix("torch."),
        "dense_dtype": str(dense_dtype).removeprefix("torch."),
        "calibration": calibration_info or ({"source": "none"} if naive else {"source": "tokens"}),
        "seconds": round(seconds, 1),
        "mean_relative_output_error": (sum(finite) / len(finite)) if finite else None,
        "versions": {"torch": torch.__version__, "transformers": _transformers_version()},
    }
    return SketchedBase(
        config=clean_config_dict(model.config),
        bits=options.bits,
        gpr=options.gpr,
        codes=codes,
        luts=luts,
        layer_shapes=shapes,
        dense=_dense_tensors(model, codes, dense_dtype),
        source_model=source_model,
        sketch_config=sketch_config,
    )


def _block_hessians(block: nn.Module, records: list) -> dict[str, torch.Tensor]:
    """First projection of each PROJECTION_GROUPS entry -> H of its input, over all calibration tokens."""
    accumulators, handles = {}, []
    for names in PROJECTION_GROUPS:
        module = block.get_submodule(names[0])
        acc = _HessianAccumulator(module.weight.shape[1], module.weight.device)
        accumulators[names[0]] = acc
        handles.append(module.register_forward_hook(acc))
    try:
        for hidden, rest, kwargs in records:
            _run_block(block, hidden, rest, kwargs)
    finally:
        for h in handles:
            h.remove()
    return {name: acc.hessian() for name, acc in accumulators.items()}


def _dense_tensors(model: nn.Module, codes: dict, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Every tensor of the state dict but the sketched weights (lm_head dropped when tied)."""
    sketched = {f"{name}.weight" for name in codes}
    tied = getattr(model.config, "tie_word_embeddings", False)
    dense = {}
    for key, t in model.state_dict().items():
        if key in sketched or (tied and key == "lm_head.weight"):
            continue
        dense[key] = t.detach().to("cpu", dtype=dtype if t.is_floating_point() else t.dtype).contiguous()
    return dense


def _transformers_version() -> str:
    import transformers

    return transformers.__version__
