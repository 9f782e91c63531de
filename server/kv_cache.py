"""Paged KV cache: blocks preallocated once from a memory budget, and the manager that lends them (as nano-vLLM).

    k_cache[layer], v_cache[layer]: [num_blocks, block_size, Hkv, head_dim]
    token at position p of a sequence -> block block_ids[p // block_size], row p % block_size
    flat row (the model's slot_mapping) = block * block_size + p % block_size

Block 0 is the null block: never lent. Padding rows of a captured decode graph write into it and read it masked,
and padded block tables point at it, so padding never touches a live sequence's K/V.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections import OrderedDict

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
    """Lends KV blocks to sequences, and keeps computed full blocks for reuse (prefix caching, as vLLM's).
    Pure bookkeeping: no tensors; a sequence keeps its own block_ids list.

    A block is free (no content), lent (ref count > 0; shared when a cached prefix is used by several sequences),
    or cached-idle (ref 0 but holding a registered prefix: reusable until evicted, least recently released first).
    Every cached block is known by its prefix hash (block_hashes): a digest of the LUT the K/V were computed with,
    of every token before the block, and of the block's own tokens. Free blocks are lent before idle cached ones.
    """

    def __init__(self, num_blocks: int, block_size: int, prefix_caching: bool = True) -> None:
        self.block_size, self.prefix_caching = block_size, prefix_caching
        self.num_total = num_blocks - 1  # the null block is never lent
        self._free = list(range(num_blocks - 1, NULL_BLOCK, -1))  # a stack: low ids are lent first
        self._ref: dict[int, int] = {}  # lent block -> sequences holding it
        self._idle: OrderedDict[int, None] = OrderedDict()  # cached blocks nobody holds, least recently released first
        self._block_of: dict[bytes, int] = {}  # prefix hash -> the block holding that prefix's last block_size tokens
        self._hash_of: dict[int, bytes] = {}  # the reverse, for eviction

    @property
    def num_free(self) -> int:
        """Blocks a sequence can get now: free ones, and idle cached ones (evicted on use)."""
        return len(self._free) + len(self._idle)

    @property
    def num_used(self) -> int:
        """Blocks held by sequences."""
        return len(self._ref)

    @property
    def num_cached(self) -> int:
        """Blocks holding a reusable prefix, held or idle."""
        return len(self._block_of)

    def blocks_for(self, num_tokens: int) -> int:
        return math.ceil(num_tokens / self.block_size)

    def can_grow(self, block_ids: list[int], num_tokens: int) -> bool:
        """Whether a sequence holding block_ids can grow to hold num_tokens tokens."""
        return self.blocks_for(num_tokens) - len(block_ids) <= self.num_free

    def grow(self, block_ids: list[int], num_tokens: int) -> None:
        """Append blocks to block_ids (in place) until they hold num_tokens tokens."""
        need = self.blocks_for(num_tokens) - len(block_ids)
        if need > self.num_free:
            raise RuntimeError(f"out of KV blocks: need {need}, {self.num_free} free (check can_grow first)")
        for _ in range(need):
            if self._free:
                block = self._free.pop()
            else:  # evict the least recently released cached prefix
                block, _ = self._idle.popitem(last=False)
                del self._block_of[self._hash_of.pop(block)]
            self._ref[block] = 1
            block_ids.append(block)

    def release(self, block_ids: list[int], forget: bool = False) -> None:
        """Return every block of a sequence; empties block_ids. Cached blocks stay reusable while idle, unless
        forget (their K/V may be wrong): then those nobody else holds lose their prefix and are free again."""
        for block in reversed(block_ids):  # a prefix's tail first: evicted before the blocks it depends on
            refs = self._ref.get(block)
            if refs is None:
                raise RuntimeError(f"KV block {block} released twice or never lent")
            if refs > 1:
                self._ref[block] = refs - 1
                continue
            del self._ref[block]
            if forget and block in self._hash_of:
                del self._block_of[self._hash_of.pop(block)]
            if block in self._hash_of:
                self._idle[block] = None
            else:
                self._free.append(block)
        block_ids.clear()

    # --- prefix caching ----------------------------------------------------------------------------------------

    def cached_prefix(self, hashes: list[bytes]) -> list[int]:
        """The blocks holding the longest cached run of hashes from the first (which the caller then takes)."""
        blocks = []
        for h in hashes:
            block = self._block_of.get(h)
            if block is None:
                break
            blocks.append(block)
        return blocks

    def take_cached(self, block_ids: list[int], blocks: list[int]) -> None:
        """Append cached blocks (from cached_prefix) to an empty sequence's block_ids, holding each once more."""
        if block_ids:
            raise RuntimeError("a cached prefix starts a sequence: its block_ids must be empty")
        for block in blocks:
            if block in self._idle:
                del self._idle[block]
                self._ref[block] = 1
            else:
                self._ref[block] += 1
            block_ids.append(block)

    def register(self, block: int, prefix_hash: bytes) -> None:
        """A lent block now holds computed K/V of the prefix prefix_hash: reusable from now on. A prefix already
        cached elsewhere (two sequences computed it side by side) keeps its first block; this one stays private."""
        if block not in self._ref:
            raise RuntimeError(f"KV block {block} is not lent")
        if prefix_hash not in self._block_of and block not in self._hash_of:
            self._block_of[prefix_hash] = block
            self._hash_of[block] = prefix_hash


def block_hashes(previous: bytes, task_key: tuple, token_ids: list[int], block_size: int) -> list[bytes]:
    """Prefix hashes of the full blocks of token_ids, chained from `previous` (b"" at a sequence's start): each
    digests the LUT the K/V come from (task, version), the previous block's hash and the block's tokens."""
    hashes = []
    for start in range(0, len(token_ids) - block_size + 1, block_size):
        digest = hashlib.sha256(previous)
        digest.update(repr(task_key).encode())
        digest.update(array("q", token_ids[start : start + block_size]).tobytes())
        previous = digest.digest()
        hashes.append(previous)
    return hashes
