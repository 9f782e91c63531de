"""Split-K partials summed on chip: the split's programs as one thread-block cluster, each pushing its partials into
the shared memory of the CTA that owns their rows (Hopper's st.async, counted on the owner's mbarrier).

The global split-K epilogue (triton_common.store_split_k) stores each partial, fences, arrives on a counter, and
the last program loads every partial back: three L2 round trips, ~1.8 us of the fragment kernel's ~9.5 at 4 tokens
on the H100. Timed bare (benchmarks/cluster_sum_timing.py, sixty-fourth session), the push cost half as much at the
fragment kernel's split of 8 (+0.90 against +1.79 us at 4 tokens, +0.98 against +2.51 at 8); a cluster barrier
between stores and peer loads did not (ptxas lowers its release to the same gpu-scope fence). This module's form
cost less still bare (+0.36 against +1.82 us at split 8, 4 tokens; sixty-fifth session), but in the fragment kernel
it is correct and slower (9.95 -> 12.70 us on the shipped 4-token 4096x4096 choice): the clusters slow the whole
kernel, the likely cause being fewer programs resident at once (benchmarks/NOTES.md), so no tuned choice uses it.

Plain Triton can neither allocate shared memory for inline asm nor launch a cluster, so:
- the push buffer and the mbarrier are declared inside the asm (`.shared` in the asm's own block: static shared
  memory, one buffer as long as the asm is one instance a thread; push_setup returns their addresses);
- the kernel is compiled as one CTA and launched as clusters through its compiled metadata (as_cluster): program
  `cluster x SPLIT + rank` is CTA `rank` of its cluster.

    setup (kernel start): thread 0 inits the mbarrier with one arrival and the bytes every peer will push, then
        fence.mbarrier_init + a relaxed cluster arrive; the cluster wait that pairs with it comes just before the
        first push (push_cluster_wait: no peer pushes into an uninitialised mbarrier, and no CTA waits for its
        peers' start before its loads; the prologue split of CUTLASS's cluster pipelines)
    push: per 4 fp32, mapa(buffer + offset, owner), mapa(mbarrier, owner), st.async.v4 ... complete_tx
    wait: mbarrier.try_wait.parity (phase 0) in a loop; then the owner reads its buffer (ld.shared) and sums

No CTA reads another's memory, and a CTA exits only after every byte meant for it has come, so no barrier is
needed at the end (nor any gpu-scope fence anywhere).
"""

from __future__ import annotations

import triton
import triton.language as tl

from kernels.compile_ahead import compiling_only


def send_asm(vec: int) -> tuple[str, str]:
    """(asm, constraints) pushing vec fp32 ($1 .. $vec) into the owner's buffer at buffer + byte offset (the next
    two operands), CTA owner, counted on its mbarrier (the last two); $0 is a token (0) for ordering."""
    vals = ", ".join(f"${1 + j}" for j in range(vec))
    b, off, owner, bar = (f"${1 + vec + i}" for i in range(4))
    kind = f".v{vec}.b32 [ra], {{{vals}}}" if vec > 1 else f".b32 [ra], {vals}"
    asm = (f"{{ .reg .b32 ra, rb; add.u32 ra, {b}, {off}; mapa.shared::cluster.u32 ra, ra, {owner}; "
           f"mapa.shared::cluster.u32 rb, {bar}, {owner}; "
           f"st.async.shared::cluster.mbarrier::complete_tx::bytes{kind}, [rb]; mov.u32 $0, 0; }}")  # fmt: skip
    return asm, "=r," + "f," * vec + "r,r,r,r"


PUSH4, PUSH4_CONSTR = (tl.constexpr(part) for part in send_asm(4))  # the fragment kernel's: a lane's 4 accumulators

# this CTA's mbarrier ($1) through phase 0; $0 = $2 (a token: the pushes' sum, so that the wait follows them)
WAIT = tl.constexpr(
    "{ .reg .pred c; W: mbarrier.try_wait.parity.shared::cta.b64 c, [$1], 0; @!c bra W; mov.u32 $0, $2; }"
)
# the cluster wait paired with the setup's relaxed arrive (every peer's mbarrier initialised); $0 = $1 (the buffer's
# address, passed through so that the pushes follow the wait)
CLUSTER_WAIT = tl.constexpr("barrier.cluster.wait.aligned; mov.u32 $0, $1;")
# one fp32 of this CTA's buffer at byte address $1; $2: the wait's token
LOAD = tl.constexpr("ld.shared.f32 $0, [$1];")


def push_setup_asm(nbytes: int, wait: bool = True) -> str:
    """The setup asm for a buffer of nbytes, every one of which the cluster's CTAs push into this CTA: outputs the
    buffer's and the mbarrier's shared addresses ($0, $1); input $2 is the thread's index (thread 0 inits). wait:
    the cluster wait here too (else push_cluster_wait before the first push)."""
    wait_here = "barrier.cluster.wait.aligned; " if wait else ""
    return (f"{{ .shared .align 16 .b8 pbuf[{nbytes}]; .shared .align 8 .b64 pbar; .reg .pred p; "
            "mov.u32 $0, pbuf; mov.u32 $1, pbar; setp.eq.u32 p, $2, 0; "
            "@p mbarrier.init.shared::cta.b64 [pbar], 1; "
            f"@p mbarrier.arrive.expect_tx.shared::cta.b64 _, [pbar], {nbytes}; "
            "fence.mbarrier_init.release.cluster; "
            f"barrier.cluster.arrive.relaxed.aligned; {wait_here}}}")  # fmt: skip


def as_cluster(compiled, ctas: int) -> None:
    """Launch a kernel compiled as one CTA (num_ctas 1) as clusters of ctas consecutive programs from now on: the
    launcher (Triton 3.6 and 3.9 alike) takes the cluster size from the compiled kernel's packed metadata (num_warps,
    num_ctas, shared) at every launch and multiplies the grid's x by it, so a grid of G launches G x ctas programs.
    Patch before the first launch (compile with JITFunction.warmup): as one CTA a pushing kernel waits forever.
    compiled may be a future of one (warmup inside Triton's asynchronous compile mode)."""
    if hasattr(compiled, "result"):
        compiled = compiled.result()
    warps, _, shared = compiled.packed_metadata
    compiled.packed_metadata = (warps, ctas, shared)


def cluster_launch(kernel: triton.JITFunction, grid: tuple, ctas: int, *args, **kwargs) -> None:
    """kernel[grid](*args, **kwargs) as clusters of ctas (grid[0] x ctas programs along x): compiled (or found in
    the cache) first without a launch, then made a cluster launch (as_cluster, idempotent) and launched. Inside
    compile_ahead (launches only compile, perhaps on another thread) it only compiles: the real launch after the
    block makes it a cluster launch."""
    if compiling_only():
        kernel[grid](*args, **kwargs)
        return
    as_cluster(kernel.warmup(*args, grid=grid, **kwargs), ctas)
    kernel[grid](*args, **kwargs)


@triton.jit
def push_setup(lane, SETUP: tl.constexpr):
    """The push buffer's and mbarrier's shared addresses ([NT] int32, the same in every lane), after the mbarrier's
    init and the cluster barrier that publishes it. lane: tl.arange(0, NT), one element a thread (one asm instance,
    so one buffer)."""
    return tl.inline_asm_elementwise(SETUP, "=r,=r,r", [lane], dtype=(tl.int32, tl.int32), is_pure=False, pack=1)


@triton.jit
def push_cluster_wait(buf):
    """buf, after every CTA of the cluster has passed its setup (push_setup_asm(..., wait=False)): the pushes take
    the returned address, so they follow the wait."""
    return tl.inline_asm_elementwise(CLUSTER_WAIT, "=r,r", [buf], dtype=tl.int32, is_pure=False, pack=1)


@triton.jit
def push4(v0, v1, v2, v3, buf, offset, owner, bar):
    """4 fp32 a lane pushed into CTA owner's buffer at byte offset; returns a token (0) for push_wait."""
    return tl.inline_asm_elementwise(PUSH4, PUSH4_CONSTR, [v0, v1, v2, v3, buf, offset, owner, bar], dtype=tl.int32,
                                     is_pure=False, pack=1)  # fmt: skip


@triton.jit
def push_wait(bar, token):
    """Wait until every byte pushed into this CTA has come; token: the pushes' tokens summed (so the wait follows
    them). Returns a token for push_load."""
    return tl.inline_asm_elementwise(WAIT, "=r,r,r", [bar, token], dtype=tl.int32, is_pure=False, pack=1)


@triton.jit
def push_load(address, token):
    """One fp32 of this CTA's push buffer at byte address (after push_wait's token)."""
    return tl.inline_asm_elementwise(LOAD, "=f,r,r", [address, token], dtype=tl.float32, is_pure=False, pack=1)
