"""Per-request sampling: parameters, their checks, and the batched sampler.

Order, as in transformers' generate: temperature -> top-k -> top-p (on the renormalised top-k) -> draw.
Each request draws from its own torch.Generator (seeded from `seed`, or at random), one draw per generated token,
so a seeded request gives the same tokens whatever else shares its batch, and after a preemption.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from server.errors import InvalidParamsError


@dataclass
class SamplingParams:
    """How one request generates. temperature 0 is greedy (top_p, top_k and seed are then unused)."""

    max_tokens: int = 128
    """Most tokens to generate (finish_reason 'length' when reached)."""
    temperature: float = 0.0
    """Softmax temperature; 0 = greedy."""
    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p."""
    top_k: int = 0
    """Keep the k most likely tokens; 0 = no cut."""
    seed: int | None = None
    """Seed of this request's generator; None = random."""
    stop: list[str] = field(default_factory=list)
    """Stop strings: generation ends when the text contains one; it is not included in the text."""
    stop_token_ids: list[int] = field(default_factory=list)
    """Token ids that end generation besides EOS (the token id is reported, its text is not)."""
    ignore_eos: bool = False
    """Keep generating past EOS (benchmarks)."""

    def validate(self, max_new_tokens: int, vocab_size: int, max_stop_strings: int = 16) -> None:
        """Raise InvalidParamsError naming the first bad field."""
        checks = [
            (isinstance(self.max_tokens, int) and 1 <= self.max_tokens <= max_new_tokens,
             f"max_tokens must be an int in [1, {max_new_tokens}], got {self.max_tokens!r}"),
            (_finite(self.temperature) and 0.0 <= self.temperature <= 100.0,
             f"temperature must be in [0, 100], got {self.temperature!r}"),
            (_finite(self.top_p) and 0.0 < self.top_p <= 1.0, f"top_p must be in (0, 1], got {self.top_p!r}"),
            (isinstance(self.top_k, int) and self.top_k >= 0, f"top_k must be an int >= 0, got {self.top_k!r}"),
            (self.seed is None or (isinstance(self.seed, int) and 0 <= self.seed < 2**63),
             f"seed must be None or an int in [0, 2**63), got {self.seed!r}"),
            (isinstance(self.stop, list) and len(self.stop) <= max_stop_strings
             and all(isinstance(s, str) and s for s in self.stop),
             f"stop must be a list of at most {max_stop_strings} non-empty strings"),
            (isinstance(self.stop_token_ids, list)
             and all(isinstance(t, int) and 0 <= t < vocab_size for t in self.stop_token_ids),
             f"stop_token_ids must be token ids in [0, {vocab_size})"),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidParamsError(message)

    def make_generator(self, device: torch.device) -> torch.Generator | None:
        """The request's own generator (None for greedy requests, which draw nothing)."""
        if self.temperature == 0:
            return None
        seed = self.seed if self.seed is not None else int(torch.randint(0, 2**62, ()).item())
        return torch.Generator(device=device).manual_seed(seed)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and x == x and abs(x) != float("inf")


def sample(
    logits: torch.Tensor, params: list[SamplingParams], generators: list[torch.Generator | None]
) -> list[int]:
    """logits [B, V] float32 -> one token id per row."""
    tokens = logits.argmax(dim=-1)  # [B]: the greedy rows' answer, overwritten for sampled rows
    rows = [i for i, p in enumerate(params) if p.temperature > 0]
    if rows:
        index = torch.tensor(rows, device=logits.device)
        temperature = torch.tensor([params[i].temperature for i in rows], device=logits.device)
        top_k = torch.tensor([params[i].top_k for i in rows], device=logits.device)
        top_p = torch.tensor([params[i].top_p for i in rows], device=logits.device)
        sorted_logits, order = (logits[index] / temperature[:, None]).sort(dim=-1, descending=True)  # [R, V]
        rank = torch.arange(logits.shape[1], device=logits.device)
        cut = (top_k[:, None] > 0) & (rank[None, :] >= top_k[:, None])
        probs = sorted_logits.masked_fill(cut, float("-inf")).softmax(dim=-1)
        # drop a token once the tokens ranked above it already reach top_p (the first one always stays)
        cut |= (probs.cumsum(dim=-1) - probs) >= top_p[:, None]
        probs = sorted_logits.masked_fill(cut, float("-inf")).softmax(dim=-1)
        for j, i in enumerate(rows):
            # exponential race: argmax(p / Exp(1)) is a draw from p, using only this request's generator
            race = torch.empty_like(probs[j]).exponential_(generator=generators[i])
            tokens[i] = order[j, (probs[j] / race).argmax()]
    return tokens.tolist()
