"""How many CTAs of a compiled Triton kernel are resident at once, launched plainly or as clusters: the CUDA
driver's occupancy calculator (cuOccupancyMaxActiveBlocksPerMultiprocessor, cuOccupancyMaxActiveClusters) through
ctypes, for the waves question of a cluster launch (benchmarks/NOTES.md, sixty-fifth session: PUSH's clusters of 8
programs of 8 warps made the fragment kernel slower, not its epilogue faster). Needs a CUDA driver."""

import ctypes

import torch

CLUSTER_DIMENSION = 4  # CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION


class _LaunchAttribute(ctypes.Structure):
    """CUlaunchAttribute: an id, padding to 8 bytes, a 64-byte value (here the cluster's x, y, z)."""

    _fields_ = [("id", ctypes.c_int), ("pad", ctypes.c_char * 4), ("value", ctypes.c_uint * 16)]


class _LaunchConfig(ctypes.Structure):
    """CUlaunchConfig: grid and block dims, dynamic shared bytes, stream, attributes."""

    _fields_ = [("grid", ctypes.c_uint * 3), ("block", ctypes.c_uint * 3), ("shared", ctypes.c_uint),
                ("stream", ctypes.c_void_p), ("attrs", ctypes.POINTER(_LaunchAttribute)),
                ("num_attrs", ctypes.c_uint)]  # fmt: skip


def resident(compiled, ctas: int) -> dict[str, int]:
    """For a compiled Triton kernel (a CompiledKernel whose handles are loaded, e.g. the one a launch used):
    blocks_per_sm (plain launch), sms, and clusters (of ctas CTAs, resident at once on the whole GPU; 0 where the
    driver says none fit) with cluster_ctas = clusters x ctas, to set against the launch's grid."""
    cuda = ctypes.CDLL("libcuda.so.1")
    threads = 32 * compiled.metadata.num_warps
    shared = compiled.metadata.shared
    function = ctypes.c_void_p(compiled.function)
    per_sm = ctypes.c_int()
    _check(cuda.cuOccupancyMaxActiveBlocksPerMultiprocessor(ctypes.byref(per_sm), function, threads, shared))
    attr = _LaunchAttribute(id=CLUSTER_DIMENSION)
    attr.value[0], attr.value[1], attr.value[2] = ctas, 1, 1
    config = _LaunchConfig(grid=(ctypes.c_uint * 3)(ctas, 1, 1), block=(ctypes.c_uint * 3)(threads, 1, 1),
                           shared=shared, stream=None, attrs=ctypes.pointer(attr), num_attrs=1)  # fmt: skip
    clusters = ctypes.c_int()
    _check(cuda.cuOccupancyMaxActiveClusters(ctypes.byref(clusters), function, ctypes.byref(config)))
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    return {"blocks_per_sm": per_sm.value, "sms": sms, "plain_ctas": per_sm.value * sms,
            "clusters": clusters.value, "cluster_ctas": clusters.value * ctas}  # fmt: skip


def _check(rc: int) -> None:
    if rc != 0:
        raise RuntimeError(f"CUDA driver error {rc}")
