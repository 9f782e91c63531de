"""Random schemas, patterns, choices and tool definitions, well-formed or not: every answer is a 200 or a 4xx with an
error message, never a 5xx (bad input gets a clear error, whatever part of it is bad)."""

import random

import pytest
from fastapi.testclient import TestClient

from tests.server.api_helpers import create_test_app, tiny_base

PATTERN_ATOMS = ["a", "b", ".", "\\d", "\\w", "[a-z]", "[^x]", "(", ")", "|", "*", "+", "?", "{2}", "{1,3}", "{,2}",
                 "^", "$", "\\", "[", "]", "(?:", "(?=", "\\u00", "é", "{", "}", "-", "\\b", "\\1"]  # fmt: skip
KEYWORDS = ["type", "properties", "items", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "required",
            "minLength", "maxLength", "pattern", "format", "minItems", "maxItems", "additionalProperties",
            "prefixItems", "$defs", "minimum"]  # fmt: skip


def random_pattern(rng: random.Random) -> str:
    return "".join(rng.choice(PATTERN_ATOMS) for _ in range(rng.randrange(1, 8)))


def random_schema(rng: random.Random, depth: int = 0):
    """A schema of the supported keywords with values of every kind, valid or not."""
    if depth > 3 or rng.random() < 0.2:
        return rng.choice([True, False, {}, {"type": rng.choice(["string", "integer", "object", "array", "date"])},
                           "x", 3, None, []])  # fmt: skip
    values = {
        "type": lambda: rng.choice(["string", ["string", "null"], "object", 5, []]),
        "properties": lambda: {f"k{i}": random_schema(rng, depth + 1) for i in range(rng.randrange(3))},
        "items": lambda: random_schema(rng, depth + 1),
        "enum": lambda: rng.choice([[], [1, "a", None], "x", [{"a": 1}]]),
        "const": lambda: rng.choice([1, "é", None, [1]]),
        "anyOf": lambda: [random_schema(rng, depth + 1) for _ in range(rng.randrange(3))],
        "oneOf": lambda: [random_schema(rng, depth + 1)],
        "allOf": lambda: [random_schema(rng, depth + 1) for _ in range(rng.randrange(3))],
        "$ref": lambda: rng.choice(["#", "#/$defs/a", "#/nope", 3, "http://x"]),
        "required": lambda: rng.choice([["k0"], "k0", [1]]),
        "minLength": lambda: rng.choice([0, 3, -1, True, 2.5]),
        "maxLength": lambda: rng.choice([0, 2, 100, None]),
        "pattern": lambda: random_pattern(rng),
        "format": lambda: rng.choice(["date", "email", "x", 3]),
        "minItems": lambda: rng.choice([0, 2, -1]),
        "maxItems": lambda: rng.choice([0, 1, 5, "a"]),
        "additionalProperties": lambda: rng.choice([True, False, {"type": "integer"}, 3]),
        "prefixItems": lambda: rng.choice([[random_schema(rng, depth + 1)], "x"]),
        "$defs": lambda: {"a": random_schema(rng, depth + 1)},
        "minimum": lambda: 1,
    }
    return {k: values[k]() for k in rng.sample(KEYWORDS, rng.randrange(1, 4))}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app, _ = create_test_app(tiny_base(), tmp_path_factory.mktemp("fuzz"))
    with TestClient(app) as c:
        yield c


def test_random_constraints_answer_200_or_a_4xx_with_a_message(client):
    rng = random.Random(0)
    statuses = {}
    for _ in range(200):
        kind = rng.choice(["schema", "regex", "choice", "tools"])
        body = {"model": "base", "max_tokens": 12, "temperature": rng.choice([0, 1]),
                "messages": [{"role": "user", "content": "x"}]}  # fmt: skip
        if kind == "schema":
            schema = random_schema(rng)
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
        elif kind == "regex":
            body["guided_regex"] = random_pattern(rng)
        elif kind == "choice":
            body["guided_choice"] = rng.choice([[], ["a", "ab"], [""], ["é"], "x", [1]])
        else:
            body["tools"] = [{"type": "function", "function": {"name": "f", "parameters": random_schema(rng)}}]
            named = {"type": "function", "function": {"name": "f"}}
            body["tool_choice"] = rng.choice(["auto", "required", "none", named])
        r = client.post("/v1/chat/completions", json=body)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code == 200 or (400 <= r.status_code < 500 and r.json()["error"]["message"]), (body, r.text)
    assert statuses.get(200, 0) > 10 and statuses.get(400, 0) > 50  # both kinds of input were generated
