"""Layout of the frozen mapping (codes) and of a LUT, shared by the sketcher, the kernels and the server.

One linear layer W [N, K] (N output rows, K input columns) is stored as

    codes        [N, K]                one `bits`-bit index per weight (frozen, shared by every task)
    lut          [N, gpr, 2**bits]     per row r and column group g, the 2**bits values (one per task)

    W_hat[r, c] = lut[r, c // group_size, codes[r, c]],   group_size = ceil(K / gpr)

      columns c ->  0 ........ gs-1 | gs ....... 2gs-1 | ... | (gpr-1)gs ... K-1
      row r      :  group 0         | group 1          | ... | group gpr-1
      lut[r, g]  :  [v0 v1 ... v(2**bits - 1)]  the values codes of row r, group g index into

Packing of codes (uint8, row-major, packed along K, so a row's bytes are contiguous):

    bits 3, 4 (p = 4 bits per code slot, 2 codes per byte)   codes_packed: [N, ceil(K / 2)]
        byte j of row r = codes[r, 2j] | codes[r, 2j + 1] << 4        (low nibble = even column)

    bits 2    (p = 2 bits per code slot, 4 codes per byte)   codes_packed: [N, ceil(K / 4)]
        byte j of row r = sum_i codes[r, 4j + i] << 2i,  i = 0..3     (bits 2i..2i+1 = column 4j+i)

Columns past K in the last byte are padded with code 0 and never read.
"""

from __future__ import annotations

import math

import torch

SUPPORTED_BITS = (2, 3, 4)


def slot_bits(bits: int) -> int:
    """Width in bits of one code's slot inside a packed byte (p in the layout above)."""
    if bits not in SUPPORTED_BITS:
        raise ValueError(f"bits must be one of {SUPPORTED_BITS}, got {bits}")
    return 2 if bits == 2 else 4


def codes_per_byte(bits: int) -> int:
    return 8 // slot_bits(bits)


def packed_width(k: int, bits: int) -> int:
    """Bytes per row of packed codes for K input columns."""
    return math.ceil(k / codes_per_byte(bits))


def group_size(k: int, gpr: int) -> int:
    """Columns per row-group: group of column c is c // group_size(K, gpr)."""
    if gpr < 1 or gpr > k:
        raise ValueError(f"gpr must be in [1, K={k}], got {gpr}")
    return math.ceil(k / gpr)


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """codes: [N, K] integer in [0, 2**bits) -> packed uint8 [N, packed_width(K, bits)]."""
    if codes.dim() != 2:
        raise ValueError(f"codes must be 2-D [N, K], got shape {tuple(codes.shape)}")
    per_byte = codes_per_byte(bits)
    width = slot_bits(bits)
    n, k = codes.shape
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= 2**bits):
        raise ValueError(f"codes out of range for {bits} bits")
    padded_k = packed_width(k, bits) * per_byte
    c = torch.zeros(n, padded_k, dtype=torch.int32, device=codes.device)
    c[:, :k] = codes.to(torch.int32)
    c = c.view(n, -1, per_byte)
    packed = torch.zeros(c.shape[:2], dtype=torch.int32, device=codes.device)
    for i in range(per_byte):
        packed |= c[:, :, i] << (width * i)
    return packed.to(torch.uint8)


def unpack_codes(codes_packed: torch.Tensor, bits: int, k: int) -> torch.Tensor:
    """packed uint8 [N, packed_width(K, bits)] -> codes int64 [N, K]."""
    if codes_packed.dtype != torch.uint8 or codes_packed.dim() != 2:
        raise ValueError("codes_packed must be a 2-D uint8 tensor")
    if codes_packed.shape[1] != packed_width(k, bits):
        raise ValueError(
            f"codes_packed has {codes_packed.shape[1]} bytes per row; K={k} at {bits} bits needs "
            f"{packed_width(k, bits)}"
        )
    per_byte = codes_per_byte(bits)
    width = slot_bits(bits)
    mask = (1 << width) - 1
    p = codes_packed
    # split in uint8, widen once at the end: 2x faster on the CPU than shifting int64 bytes (the CPU path
    # dequantizes a cold task's every weight through here)
    codes = torch.stack([(p >> (i * width)) & mask for i in range(per_byte)], dim=-1)  # [N, bytes, per_byte]
    return codes.reshape(p.shape[0], -1)[:, :k].to(torch.int64)
