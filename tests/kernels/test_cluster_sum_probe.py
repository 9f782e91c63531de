"""benchmarks/cluster_sum_probe.py: the on-chip split-K sum the fragment kernel's epilogue could become, compiled for
sm_90 without a GPU (the next step of benchmarks/NOTES.md's split-K epilogue item)."""

import pytest
import triton

from .compiled_layouts import sm90_results

_SCRIPT = r"""
import json, sys
sys.path.insert(0, "benchmarks")
from cluster_sum_probe import compile_cluster_sum
out = []
for ctas in (2, 4):
    ops, ptx, shared = compile_cluster_sum(ctas)
    out.append([ops.get("UCGABAR_ARV", 0), ops.get("UCGABAR_WAIT", 0), ops.get("LD.E.128", 0),
                sum("ld.shared::cluster" in line for line in ptx), f".reqnctapercluster {ctas}" in ptx])
print(json.dumps(out))
"""


@pytest.mark.skipif(tuple(map(int, triton.__version__.split(".")[:2])) < (3, 9),
                    reason="Triton 3.6 does not lower the mapa (an address-space-3 pointer)")  # fmt: skip
def test_a_sum_over_a_clusters_ctas_goes_through_distributed_shared_memory():
    """The partials spread over 2 or 4 CTAs meet through the peers' shared memory: one ld.shared::cluster (a 16-byte
    LD in the SASS) per CTA of the cluster, between two cluster barriers, with no workspace in global memory (each
    cluster barrier still lowers a MEMBAR.ALL.GPU)."""
    results = sm90_results(_SCRIPT, None)
    for ctas, (arrives, waits, wide_loads, cluster_loads, cluster_launch) in zip((2, 4), results, strict=True):
        assert cluster_launch and arrives == waits == 2
        assert cluster_loads == ctas and wide_loads == ctas


_TIMING_SCRIPT = r"""
import json, re, sys
sys.path.insert(0, "benchmarks")
import triton
from triton.backends.compiler import GPUTarget
from triton.experimental.gluon._runtime import GluonASTSource
from cluster_sum_timing import over_ctas, shared_by_cols, sum_by_push, sum_in_cluster
out = []
for split, bn in ((2, 64), (4, 128)):
    for kernel, extra in ((sum_in_cluster, {}), (sum_by_push, {"SHARED": shared_by_cols(split)})):
        const = {"SPLIT": split, "M": 4, "BN": bn, "BY_SPLIT": over_ctas(split, 0, bn), "BY_COLS": over_ctas(split, 2),
                 **extra}
        sig = {"parts_ptr": "*fp32", "y_ptr": "*fp32", "N": "i32"} | dict.fromkeys(const, "constexpr")
        kern = triton.compile(GluonASTSource(fn=kernel, signature=sig, constexprs=const),
                              target=GPUTarget("cuda", 90, 32), options={"num_warps": 4, "num_ctas": split})
        ptx = kern.asm["ptx"]
        pushed = sum(128 * 4 * int(v or 1) for v in re.findall(r"st\.async\S*?(?:\.v(\d))?\.b32", ptx))
        expected = [int(b) for b in re.findall(r"expect_tx\S* _, \[%r\d+\], (\d+)", ptx)]
        out.append([kernel.__name__, 4 * bn * 4, f".reqnctapercluster {split}" in ptx, "ld.shared::cluster" in ptx,
                    "atom." in ptx, pushed, expected])
print(json.dumps(out))
"""


@pytest.mark.skipif(tuple(map(int, triton.__version__.split(".")[:2])) < (3, 9),
                    reason="Triton 3.6 does not lower the mapa (an address-space-3 pointer)")  # fmt: skip
def test_the_timed_cluster_epilogues_meet_in_shared_memory_without_global_atomics():
    """benchmarks/cluster_sum_timing.py's cluster kernels (the split-K sums it times on the GPU against the production
    epilogue) launch one cluster per column tile and meet their splits' partials in the CTAs' shared memory, with no
    workspace and no arrival counter: sum_in_cluster by loads from the peers' shared memory; sum_by_push by st.async
    into the owners', every CTA pushing exactly the bytes each owner's mbarrier expects (M x BN fp32: each sends its
    whole partial, each receives every split of its BN / SPLIT columns), or the owners would wait forever."""
    for name, tile_bytes, cluster_launch, dsmem_loads, global_atomics, pushed, expected in sm90_results(
            _TIMING_SCRIPT, None):  # fmt: skip
        assert cluster_launch and not global_atomics
        if name == "sum_in_cluster":
            assert dsmem_loads and pushed == 0
        else:
            assert pushed == tile_bytes and expected == [tile_bytes]


_PUSH_ASM_SCRIPT = r"""
import json, sys
sys.path.insert(0, "benchmarks")
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from cluster_sum_timing import push_asm, sum_by_push_asm
out = []
for m, bn, split in ((4, 128, 8), (4, 64, 2), (16, 128, 4)):
    asm = push_asm(m, bn, split)
    const = {"SPLIT": split, "M": m, "BN": bn, "NT": 128, **{k: asm[k] for k in
             ("VEC", "SETUP", "SEND", "SEND_CONSTR", "WAIT", "RECV")}}
    sig = {"parts_ptr": "*fp32", "y_ptr": "*fp32", "N": "i32"} | dict.fromkeys(const, "constexpr")
    ptx = triton.compile(ASTSource(fn=sum_by_push_asm, signature=sig, constexprs=const),
                         target=GPUTarget("cuda", 90, 32), options={"num_warps": 4}).asm["ptx"]
    out.append([m * bn // (128 * asm["VEC"]), ptx.count("st.async"), ptx.count(".b8 pbuf["),
                ptx.count("barrier.cluster.arrive.relaxed"), ptx.count("barrier.cluster.arrive;")
                + ptx.count("barrier.cluster.arrive.aligned"), "atom." in ptx, "membar" in ptx])
print(json.dumps(out))
"""


def test_the_plain_triton_push_declares_one_buffer_and_needs_no_fence():
    """cluster_sum_timing.sum_by_push_asm, the push in plain Triton (any version: it runs on the device's 3.6):
    its push buffer is declared once in the compiled kernel (one inline-asm instance a thread, not one a value), each
    thread issues one st.async a VEC-column chunk of its partial, and the only cluster barrier is the relaxed one
    after the mbarrier's init: no release barrier, no gpu-scope fence, no global atomics."""
    for chunks, pushes, buffers, relaxed, release, atomics, membar in sm90_results(_PUSH_ASM_SCRIPT, None):
        assert pushes == chunks and buffers == 1
        assert relaxed == 1 and release == 0 and not atomics and not membar
