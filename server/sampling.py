"""Per-request sampling: parameters, their checks, and the batched sampler.

Order, as in vLLM: logit bias, penalties and min_tokens' ban -> temperature -> top-k -> top-p (on the renormalised
top-k) -> min-p (on what those kept) -> draw (or argmax).
- logit_bias (OpenAI's): a value in [-100, 100] added to the logit of each listed token id;
- repetition_penalty (transformers' definition): each token id seen in the prompt or the output so far has its
  logit divided by the penalty when positive, multiplied by it when negative;
- presence_penalty / frequency_penalty (OpenAI's): each token id generated so far loses presence_penalty once and
  frequency_penalty per occurrence from its logit;
- min_tokens (vLLM's): until a request has generated that many tokens its stop token ids (EOS unless ignore_eos, and
  stop_token_ids) cannot be drawn (the scheduler names them per row: ScheduledChunk.banned_ids), and the engine
  checks no stop string or stop token;
- min_p (vLLM's): a token whose probability is below min_p times the most likely token's is dropped.
Each request draws from its own torch.Generator (seeded from `seed`, or at random), one draw per generated token,
so a seeded request gives the same tokens whatever else shares its batch, and after a preemption.

Log-probabilities (`logprobs`: the chosen token's and the `logprobs` most likely ones) are those of the model's
own distribution, the log-softmax of the raw logits, before penalties, temperature and the top-k/top-p cuts (as
vLLM reports them by default): they describe the model, whatever the request's sampling settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from server.errors import InvalidParamsError
from server.json_mode import JSON_CANDIDATES, JsonConstraint
from server.json_schema import Node, SchemaError, compile_schema
from server.regex_nfa import Regex, RegexError, compile_regex

MAX_CHOICES, MAX_CHOICE_CHARS = 1024, 1024  # guided_choice's texts
MAX_LOGPROBS = 20  # most alternatives per token (OpenAI's chat API allows 20, its completions API 5)


@dataclass
class SamplingParams:
    """How one request generates. temperature 0 is greedy (top_p, top_k and seed are then unused)."""

    max_tokens: int = 128
    """Most tokens to generate (finish_reason 'length' when reached); 0 (with prompt_logprobs) scores the prompt
    and generates nothing."""
    temperature: float = 0.0
    """Softmax temperature; 0 = greedy."""
    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p."""
    top_k: int = 0
    """Keep the k most likely tokens; 0 = no cut."""
    min_p: float = 0.0
    """Drop the tokens less likely than min_p times the most likely one (after temperature, top-k, top-p); 0 = off."""
    min_tokens: int = 0
    """Generate at least this many tokens: EOS and stop_token_ids cannot be drawn before, and stop strings end nothing
    before (a JSON-mode object still ends once whole)."""
    seed: int | None = None
    """Seed of this request's generator; None = random."""
    stop: list[str] = field(default_factory=list)
    """Stop strings: generation ends when the text contains one; it is not included in the text."""
    stop_token_ids: list[int] = field(default_factory=list)
    """Token ids that end generation besides EOS (the token id is reported, its text is not)."""
    ignore_eos: bool = False
    """Keep generating past EOS (benchmarks)."""
    logit_bias: dict[int, float] = field(default_factory=dict)
    """Token id -> added to its logit before sampling (-100 bans it in practice, 100 all but forces it)."""
    repetition_penalty: float = 1.0
    """> 1 discourages every token id of the prompt and the output so far (1 = off)."""
    presence_penalty: float = 0.0
    """Subtracted once from the logit of every token id generated so far (0 = off; negative encourages)."""
    frequency_penalty: float = 0.0
    """Subtracted from a token id's logit per time it was generated so far (0 = off; negative encourages)."""
    logprobs: int | None = None
    """Report each generated token's log-probability and this many most likely alternatives (None = off)."""
    json_object: bool = False
    """JSON mode: the output is kept a prefix of a JSON object, and ends ('stop') once the object is whole
    (server/json_mode.py)."""
    json_schema: dict | bool | Node | None = None
    """Structured outputs: a JSON Schema (the parsed document, or its compiled node) the output is kept valid for,
    ending ('stop') once its value is whole (server/json_schema.py says which keywords are enforced); None = off."""
    guided_choice: list[str] | None = None
    """The output is exactly one of these texts (vLLM's guided_choice); None = off."""
    guided_regex: str | None = None
    """The output is a text this regular expression matches whole (vLLM's guided_regex; server/regex_nfa.py's
    syntax); None = off."""
    prompt_logprobs: int | None = None
    """Report each prompt token's log-probability given the tokens before it (the first has none) and this many
    most likely alternatives (None = off). The prompt is then computed in full: no prefix cache."""

    @property
    def penalized(self) -> bool:
        """Any penalty on: sampling then needs the request's token history."""
        return self.repetition_penalty != 1.0 or self.presence_penalty != 0.0 or self.frequency_penalty != 0.0

    @property
    def adjusts_logits(self) -> bool:
        """Logit bias or penalties: the sampler works on an adjusted copy of this row's logits."""
        return bool(self.logit_bias) or self.penalized

    @property
    def constrained_output(self) -> bool:
        """JSON mode, a JSON Schema, a choice or a regex: the row draws through a JsonConstraint."""
        return (self.json_object or self.json_schema is not None or self.guided_choice is not None
                or self.guided_regex is not None)  # fmt: skip

    @property
    def draws_on_device(self) -> bool:
        """Whether draw_on_device serves this row: no adjusted logits, JSON recognizer or logprobs, which need the
        row's tokens on the host before the next draw (multi-step decoding takes only such rows)."""
        return not (self.adjusts_logits or self.constrained_output or self.logprobs is not None)

    def validate(self, max_new_tokens: int, vocab_size: int, max_stop_strings: int = 16,
                 max_logit_bias: int = 1024) -> None:  # fmt: skip
        """Raise InvalidParamsError naming the first bad field."""
        checks = [
            (isinstance(self.max_tokens, int) and 1 <= self.max_tokens <= max_new_tokens
             or (self.max_tokens == 0 and self.prompt_logprobs is not None),
             f"max_tokens must be an int in [1, {max_new_tokens}] (0 only with prompt_logprobs), "
             f"got {self.max_tokens!r}"),
            (_finite(self.temperature) and 0.0 <= self.temperature <= 100.0,
             f"temperature must be in [0, 100], got {self.temperature!r}"),
            (_finite(self.top_p) and 0.0 < self.top_p <= 1.0, f"top_p must be in (0, 1], got {self.top_p!r}"),
            (isinstance(self.top_k, int) and self.top_k >= 0, f"top_k must be an int >= 0, got {self.top_k!r}"),
            (_finite(self.min_p) and 0.0 <= self.min_p <= 1.0, f"min_p must be in [0, 1], got {self.min_p!r}"),
            (isinstance(self.min_tokens, int) and 0 <= self.min_tokens <= max(self.max_tokens, 0),
             f"min_tokens must be an int in [0, max_tokens], got {self.min_tokens!r}"),
            (self.seed is None or (isinstance(self.seed, int) and 0 <= self.seed < 2**63),
             f"seed must be None or an int in [0, 2**63), got {self.seed!r}"),
            (isinstance(self.stop, list) and len(self.stop) <= max_stop_strings
             and all(isinstance(s, str) and s for s in self.stop),
             f"stop must be a list of at most {max_stop_strings} non-empty strings"),
            (isinstance(self.stop_token_ids, list)
             and all(isinstance(t, int) and 0 <= t < vocab_size for t in self.stop_token_ids),
             f"stop_token_ids must be token ids in [0, {vocab_size})"),
            (isinstance(self.logit_bias, dict) and len(self.logit_bias) <= max_logit_bias
             and all(isinstance(t, int) and 0 <= t < vocab_size and _finite(v) and -100.0 <= v <= 100.0
                     for t, v in self.logit_bias.items()),
             f"logit_bias must map at most {max_logit_bias} token ids in [0, {vocab_size}) to values in [-100, 100]"),
            (_finite(self.repetition_penalty) and 0.0 < self.repetition_penalty <= 10.0,
             f"repetition_penalty must be in (0, 10], got {self.repetition_penalty!r}"),
            (_finite(self.presence_penalty) and -2.0 <= self.presence_penalty <= 2.0,
             f"presence_penalty must be in [-2, 2], got {self.presence_penalty!r}"),
            (_finite(self.frequency_penalty) and -2.0 <= self.frequency_penalty <= 2.0,
             f"frequency_penalty must be in [-2, 2], got {self.frequency_penalty!r}"),
            (self.logprobs is None or (isinstance(self.logprobs, int) and 0 <= self.logprobs <= MAX_LOGPROBS),
             f"logprobs must be None or an int in [0, {MAX_LOGPROBS}], got {self.logprobs!r}"),
            (self.prompt_logprobs is None
             or (isinstance(self.prompt_logprobs, int) and 0 <= self.prompt_logprobs <= MAX_LOGPROBS),
             f"prompt_logprobs must be None or an int in [0, {MAX_LOGPROBS}], got {self.prompt_logprobs!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidParamsError(message)
        asked = (self.json_object, self.json_schema is not None, self.guided_choice is not None,
                 self.guided_regex is not None)  # fmt: skip
        if asked.count(True) > 1:
            raise InvalidParamsError("json_object, json_schema, guided_choice and guided_regex exclude each other")
        self.compiled_schema()
        self.compiled_regex()
        if self.guided_choice is not None and not (
            isinstance(self.guided_choice, list) and 1 <= len(self.guided_choice) <= MAX_CHOICES
            and all(isinstance(c, str) and 1 <= len(c) <= MAX_CHOICE_CHARS for c in self.guided_choice)
        ):  # fmt: skip
            raise InvalidParamsError(f"guided_choice must list 1 to {MAX_CHOICES} texts of 1 to {MAX_CHOICE_CHARS} "
                                     "characters")  # fmt: skip

    def compiled_regex(self) -> Regex | None:
        """guided_regex's NFA (cached per pattern), None without one; InvalidParamsError if it is not supported."""
        if self.guided_regex is None:
            return None
        if not isinstance(self.guided_regex, str) or not self.guided_regex:
            raise InvalidParamsError("guided_regex must be a non-empty string")
        try:
            return compile_regex(self.guided_regex)
        except RegexError as e:
            raise InvalidParamsError(f"guided_regex: {e}") from None

    def compiled_schema(self) -> Node | None:
        """json_schema's root node (cached per schema text), None without one; InvalidParamsError if it cannot be
        enforced."""
        if self.json_schema is None or isinstance(self.json_schema, Node):
            return self.json_schema
        try:
            return compile_schema(self.json_schema)
        except SchemaError as e:
            raise InvalidParamsError(f"json_schema: {e}") from None

    def make_generator(self, device: torch.device) -> torch.Generator | None:
        """A seeded request's own generator: its draws are the same alone or in any batch. None for greedy requests,
        which draw nothing, and for unseeded ones, which draw from the device's default generator together with
        the rest of their step (draw_on_device: one draw for all their rows)."""
        if self.temperature == 0 or self.seed is None:
            return None
        return torch.Generator(device=device).manual_seed(self.seed)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and x == x and abs(x) != float("inf")


@dataclass(frozen=True)
class TokenHistory:
    """What a request's penalties count: its prompt and its output so far (the request's own lists, read only)."""

    prompt_ids: Sequence[int]
    output_ids: Sequence[int]


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token's log-probability under the model, and the most likely tokens at its position."""

    token_id: int
    logprob: float
    top: list[tuple[int, float]]  # (token id, log-probability), most likely first; `logprobs` of them


@dataclass
class Sampled:
    """The sampler's answer: one token per row, and its TokenLogprob where the row's params asked for one."""

    tokens: list[int]
    logprobs: list[TokenLogprob | None]


def sample(
    logits: torch.Tensor,
    params: list[SamplingParams],
    generators: list[torch.Generator | None],
    histories: list[TokenHistory | None] | None = None,
    constraints: list[JsonConstraint | None] | None = None,
    banned: list[Sequence[int]] | None = None,
) -> Sampled:
    """logits [B, V] float32 (not written) -> one token id per row. histories: per row, needed where the row's
    params are penalized; constraints: per row, where they ask for JSON (an object, or a schema's value); banned: per
    row, token ids it cannot draw this step (min_tokens: its stop token ids until it has generated that many)."""
    wants_logprobs = [i for i, p in enumerate(params) if p.logprobs is not None]
    raw = logits[torch.tensor(wants_logprobs, device=logits.device)] if wants_logprobs else None  # [L, V], a copy
    adjusted = [i for i, p in enumerate(params) if p.adjusts_logits or (banned is not None and banned[i])]
    if adjusted:
        if any(params[i].penalized and (histories is None or histories[i] is None) for i in adjusted):
            raise ValueError("penalized rows need their token history")
        logits = logits.clone()  # the CUDA graphs' output buffer stays as it was
        for i in adjusted:
            adjust_logits(logits[i], params[i], histories[i] if histories is not None else None)
            if banned is not None and banned[i]:
                logits[i, torch.tensor(list(banned[i]), dtype=torch.int64, device=logits.device)] = float("-inf")
    constrained = [p.constrained_output for p in params]  # those rows draw in _draw_json, from their own generator
    if not any(constrained):
        tokens = _draw(logits, params, generators)
    else:  # (drawing the others only: a [V] argmax or sort per constrained row would be thrown away)
        free = [i for i, c in enumerate(constrained) if not c]
        drawn = _draw(logits[free], [params[i] for i in free], [generators[i] for i in free]) if free else []
        tokens = [0] * len(params)
        for i, t in zip(free, drawn, strict=True):
            tokens[i] = t
    for i, p in enumerate(params):
        if p.constrained_output:
            if constraints is None or constraints[i] is None:
                raise ValueError("JSON-mode rows need their constraint")
            tokens[i] = _draw_json(logits[i], p, generators[i], constraints[i])
    logprobs: list[TokenLogprob | None] = [None] * len(params)
    if raw is not None:
        scored = token_logprobs(raw, [tokens[i] for i in wants_logprobs], [params[i].logprobs for i in wants_logprobs])
        for i, lp in zip(wants_logprobs, scored, strict=True):
            logprobs[i] = lp
    return Sampled(tokens, logprobs)


def token_logprobs(logits: torch.Tensor, token_ids: list[int], num_top: list[int]) -> list[TokenLogprob]:
    """logits [R, V] (the model's raw logits) -> per row, token_ids[r]'s log-probability and the num_top[r] most
    likely tokens. Sampled tokens and prompt tokens (prompt_logprobs) are scored alike."""
    logprobs = logits.float().log_softmax(dim=-1)
    top_values, top_ids = logprobs.topk(max(max(num_top), 1), dim=-1)
    chosen = logprobs.gather(1, torch.tensor(token_ids, device=logits.device)[:, None])[:, 0].tolist()
    top_values, top_ids = top_values.tolist(), top_ids.tolist()
    return [
        TokenLogprob(t, chosen[r], list(zip(top_ids[r][:k], top_values[r][:k], strict=True)))
        for r, (t, k) in enumerate(zip(token_ids, num_top, strict=True))
    ]


def adjust_logits(row: torch.Tensor, params: SamplingParams, history: TokenHistory | None) -> None:
    """row [V] logits, in place: the logit bias, then the repetition penalty over prompt + output ids, then the
    presence/frequency penalties over the output (history: needed where params are penalized)."""
    device = row.device
    if params.logit_bias:
        ids = torch.tensor(list(params.logit_bias), dtype=torch.int64, device=device)
        row[ids] += torch.tensor(list(params.logit_bias.values()), dtype=row.dtype, device=device)
    if params.repetition_penalty != 1.0:
        seen = torch.tensor(sorted({*history.prompt_ids, *history.output_ids}), dtype=torch.int64, device=device)
        values = row[seen]
        row[seen] = torch.where(values > 0, values / params.repetition_penalty, values * params.repetition_penalty)
    if (params.presence_penalty or params.frequency_penalty) and history.output_ids:
        counts = torch.bincount(torch.tensor(history.output_ids, dtype=torch.int64, device=device),
                                minlength=row.shape[0]).to(row.dtype)  # fmt: skip
        row -= params.frequency_penalty * counts + params.presence_penalty * (counts > 0).to(row.dtype)


def _draw_json(row: torch.Tensor, params: SamplingParams, generator, constraint: JsonConstraint) -> int:
    """row [V] (adjusted logits) -> a token the constraint allows: among the JSON_CANDIDATES best-ranked tokens, the
    first valid one (greedy), or a draw after temperature, top-k and top-p among the valid ones; if none of those is
    valid, the best-ranked valid token of the rest; if none at all, the constraint is marked stuck."""
    best = row.topk(min(JSON_CANDIDATES, row.shape[0])).indices.tolist()  # not a sort of the vocabulary per step
    if params.temperature == 0:  # greedy: the first valid one in rank order (mostly the first: the model's choice)
        valid = next(([t] for t in best if constraint.allows(t)), [])
    else:
        valid = [t for t in best if constraint.allows(t)]
    if not valid:
        checked = set(best)
        rest = (t for t in row.argsort(descending=True).tolist() if t not in checked)
        valid = [next((t for t in rest if constraint.allows(t)), -1)]
        if valid[0] < 0:  # a dead end (e.g. maxLength reached where a pattern needs more): the request fails,
            constraint.stuck = True  # not the step's other rows (the engine ends it with 'error')
            return best[0]
    if params.temperature == 0 or len(valid) == 1:
        return valid[0]
    [choice] = _draw(row[torch.tensor(valid, device=row.device)][None], [params], [generator])
    return valid[choice]


def _draw(logits: torch.Tensor, params: list[SamplingParams], generators: list[torch.Generator | None]) -> list[int]:
    """logits [B, V] float32 -> one token id per row: argmax, or a draw after temperature, top-k, top-p and min-p."""
    return draw_on_device(logits, params, generators).tolist()


def draw_on_device(
    logits: torch.Tensor, params: list[SamplingParams], generators: list[torch.Generator | None]
) -> torch.Tensor:
    """_draw's tokens as a [B] int64 tensor on the logits' device, without waiting for the device (multi-step
    decoding feeds them to the next step). Rows whose params are not draws_on_device need sample().

    The sampled rows' settings reach the device in one copy from page-locked memory (a copy from pageable memory
    would wait for the stream: for the steps queued behind this one, in a multi-step decode), and the sampled rows
    draw together, in two groups: rows with a top-k, top-p or min-p cut sort their logits, plain temperature rows (the
    OpenAI API's defaults) need no sort. Each group runs one exponential race for all its rows, redrawn from its own
    generator for a seeded request's row only (a loop of small kernels per row left the GPU idle ~60 us a row). Which
    group a row is in depends on its own params only, so a seeded request draws the same alone or in any batch."""
    tokens = logits.argmax(dim=-1)  # [B]: the greedy rows' answer, overwritten for sampled rows
    if logits.device.type == "cpu":
        for i, p in enumerate(params):
            if p.temperature > 0:
                tokens[i] = _draw_row_cpu(logits[i], p, generators[i])
        return tokens
    plain = [i for i, p in enumerate(params) if p.temperature > 0 and not _cuts(p)]
    cut = [i for i, p in enumerate(params) if p.temperature > 0 and _cuts(p)]
    if not plain and not cut:
        return tokens
    rows = plain + cut
    settings = [rows, [params[i].temperature for i in rows], [params[i].top_k for i in rows],
                [params[i].top_p for i in rows], [params[i].min_p for i in rows]]  # fmt: skip
    on_cuda = logits.device.type == "cuda"
    settings = torch.tensor(settings, dtype=torch.float64, pin_memory=on_cuda).to(logits.device, non_blocking=True)
    index, temperature = settings[0].long(), settings[1].float()  # [R]
    n = len(plain)
    if plain:
        probs = (logits[index[:n]] / temperature[:n, None]).softmax(dim=-1)  # [P, V]
        tokens[index[:n]] = _race(probs, [generators[i] for i in plain])
    if cut:
        sorted_logits, order = (logits[index[n:]] / temperature[n:, None]).sort(dim=-1, descending=True)  # [C, V]
        probs = cut_sorted(sorted_logits, settings[2, n:].long(), settings[3, n:].float(), settings[4, n:].float())
        tokens[index[n:]] = order.gather(1, _race(probs, [generators[i] for i in cut])[:, None])[:, 0]
    return tokens


CPU_PREFIX = 1024  # the best-ranked tokens a CPU row sorts, when they are sure to hold every token its cuts keep


def _draw_row_cpu(row: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> int:
    """One sampled row on the CPU: the same distribution as the device's draw, drawn by inverse CDF (one uniform
    from the row's generator, a cumulative sum and a binary search: ~0.05 ms at a 49,152 vocabulary, where the
    exponential race's 49,152 exponentials took 0.8 ms and torch.multinomial 0.9), and with cuts, only the best-ranked
    CPU_PREFIX tokens sorted when they hold all the kept ones (a full sort took 2.6 ms)."""
    scaled = row.float() / params.temperature
    if _cuts(params):
        probs, ids = cut_distribution(scaled, params)
    else:
        probs, ids = scaled.softmax(dim=-1), None
    cdf = probs.double().cumsum(dim=0)
    u = torch.rand(1, generator=generator, dtype=torch.float64) * cdf[-1]
    j = min(int(torch.searchsorted(cdf, u, right=True)), cdf.shape[0] - 1)
    return int(ids[j]) if ids is not None else j


def cut_distribution(scaled: torch.Tensor, params: SamplingParams, prefix: int = CPU_PREFIX
                     ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """scaled [V] (logits / temperature) -> (probabilities [k], token ids [k]) of the best-ranked tokens after the
    top-k, top-p and min-p cuts (cut_sorted's rules; dropped ones have probability 0). Sorts only the `prefix`
    (or 8 x prefix) best-ranked tokens when every token past them is dropped anyway (top_k within them; or their
    probability reaches top_p; or their last is below min_p of the first), else the whole row."""
    v = scaled.shape[0]
    top_k, top_p, min_p = params.top_k, params.top_p, params.min_p
    whole = scaled.logsumexp(dim=0)  # the top-p cut's normaliser without a top-k cut
    for size in (prefix, 8 * prefix, v):  # a larger prefix before the whole row (flatter rows need more tokens)
        values, ids = scaled.topk(size) if size < v else scaled.sort(descending=True)  # sorted, descending
        if size >= v or 0 < top_k <= size:
            break
        if top_k <= 0 and ((top_p < 1.0 and (values - whole).exp().sum() >= top_p)
                           or (min_p > 0.0 and (values[-1] - values[0]).exp() < min_p)):  # fmt: skip
            break  # every token past the prefix is dropped (a top_k past it needs them for its normaliser)
    settings = torch.tensor([[float(top_k)], [top_p], [min_p]])  # [3, 1]: one row's cuts (top_k exact in float32)
    cut = cut_sorted(values[None], *settings, whole=whole[None])
    return cut[0], ids


def cut_sorted(values: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor, min_p: torch.Tensor,
               whole: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """The sampling cuts, for the device's batched draw and the CPU's row alike. values [R, C] (logits / temperature,
    each row sorted descending), top_k [R] (0: none), top_p [R], min_p [R] -> probabilities [R, C], 0 where dropped:
    top-k; then drop a token once the tokens ranked above it already reach top_p (the first one always stays); then
    min-p, a token less likely than min_p times the first. whole [R]: where values hold only a row's best-ranked
    prefix, the whole row's logsumexp, the top-p cut's normaliser for rows without a top-k cut (None: the whole row)."""
    rank = torch.arange(values.shape[1], device=values.device)
    dropped = (top_k[:, None] > 0) & (rank[None, :] >= top_k[:, None])  # top-k
    masked = values.masked_fill(dropped, float("-inf"))
    normaliser = masked.logsumexp(dim=-1)  # [R]
    if whole is not None:
        normaliser = torch.where(top_k > 0, normaliser, whole)
    probs = (masked - normaliser[:, None]).exp()
    dropped |= (probs.cumsum(dim=-1) - probs) >= top_p[:, None]  # top-p
    # min-p, on the logits: a ratio of probabilities is the same before and after the top-p cut renormalises
    dropped |= values < values[:, :1] + min_p.log()[:, None]  # (min_p 0: log -inf, nothing dropped)
    return values.masked_fill(dropped, float("-inf")).softmax(dim=-1)


def _cuts(params: SamplingParams) -> bool:
    """Whether a sampled row cuts its distribution (top-k, top-p or min-p): it then sorts its logits."""
    return params.top_k > 0 or params.top_p < 1.0 or params.min_p > 0.0


def _race(probs: torch.Tensor, generators: list[torch.Generator | None]) -> torch.Tensor:
    """probs [R, V] -> [R] column drawn from each row: the exponential race, argmax(p / Exp(1)). One draw for every
    row; a row with a generator of its own (a seeded request) redraws its noise from it."""
    race = torch.empty_like(probs).exponential_()
    for j, generator in enumerate(generators):
        if generator is not None:
            race[j].exponential_(generator=generator)
    return (probs / race).argmax(dim=-1)
