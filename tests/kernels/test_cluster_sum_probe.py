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
import json, sys
sys.path.insert(0, "benchmarks")
import triton
from triton.backends.compiler import GPUTarget
from triton.experimental.gluon._runtime import GluonASTSource
from cluster_sum_timing import over_ctas, sum_in_cluster
out = []
for split, bn in ((2, 64), (4, 128)):
    const = {"SPLIT": split, "M": 4, "BN": bn, "BY_SPLIT": over_ctas(split, 0), "BY_COLS": over_ctas(split, 2)}
    sig = {"parts_ptr": "*fp32", "y_ptr": "*fp32", "N": "i32"} | dict.fromkeys(const, "constexpr")
    kern = triton.compile(GluonASTSource(fn=sum_in_cluster, signature=sig, constexprs=const),
                          target=GPUTarget("cuda", 90, 32), options={"num_warps": 4, "num_ctas": split})
    ptx = kern.asm["ptx"]
    out.append([f".reqnctapercluster {split}" in ptx, "ld.shared::cluster" in ptx, "barrier.cluster" in ptx,
                "atom." in ptx])
print(json.dumps(out))
"""


@pytest.mark.skipif(tuple(map(int, triton.__version__.split(".")[:2])) < (3, 9),
                    reason="Triton 3.6 does not lower the mapa (an address-space-3 pointer)")  # fmt: skip
def test_the_timed_cluster_epilogue_sums_splits_through_its_peers_shared_memory_without_global_atomics():
    """benchmarks/cluster_sum_timing.py's cluster kernel (the split-K sum it times on the GPU against the production
    epilogue) launches one cluster per column tile and meets its splits' partials in distributed shared memory: no
    workspace, no arrival counter."""
    for cluster_launch, dsmem_loads, cluster_barrier, global_atomics in sm90_results(_TIMING_SCRIPT, None):
        assert cluster_launch and dsmem_loads and cluster_barrier and not global_atomics
