"""Sampling parameters: validation, greedy, top-k/top-p cuts, per-request seeds; stop strings and stop tokens."""

from __future__ import annotations

import pytest
import torch

from server.errors import InvalidParamsError
from server.sampling import SamplingParams, TokenHistory, adjust_logits, sample
from server.tokenizer import ByteTokenizer, IncrementalDetokenizer
from tests.server.conftest import collect, create_engine, greedy, prompt_ids


@pytest.mark.parametrize(
    "field, value",
    [("max_tokens", 0), ("max_tokens", 5000), ("temperature", -0.1), ("temperature", float("nan")),
     ("top_p", 0.0), ("top_p", 1.5), ("top_k", -1), ("seed", -3), ("stop", [""]), ("stop", "abc"),
     ("stop_token_ids", [256]), ("repetition_penalty", 0.0), ("repetition_penalty", float("inf")),
     ("presence_penalty", 2.5), ("frequency_penalty", -3.0), ("logprobs", -1), ("logprobs", 21),
     ("logit_bias", {256: 1.0}), ("logit_bias", {3: 101.0}), ("logit_bias", {3: float("nan")}),
     ("min_p", -0.1), ("min_p", 1.5), ("min_p", float("nan")), ("min_tokens", -1), ("min_tokens", 200)],
)
def test_invalid_params_name_the_field(field, value):
    with pytest.raises(InvalidParamsError, match=field):
        SamplingParams(**{field: value}).validate(max_new_tokens=1024, vocab_size=256)


def draws(logits, params, n=1):
    gens = [p.make_generator(torch.device("cpu")) for p in params]
    return [sample(logits, params, gens).tokens for _ in range(n)]


def test_greedy_top_k_1_and_tiny_top_p_all_pick_the_argmax():
    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    params = [SamplingParams(), SamplingParams(temperature=1.0, top_k=1), SamplingParams(temperature=2.0, top_p=1e-6)]
    for tokens in draws(logits, params, n=5):
        assert tokens == logits.argmax(-1).tolist()


def test_top_k_and_top_p_keep_only_their_set():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]] * 2))
    params = [SamplingParams(temperature=1.0, top_k=2, seed=1), SamplingParams(temperature=1.0, top_p=0.7, seed=2)]
    seen = [set(), set()]
    for tokens in draws(logits, params, n=300):
        seen[0].add(tokens[0])
        seen[1].add(tokens[1])
    assert seen == [{0, 1}, {0, 1}]  # top_p 0.7: 0.5 is not enough, 0.5 + 0.3 is


def test_min_p_keeps_only_the_tokens_within_its_share_of_the_most_likely():
    """min_p 0.5 of a 0.5 top token keeps p >= 0.25: tokens 0 and 1; 0.25 keeps p >= 0.125: 0, 1 and 2; after a top-k
    cut it applies to what is left; min_p 1 keeps the argmax alone."""
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]] * 4))
    params = [SamplingParams(temperature=1.0, min_p=0.5, seed=1), SamplingParams(temperature=1.0, min_p=0.25, seed=2),
              SamplingParams(temperature=1.0, min_p=0.25, top_k=2, seed=3), SamplingParams(temperature=1.0, min_p=1.0)]
    seen = [set() for _ in params]
    counts = torch.zeros(4)
    for tokens in draws(logits, params, n=1000):
        for s, t in zip(seen, tokens, strict=True):
            s.add(t)
        counts[tokens[0]] += 1
    assert seen == [{0, 1}, {0, 1, 2}, {0, 1}, {0}]
    assert counts[0] / 1000 == pytest.approx(0.5 / 0.8, abs=0.05)  # the kept tokens renormalised


def test_a_banned_token_is_never_drawn_and_the_logprobs_stay_the_models():
    """sample(banned=...): min_tokens' ban of a row's stop ids, on its logits only; logprobs describe the model."""
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1]]))
    params = [SamplingParams(logprobs=1), SamplingParams(temperature=1.0, seed=4)]
    for _ in range(50):
        sampled = sample(logits, params, [None, params[1].make_generator(torch.device("cpu"))],
                         banned=[frozenset({0}), frozenset({0, 2})])  # fmt: skip
        assert sampled.tokens == [1, 1]
    assert sampled.logprobs[0].logprob == pytest.approx(logits[0, 1].item())
    assert sampled.logprobs[0].top[0][0] == 0  # the model's most likely token, though banned
    assert sample(logits[:1], params[:1], [None], banned=[frozenset()]).tokens == [0]


def test_sampling_follows_the_distribution():
    probs = torch.tensor([0.6, 0.3, 0.1])
    params = [SamplingParams(temperature=1.0, seed=5)]
    tokens = [t[0] for t in draws(probs.log()[None], params, n=3000)]
    freq = torch.bincount(torch.tensor(tokens), minlength=3) / 3000
    torch.testing.assert_close(freq, probs, atol=0.03, rtol=0)


def test_a_seeded_request_draws_the_same_alone_or_in_a_batch():
    logits = torch.randn(4, 64, generator=torch.Generator().manual_seed(1))
    seeded = SamplingParams(temperature=0.8, top_p=0.9, seed=42)
    alone = [t[0] for t in draws(logits[2:3], [seeded], n=10)]
    others = [SamplingParams(temperature=1.0), SamplingParams(), seeded, SamplingParams(temperature=1.0, top_k=3)]
    in_batch = [t[2] for t in draws(logits, others, n=10)]
    assert alone == in_batch


def reference_cut(scaled: torch.Tensor, p: SamplingParams) -> torch.Tensor:
    """The cut rules on a whole sorted row, written out: [V] probabilities by token id (0 where dropped)."""
    values, ids = scaled.sort(descending=True)
    keep = torch.ones(values.shape[0], dtype=torch.bool)
    if p.top_k > 0:
        keep[p.top_k :] = False

    def renormalised():
        return values.masked_fill(~keep, float("-inf")).softmax(dim=0)

    probs = renormalised()
    keep &= (probs.cumsum(dim=0) - probs) < p.top_p  # a token stays while those above it are short of top_p
    probs = renormalised()
    keep &= probs >= p.min_p * probs[0]
    dense = torch.zeros_like(scaled)
    dense[ids] = renormalised()
    return dense


@pytest.mark.parametrize("params", [
    SamplingParams(temperature=1.0, top_p=0.9), SamplingParams(temperature=1.0, top_p=0.999),
    SamplingParams(temperature=1.0, top_k=40), SamplingParams(temperature=1.0, top_k=3000, top_p=0.95),
    SamplingParams(temperature=1.0, min_p=0.05), SamplingParams(temperature=1.0, min_p=0.001),
    SamplingParams(temperature=1.0, top_k=100, top_p=0.8, min_p=0.02),
])  # fmt: skip
def test_a_cpu_row_sorts_only_its_best_tokens_when_they_hold_all_it_keeps(params):
    """cut_distribution sorts the 1,024 best-ranked tokens when every token past them is dropped anyway, the whole
    row otherwise (flat rows, a top_k past them, a top_p of 0.999); either way it keeps what the rules keep."""
    from server.sampling import cut_distribution

    for scale in (0.3, 2.0, 6.0):  # from flat (most of the 5,000 tokens kept) to peaked
        scaled = torch.randn(5000, generator=torch.Generator().manual_seed(7)) * scale
        probs, ids = cut_distribution(scaled, params)
        dense = torch.zeros_like(scaled)
        dense[ids] = probs
        # (atol: a token of ~1e-6 right at the top_p boundary may fall either side of float rounding)
        torch.testing.assert_close(dense, reference_cut(scaled, params), atol=1e-5, rtol=1e-4)


def test_the_devices_batched_cuts_keep_what_each_rows_rules_keep():
    """draw_on_device's form of the cuts (cut_sorted over whole sorted rows, each row its own top-k, top-p and
    min-p, in one batch), here on the CPU: each row's distribution is the reference's for its own params."""
    from server.sampling import cut_sorted

    params = [SamplingParams(temperature=1.0, top_p=0.9), SamplingParams(temperature=1.0, top_k=40),
              SamplingParams(temperature=1.0, min_p=0.05), SamplingParams(temperature=1.0, top_k=100, top_p=0.8,
                                                                            min_p=0.02),
              SamplingParams(temperature=1.0, top_k=3000, top_p=0.95)]  # fmt: skip
    rows = torch.randn(len(params), 5000, generator=torch.Generator().manual_seed(3))
    rows *= torch.tensor([0.3, 2.0, 6.0, 2.0, 0.3])[:, None]  # flat to peaked
    values, order = rows.sort(dim=-1, descending=True)
    settings = torch.tensor([[p.top_k, p.top_p, p.min_p] for p in params], dtype=torch.float64).T
    probs = cut_sorted(values, settings[0].long(), settings[1].float(), settings[2].float())
    for r, p in enumerate(params):
        dense = torch.zeros(5000).scatter(0, order[r], probs[r])
        torch.testing.assert_close(dense, reference_cut(rows[r], p), atol=1e-5, rtol=1e-4)


def test_a_peaked_row_sorts_its_prefix_a_flatter_one_more_and_a_flat_one_the_whole_row():
    from server.sampling import CPU_PREFIX, cut_distribution

    row = torch.randn(20000, generator=torch.Generator().manual_seed(7))
    top_p = SamplingParams(temperature=1.0, top_p=0.9)
    sizes = [len(cut_distribution(row * scale, top_p)[1]) for scale in (6.0, 2.0, 0.5)]
    assert sizes == [CPU_PREFIX, 8 * CPU_PREFIX, 20000]  # peaked, in between, flat
    row = row[:5000]
    assert len(cut_distribution(row, SamplingParams(temperature=1.0, top_k=50))[1]) == CPU_PREFIX
    assert len(cut_distribution(row, SamplingParams(temperature=1.0, top_k=2000))[1]) == 5000


def test_a_cpu_row_draws_from_its_cut_distribution_over_a_large_vocabulary():
    logits = torch.randn(1, 20000, generator=torch.Generator().manual_seed(3))
    logits[0, :4] = torch.tensor([9.0, 8.5, 8.0, 7.0])  # four likely tokens, then a long tail
    for params in (SamplingParams(temperature=1.0, seed=11), SamplingParams(temperature=0.7, top_p=0.9, seed=12)):
        tokens = torch.tensor([t[0] for t in draws(logits, [params], n=3000)])
        expected = reference_cut(logits[0] / params.temperature, params)[:4]
        freq = torch.bincount(tokens, minlength=20000)[:4] / 3000
        torch.testing.assert_close(freq, expected, atol=0.03, rtol=0)


def test_unseeded_rows_draw_together_each_from_its_own_distribution():
    """Unseeded requests have no generator of their own (one race for all their rows); each row still follows its
    own distribution and settings, beside greedy and seeded rows."""
    first, second = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.1, 0.3, 0.6])
    logits = torch.stack([first.log(), torch.tensor([0.0, 5.0, 0.0]), second.log(), second.log()])
    params = [SamplingParams(temperature=1.0), SamplingParams(), SamplingParams(temperature=1.0, seed=3),
              SamplingParams(temperature=1.0, top_k=2)]  # fmt: skip
    assert [p.make_generator(torch.device("cpu")) is None for p in params] == [True, True, False, True]
    tokens = torch.tensor(draws(logits, params, n=3000))  # [n, 4]
    for row, probs in ((0, first), (2, second), (3, torch.tensor([0.0, 1 / 3, 2 / 3]))):
        freq = torch.bincount(tokens[:, row], minlength=3) / 3000
        torch.testing.assert_close(freq, probs, atol=0.03, rtol=0)
    assert set(tokens[:, 1].tolist()) == {1}  # the greedy row


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits_of_seen_tokens():
    logits = torch.tensor([[3.0, 2.5, -1.0, -1.5], [3.0, 2.5, -1.0, -1.5]])
    params = [SamplingParams(repetition_penalty=2.0), SamplingParams()]  # the second row: no penalty, no history
    history = TokenHistory(prompt_ids=[0], output_ids=[2, 2])
    sampled = sample(logits, params, [None, None], [history, None])
    assert sampled.tokens == [1, 0]  # row 0: 3.0 / 2 = 1.5 < 2.5
    penalized = logits[0].clone()
    adjust_logits(penalized, params[0], history)
    assert penalized.tolist() == [1.5, 2.5, -2.0, -1.5]  # token 2 (seen, negative) is pushed further down
    assert logits[0].tolist() == [3.0, 2.5, -1.0, -1.5]  # the caller's logits (a CUDA graph's buffer) unchanged


def test_presence_and_frequency_penalties_count_the_output_only():
    row = torch.zeros(5)
    params = SamplingParams(presence_penalty=0.5, frequency_penalty=0.25)
    adjust_logits(row, params, TokenHistory(prompt_ids=[4, 4, 4], output_ids=[1, 3, 3, 3]))
    assert row.tolist() == [0.0, -0.75, 0.0, -1.25, 0.0]
    with pytest.raises(ValueError, match="history"):
        sample(torch.zeros(1, 5), [params], [None])


def test_logprobs_are_the_models_own_whatever_the_sampling_settings():
    logits = torch.randn(3, 40, generator=torch.Generator().manual_seed(2))
    params = [SamplingParams(logprobs=3), SamplingParams(), SamplingParams(temperature=5.0, top_k=2, seed=1,
                                                                           repetition_penalty=3.0, logprobs=0)]
    history = TokenHistory(prompt_ids=logits[2].topk(4).indices.tolist(), output_ids=[])
    sampled = sample(logits, params, [p.make_generator(torch.device("cpu")) for p in params], [None, None, history])
    model = logits.log_softmax(-1)
    first, none, last = sampled.logprobs
    assert none is None and first.token_id == sampled.tokens[0] == logits[0].argmax()
    top = model[0].topk(3)
    assert [t for t, _ in first.top] == top.indices.tolist()
    torch.testing.assert_close(torch.tensor([lp for _, lp in first.top]), top.values)
    assert first.logprob == pytest.approx(top.values[0].item())  # greedy: the chosen token is the most likely
    assert last.top == [] and last.logprob == pytest.approx(model[2, sampled.tokens[2]].item())


def test_engine_seeded_sampling_is_reproducible(base, store):
    engine = create_engine(base, store)
    params = dict(max_tokens=10, temperature=1.0, top_k=50, ignore_eos=True)
    runs = [[t for o in engine.generate("alpha", prompt_ids(3, 8), SamplingParams(seed=7, **params))
             for t in o.token_ids] for _ in range(2)]
    other = [t for o in engine.generate("alpha", prompt_ids(3, 8), SamplingParams(seed=8, **params))
             for t in o.token_ids]
    assert runs[0] == runs[1] != other


def test_detokenizer_streams_whole_characters_and_hides_stop_strings():
    tok = ByteTokenizer()
    detok = IncrementalDetokenizer(tok, tok.encode("prompt "), stop=["STOP", "é!"])
    pieces = []
    for t in tok.encode("café au lait STO"):  # 'é' is two bytes: never half of it, and 'STO' may become STOP
        detok.add(t)
        assert not detok.find_stop()
        pieces.append(detok.delta(finished=False))
    assert "\ufffd" not in "".join(pieces) and "".join(pieces) == "café au lait "
    for t in tok.encode("Px"):
        detok.add(t)
    assert detok.find_stop() and detok.delta(finished=True) == ""
    assert detok.text == "café au lait "


@pytest.mark.parametrize("decode_steps", [1, 4])  # 4: stops inside multi-step plans too
def test_engine_stop_strings_and_stop_tokens(base, store, decode_steps):
    engine = create_engine(base, store, decode_steps=decode_steps)
    prompt = prompt_ids(11, 6)
    free = list(engine.generate("beta", prompt, greedy(24)))
    tokens = [t for o in free for t in o.token_ids]
    text = "".join(o.text for o in free)
    # a stop string: the first 2-character window (from the 3rd character on) that occurs nowhere earlier
    start = next(i for i in range(2, len(text) - 1)
                 if "\ufffd" not in text[i:i + 2] and text.find(text[i:i + 2]) == i)
    stop = text[start:start + 2]
    stopped = list(engine.generate("beta", prompt, greedy(24, stop=[stop])))
    assert "".join(o.text for o in stopped) == text[:start]
    assert stopped[-1].finish_reason == "stop" and stop not in "".join(o.text for o in stopped)
    stop_token = tokens[5]
    by_token = list(engine.generate("beta", prompt, greedy(24, stop_token_ids=[stop_token])))
    got = [t for o in by_token for t in o.token_ids]
    assert got == tokens[: tokens.index(stop_token) + 1] and by_token[-1].finish_reason == "stop"
    assert list(engine.generate("beta", prompt, greedy(4)))[-1].finish_reason == "length"


@pytest.mark.parametrize("decode_steps", [1, 4])
def test_engine_min_tokens_holds_off_stop_tokens_and_stop_strings(base, store, decode_steps):
    """min_tokens (vLLM's): before that many tokens a stop token id is never drawn and a stop string ends nothing;
    from then on both end the request as before."""
    engine = create_engine(base, store, decode_steps=decode_steps)
    prompt = prompt_ids(11, 6)
    free = list(engine.generate("beta", prompt, greedy(16)))
    tokens = [t for o in free for t in o.token_ids]
    text = "".join(o.text for o in free)
    first = next(i for i in range(2, 8) if tokens[i] not in tokens[:i])  # a token first drawn before the 8th
    stop_token = tokens[first]
    assert list(engine.generate("beta", prompt, greedy(16, stop_token_ids=[stop_token])))[-1].finish_reason == "stop"
    held = list(engine.generate("beta", prompt, greedy(16, stop_token_ids=[stop_token], min_tokens=8)))
    got = [t for o in held for t in o.token_ids]
    assert got[:first] == tokens[:first] and stop_token not in got[:8] and len(got) > 8
    if len(got) < 16:  # it stopped: on its stop token, drawn once allowed
        assert held[-1].finish_reason == "stop" and got[-1] == stop_token
    start = next(i for i in range(2, len(text) - 1)
                 if "\ufffd" not in text[i:i + 2] and text.find(text[i:i + 2]) == i)
    no_stop = list(engine.generate("beta", prompt, greedy(16, stop=[text[start:start + 2]], min_tokens=16)))
    assert "".join(o.text for o in no_stop) == text and no_stop[-1].finish_reason == "length"


def hf_byte_level_tokenizer():
    """A real Hugging Face fast tokenizer (byte-level BPE, as SmolLM2's), trained here in milliseconds."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["The café in Zürich serves crème brûlée — 日本語 too. def f(x): return x"] * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")


def test_streamed_text_is_the_decoded_text_with_a_real_tokenizer():
    tok = hf_byte_level_tokenizer()
    prompt = tok.encode("The café")
    texts = [" in Zürich serves crème brûlée — 日本語 too.", " def f(x): return x"]
    g = torch.Generator().manual_seed(0)
    random_ids = torch.randint(0, len(tok), (40,), generator=g).tolist()  # any ids, split characters included
    for ids in [tok.encode(t) for t in texts] + [random_ids]:
        detok = IncrementalDetokenizer(tok, prompt, stop=[])
        streamed = []
        for t in ids:
            detok.add(t)
            streamed.append(detok.delta(finished=False))
        streamed.append(detok.delta(finished=True))
        assert "".join(streamed) == tok.decode(prompt + ids)[len(tok.decode(prompt)):]
        assert all("\ufffd" not in s for s in streamed[:-1]) or ids is random_ids


def test_engine_penalties_follow_the_requests_own_history(base, store):
    """Greedy with presence/frequency penalties: each token is the argmax of the model's log-probabilities (logprobs
    reports them unpenalized) minus the penalties of the tokens generated before it, alone or in a batch."""
    engine = create_engine(base, store)
    penalized = greedy(12, presence_penalty=0.5, frequency_penalty=1.0, logprobs=20)
    prompt = prompt_ids(5, 7)
    outs = list(engine.generate("gamma", prompt, penalized))
    tokens = [t for o in outs for t in o.token_ids]
    logprobs = [lp for o in outs for lp in o.logprobs]
    assert len(tokens) == len(logprobs) == 12 and [lp.token_id for lp in logprobs] == tokens
    for i, step in enumerate(logprobs):  # the penalized argmax is among the top 20: 12 tokens seen at most
        counts = {t: tokens[:i].count(t) for t in set(tokens[:i])}
        score = {t: lp - 1.0 * counts.get(t, 0) - 0.5 * (t in counts) for t, lp in step.top}
        assert tokens[i] == max(score, key=score.get)
    assert any(step.top[0][0] != t for step, t in zip(logprobs, tokens, strict=True))  # a penalty changed a choice
    handles = [engine.add_request("gamma", prompt, penalized), engine.add_request("alpha", prompt, greedy(12)),
               engine.add_request("gamma", prompt_ids(6, 3), penalized)]  # fmt: skip
    assert collect(engine, handles)[handles[0].request_id] == tokens


def test_prompt_logprobs_score_each_prompt_token_as_generation_would(base, store):
    """A prompt scored with max_tokens=0 gives, at the positions of a greedy continuation fed back as prompt, the
    log-probabilities the generation reported; chunked over several steps, nothing is missing or repeated."""
    engine = create_engine(base, store, max_num_batched_tokens=16)  # 40-token prompts: three chunks
    prompt = prompt_ids(7, 37)
    generated = list(engine.generate("alpha", prompt, greedy(3, logprobs=2)))
    tokens = [t for o in generated for t in o.token_ids]
    scored = list(engine.generate("alpha", prompt + tokens, SamplingParams(max_tokens=0, prompt_logprobs=2)))
    assert len(scored) == 1 and scored[0].finished and scored[0].finish_reason == "length"
    assert scored[0].token_ids == [] and scored[0].usage.completion_tokens == 0
    lps = scored[0].prompt_logprobs
    assert len(lps) == 40 and lps[0] is None and [lp.token_id for lp in lps[1:]] == (prompt + tokens)[1:]
    assert all(len(lp.top) == 2 and lp.logprob <= lp.top[0][1] + 1e-6 for lp in lps[1:])
    for lp, gen in zip(lps[37:], [lp for o in generated for lp in o.logprobs], strict=True):
        assert lp.logprob == pytest.approx(gen.logprob, abs=1e-4) and lp.top[0][0] == gen.top[0][0]
    again = list(engine.generate("alpha", prompt + tokens, SamplingParams(max_tokens=2, prompt_logprobs=0)))
    assert engine.stats().prefix_cache_hit_tokens_total == 0  # scoring computes every prompt token
    assert [lp.logprob for lp in again[0].prompt_logprobs[1:]] == pytest.approx([lp.logprob for lp in lps[1:]],
                                                                                abs=1e-4)  # fmt: skip
    assert all(o.prompt_logprobs is None for o in again[1:]) and len(again[-1].token_ids) == 1
    with pytest.raises(InvalidParamsError, match="max_tokens"):
        engine.add_request("alpha", prompt, SamplingParams(max_tokens=0))  # nothing to do


def test_prompt_logprobs_survive_preemption(base, store):
    engine = create_engine(base, store, num_blocks=16, max_num_seqs=4)  # 15 blocks of 4 tokens: preemptions
    prompts = [prompt_ids(20 + i, 9 + 3 * i) for i in range(4)]
    handles = [engine.add_request("beta", p, greedy(12, prompt_logprobs=1)) for p in prompts]
    engine.run_until_idle(timeout_s=120)
    assert engine.stats().preemptions_total > 0
    for handle, prompt in zip(handles, prompts, strict=True):
        first = handle.poll()[0]
        assert [lp.token_id for lp in first.prompt_logprobs[1:]] == prompt[1:]


def test_logit_bias_moves_the_choice_but_not_the_reported_logprobs():
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    banned = sample(logits, [SamplingParams(logit_bias={0: -100.0}, logprobs=1)], [None])
    assert banned.tokens == [1] and banned.logprobs[0].top[0][0] == 0  # the model still ranks token 0 first
    forced = sample(logits, [SamplingParams(temperature=1.0, seed=0, logit_bias={2: 100.0})], [torch.Generator()])
    assert forced.tokens == [2] and logits.tolist() == [[2.0, 1.0, 0.0]]
