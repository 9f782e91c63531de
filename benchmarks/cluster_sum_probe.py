"""Can a split-K sum stay on chip? A probe of Gluon's thread-block clusters, compiled for sm_90 without a GPU.

The fragment kernel's split-K epilogue (kernels/triton_decode_mma.py) costs ~1.8 us of ~9.5 at 4 tokens on the H100:
each program stores its partials, fences, arrives on an atomic counter, and the last one loads every partial back
(three L2 round trips). With the split's programs as one cluster, the partials could meet in distributed shared
memory instead. This compiles the smallest such sum: a [CTAS * 4, 128] fp32 tile whose rows (the splits' partials)
are spread over the cluster's CTAS CTAs (cga_layout on dim 0), converted to a layout that spreads the columns
instead (each CTA then holds every split of its share of the columns), and summed over the rows inside each CTA.

Prints the SASS instruction counts and the PTX cluster lines. Findings (sixty-third session): under Triton 3.9 the
conversion goes through distributed shared memory (STS, barrier.cluster, mapa + ld.shared::cluster, barrier.cluster;
each cluster barrier also lowers a MEMBAR.ALL.GPU); a gl.sum over the CTA-split dim itself does not lower
(ReduceOpConversion asserts isReduceWithinCTA); Triton 3.6 fails to lower the mapa (an address-space-3 pointer).
Usage: python benchmarks/cluster_sum_probe.py [CTAS: 2 or 4]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

import triton
from triton.backends.compiler import GPUTarget
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon._runtime import GluonASTSource


def over_ctas(ctas: int, dim: int) -> gl.BlockedLayout:
    """A 4-warp [rows, 128] layout spread over a cluster's CTAs along dim: CTA bit i moves 2**i rows or columns."""
    bases = [[1 << i, 0] if dim == 0 else [0, 1 << i] for i in range(ctas.bit_length() - 1)]
    return gl.BlockedLayout([1, 1], [1, 32], [1, 4], [1, 0], cga_layout=bases)


@gluon.jit
def cluster_sum(x_ptr, y_ptr, ROWS: gl.constexpr, ROWS_SPLIT: gl.constexpr, COLS_SPLIT: gl.constexpr):
    """y[128] <- the sum over x's ROWS rows (the splits' partials), spread over the cluster's CTAs by ROWS_SPLIT;
    COLS_SPLIT spreads the columns instead, so that each CTA holds every split of its share of them."""
    rows = gl.arange(0, ROWS, layout=gl.SliceLayout(1, ROWS_SPLIT))
    cols = gl.arange(0, 128, layout=gl.SliceLayout(0, ROWS_SPLIT))
    parts = gl.load(x_ptr + rows[:, None] * 128 + cols[None, :])
    mine = gl.convert_layout(parts, COLS_SPLIT)  # through the peers' shared memory
    out_cols = gl.arange(0, 128, layout=gl.SliceLayout(0, COLS_SPLIT))
    gl.store(y_ptr + out_cols, gl.sum(mine, axis=0))


def compile_cluster_sum(ctas: int) -> tuple[Counter, list[str], int]:
    """(SASS instruction counts, PTX cluster lines, shared memory bytes) of cluster_sum over ctas CTAs (4 rows
    each), compiled for sm_90."""
    const = {"ROWS": 4 * ctas, "ROWS_SPLIT": over_ctas(ctas, 0), "COLS_SPLIT": over_ctas(ctas, 1)}
    sig = {"x_ptr": "*fp32", "y_ptr": "*fp32"} | dict.fromkeys(const, "constexpr")
    src = GluonASTSource(fn=cluster_sum, signature=sig, constexprs=const)
    kern = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": 4, "num_ctas": ctas})
    cuobjdump = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(kern.asm["cubin"])
        f.flush()
        sass = subprocess.run([cuobjdump, "-sass", f.name], capture_output=True, text=True).stdout
    ops = Counter(re.findall(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", sass))
    marks = ("reqnctapercluster", "barrier.cluster", "mapa", "shared::cluster")
    ptx = [line.strip() for line in kern.asm["ptx"].splitlines() if any(m in line for m in marks)]
    return ops, ptx, kern.metadata.shared


def main() -> None:
    ctas = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    ops, ptx, shared = compile_cluster_sum(ctas)
    print(f"triton {triton.__version__}, {ctas} CTAs a cluster, shared memory {shared} bytes")
    print("SASS:", ", ".join(f"{op} {n}" for op, n in ops.most_common()))
    print("PTX:", ptx)


if __name__ == "__main__":
    main()
