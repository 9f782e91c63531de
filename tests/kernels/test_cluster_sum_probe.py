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
