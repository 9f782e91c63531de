"""The multi-LUT linear op: shared 4-bit codes read once, each token looks up its own slot's LUT."""

from kernels.lut_linear import SlotSegments, check_lut_linear_args, lut_linear, lut_linear_autograd
from kernels.packing import group_size, pack_codes, packed_width, unpack_codes
from kernels.reference import dequantize, lut_linear_reference

__all__ = [
    "SlotSegments",
    "check_lut_linear_args",
    "dequantize",
    "group_size",
    "lut_linear",
    "lut_linear_autograd",
    "lut_linear_reference",
    "pack_codes",
    "packed_width",
    "unpack_codes",
]
