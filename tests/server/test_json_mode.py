"""JSON mode: the recognizer accepts exactly the prefixes of valid JSON objects; the engine's output parses."""

from __future__ import annotations

import json

import pytest
import torch

from server.errors import InvalidParamsError
from server.json_mode import MAX_WHITESPACE, JsonConstraint, JsonPrefix
from server.sampling import SamplingParams
from server.tokenizer import ByteTokenizer, TokenTexts

from .conftest import create_engine, prompt_ids

VALID = [
    '{}', '{"a": 1}', '{"a": -0.5e+10, "b": [true, false, null, "x\\"y\\u00e9"], "c": {"d": []}}',
    '{"k": [1, [2, [3]], {"z": 0}], "e": 1E5, "s": "tab\\tnew\\nline"}', ' {"a" : [ ] } ',
]
INVALID = [
    '[]', '"text"', '{a: 1}', '{"a" 1}', '{"a": 01}', '{"a": 1,}', '{"a": [1,]}', '{"a": tru}', '{"a": .5}',
    '{"a": "\\x"}', '{"a": "line\nbreak"}', '{"a": 1}}', '{"a": 1} x', '{"a": -}', '{"a": 1.}',
]


def reads(text: str) -> tuple[bool, bool]:
    """(every character accepted, a whole object read)."""
    p = JsonPrefix()
    ok = p.feed_text(text)
    return ok, ok and p.complete


@pytest.mark.parametrize("text", VALID)
def test_valid_objects_are_accepted_to_the_end_and_complete(text):
    assert reads(text) == (True, True) and is_json_object(text)
    for cut in range(len(text.rstrip())):  # every proper prefix is accepted, none complete
        assert reads(text[:cut]) == (True, False), text[:cut]


def is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


@pytest.mark.parametrize("text", INVALID)
def test_what_is_not_a_json_object_is_refused(text):
    assert not is_json_object(text)  # the recognizer agrees with Python's json module
    assert reads(text) != (True, True)


def test_runs_of_whitespace_are_bounded():
    assert reads("{" + " " * MAX_WHITESPACE) == (True, False)
    assert reads("{" + " " * (MAX_WHITESPACE + 1))[0] is False
    assert reads('{"a": "' + " " * 50 + '"}') == (True, True)  # inside strings, spaces are content


def test_a_constraint_allows_only_tokens_that_keep_the_prefix():
    constraint = JsonConstraint(TokenTexts(ByteTokenizer(), skip_special_tokens=True))
    assert [t for t in range(256) if constraint.allows(t)] == [ord(c) for c in "\t\n\r {"]
    for ch in '{"a":':
        constraint.advance(ord(ch))
    assert constraint.allows(ord("1")) and constraint.allows(ord("[")) and not constraint.allows(ord("}"))
    with pytest.raises(ValueError):
        constraint.advance(ord("}"))


def random_value(rng, depth: int = 0):
    kind = rng.choice(["obj", "arr", "str", "num", "lit"] if depth < 3 else ["str", "num", "lit"])
    if kind == "obj":
        return {f"k{rng.randrange(100)}": random_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if kind == "arr":
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "str":
        return "".join(rng.choice('ab "\\\n\té€') for _ in range(rng.randrange(6)))
    if kind == "num":
        return rng.choice([0, -3, 17, 2.5, -0.001, 1e21, 123456789])
    return rng.choice([True, False, None])


def test_random_objects_and_their_mutations_agree_with_the_json_module():
    import random

    rng = random.Random(0)
    for _ in range(300):
        obj = {f"k{i}": random_value(rng) for i in range(rng.randrange(1, 4))}
        text = json.dumps(obj, ensure_ascii=rng.random() < 0.5, separators=rng.choice([(",", ":"), (", ", ": ")]))
        assert reads(text) == (True, True), text
        cut = rng.randrange(len(text))
        mutated = rng.choice([text[:cut] + text[cut + 1:], text[:cut] + rng.choice('{}[]",:0e-.tx ') + text[cut:]])
        assert (reads(mutated) == (True, True)) == is_json_object(mutated), mutated


def test_the_engine_keeps_every_output_a_json_object_prefix_and_stops_when_it_is_whole(base, store):
    """A random tiny model (whose favourite bytes are anything but JSON), greedy and sampled: every output reads as
    a prefix of a JSON object, and those that end with 'stop' parse as one (nothing follows the closing brace).
    With '}' and '"' pushed up (logit_bias), every output closes early: the recognizer, not luck, makes it whole."""
    engine = create_engine(base, store)
    for seed in range(4):
        for temperature in (0.0, 1.0):
            for bias in ({}, {ord("}"): 30.0, ord('"'): 20.0, ord(":"): 20.0}):
                params = SamplingParams(max_tokens=80, temperature=temperature, seed=seed, json_object=True,
                                        logit_bias=bias)  # fmt: skip
                outs = list(engine.generate("alpha", prompt_ids(seed, 8), params))
                text = "".join(o.text for o in outs)
                assert JsonPrefix().feed_text(text), text
                if outs[-1].finish_reason == "stop":
                    assert isinstance(json.loads(text), dict), text
                else:
                    assert outs[-1].finish_reason == "length" and not bias, text
    with pytest.raises(InvalidParamsError, match="tokenizer"):
        create_engine(base, store, tokenizer=None).add_request("alpha", [1, 2], SamplingParams(json_object=True))


def test_when_no_best_ranked_token_fits_the_best_valid_one_of_the_rest_is_taken():
    from server.sampling import sample

    constraint = JsonConstraint(TokenTexts(ByteTokenizer(), skip_special_tokens=True))
    for ch in '{"a": -':
        constraint.advance(ord(ch))  # only a digit may follow
    logits = torch.arange(256, dtype=torch.float32).flip(0)[None].clone()  # token 0 best, 255 worst
    logits[0, ord("0") : ord("9") + 1] = -10.0 - torch.arange(10.0).flip(0)  # the digits last, "9" best of them
    got = sample(logits, [SamplingParams(json_object=True)], [None], constraints=[constraint]).tokens
    assert got == [ord("9")]  # none of the best 64 fits: the best-ranked valid token of the rest
