"""Packing of codes: the layout every component shares (kernels/packing.py)."""

import pytest
import torch

from kernels.packing import group_size, pack_codes, packed_width, unpack_codes


@pytest.mark.parametrize("bits", [2, 3, 4])
@pytest.mark.parametrize("k", [1, 7, 8, 64, 131])
def test_pack_then_unpack_round_trips(bits, k):
    codes = torch.randint(0, 2**bits, (13, k))
    packed = pack_codes(codes, bits)
    assert packed.dtype == torch.uint8
    assert packed.shape == (13, packed_width(k, bits))
    assert torch.equal(unpack_codes(packed, bits, k), codes)


def test_four_bit_low_nibble_holds_even_column():
    codes = torch.tensor([[0x3, 0xA, 0x1]])
    packed = pack_codes(codes, 4)
    assert packed.tolist() == [[0xA3, 0x01]]


def test_two_bit_column_4j_plus_i_sits_in_bits_2i():
    codes = torch.tensor([[1, 2, 3, 0, 2]])
    packed = pack_codes(codes, 2)
    assert packed.tolist() == [[1 | (2 << 2) | (3 << 4), 2]]


def test_three_bit_codes_use_nibbles():
    codes = torch.tensor([[7, 5]])
    assert pack_codes(codes, 3).tolist() == [[7 | (5 << 4)]]


def test_out_of_range_codes_are_rejected():
    with pytest.raises(ValueError, match="out of range"):
        pack_codes(torch.tensor([[16]]), 4)
    with pytest.raises(ValueError, match="out of range"):
        pack_codes(torch.tensor([[4]]), 2)


def test_wrong_packed_width_is_rejected():
    with pytest.raises(ValueError, match="bytes per row"):
        unpack_codes(torch.zeros(2, 3, dtype=torch.uint8), 4, 8)


def test_group_size_covers_all_columns():
    assert group_size(4096, 4) == 1024
    assert group_size(131, 4) == 33  # ceil: the last group is shorter
    with pytest.raises(ValueError):
        group_size(8, 0)
