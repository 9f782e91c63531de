"""Paged KV cache: blocks preallocated once from a memory budget, and the manager that lends them (as nano-vLLM).

    k_cache[layer], v_cache[layer]: [num_blocks, block_size, Hkv, head_dim]
    token at position p of a sequence -> block block_ids[p // block_size], row p % block_size
    flat row (the model's slot_mapping) = block * block_size + p % block_size

Block 0 is the null block: never lent. Padding rows of a captured decode graph write into it and read it masked,
and padded block tables point at it, so padding never touches a live sequence's K/V.
"""

from __future__ import annotations

import math

import torch

from server.model import ModelConfig

NULL_BLOCK = 0


def bytes_per_block(cfg: ModelConfig, block_size: int, dtype: torch.dtype) -> int:
    """K and V of every layer for block_size tokens."""
    elem = torch.empty((), dtype=dtype).element_size()
    return 2 * cfg.num_layers * block_size * cfg.num_kv_heads * cfg.head_dim * elem


class KVCache:
    """The preallocated tensors: one (k, v) pair per layer, [num_blocks, block_size, Hkv, head_dim] each."""

    def __init__(self, cfg: ModelConfig, num_blocks: int, block_size: int, device, dtype: torch.dtype) -> None:
        if num_blocks < 2:
            raise ValueError(f"the KV cache needs at least 2 blocks (one is the null block), got {num_blocks}")
        self.num_blocks, self.block_size = num_blocks, block_size
        shape = (num_blocks, block_size, cfg.num_kv_heads, cfg.head_dim)
        self.layers = [
            (torch.zeros(shape, dtype=dtype, device=device), torch.zeros(shape, dtype=dtype, device=device))
            for _ in range(cfg.num_layers)
        ]

    def nbytes(self) -> int:
        return sum(k.numel() * k.element_size() * 2 for k, _ in self.layers)


class BlockManager:
    """Lends KV blocks to sequences. Pure bookkeeping: no tensors; a sequence keeps its own block_ids list."""

    def __init__(self, num_blocks: int, block_size: int) -> None:
        self.block_size = block_size
        self.num_total = num_blocks - 1  # the null block is never lent
        self._free = list(range(num_blocks - 1, NULL_BLOCK, -1))  # a stack: low ids are lent first
        self._lent: set[int] = set()

    @property
    def num_free(self) -> int:
        return len(self._free)

    @property
    def num_used(self) -> int:
        return len(self._lent)

    def blocks_for(self, num_tokens: int) -> int:
        return math.ceil(num_tokens / self.block_size)

    def can_grow(self, block_ids: list[int], num_tokens: int) -> bool:
        """Whether a sequence holding block_ids can grow to hold num_tokens tokens."""
        return self.blocks_for(num_tokens) - len(block_ids) <= len(self._free)

    def grow(self, block_ids: list[int], num_tokens: int) -> None:
        """Append blocks to block_ids (in place) until they hold num_tokens tokens."""
        need = self.blocks_for(num_tokens) - len(block_ids)
        if need > len(self._free):
            raise RuntimeError(f"out of KV blocks: need {need}, {len(self._free)} free (check can_grow first)")
        for _ in range(need):
            block = self._free.pop()
            self._lent.add(block)
            block_ids.append(block)

    def release(self, block_ids: list[int]) -> None:
        """Return every block of a sequence; empties block_ids."""
        for block in block_ids:
            if block not in self._lent:
                raise RuntimeError(f"KV block {block} released twice or never lent")
            self._lent.remove(block)
            self._free.append(block)
        block_ids.clear()
