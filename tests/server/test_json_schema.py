"""Structured outputs: a JSON Schema compiles to nodes whose recognizer accepts exactly the prefixes of the values
the schema allows; what it cannot enforce is refused with a message; the engine's outputs validate."""

from __future__ import annotations

import json
import random

import pytest
import torch

from server.errors import InvalidParamsError
from server.json_mode import JsonPrefix
from server.json_schema import Lit, Num, Obj, SchemaError, Str, compile_schema, literal_chars
from server.sampling import SamplingParams

from .conftest import create_engine, prompt_ids

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # (the logits, and so the sampler's rows, on the GPU there)

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 12},
        "age": {"type": "integer"},
        "mood": {"enum": ["happy", "sad", 3, None]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "minItems": 1, "maxItems": 3},
        "score": {"anyOf": [{"type": "number"}, {"type": "null"}]},
        "address": {"$ref": "#/$defs/Address"},
    },
    "required": ["name", "age", "tags"],
    "$defs": {"Address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"const": "75001"}},
                          "required": ["city"], "title": "Address", "description": "ignored annotations"}},
}  # fmt: skip
TREE = {  # recursive: a node holds a value and children that are nodes
    "$defs": {"node": {"type": "object", "properties": {"v": {"type": "boolean"},
                                                        "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                       "required": ["v"]}},  # fmt: skip
    "$ref": "#/$defs/node",
}
ROOTS = {  # top-level values other than objects
    "list": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
    "label": {"enum": ["yes", "no", "maybe"]},
    "number": {"type": "number"},
    "any": {},
}

CASES = [  # (schema, valid texts, invalid texts)
    (PERSON,
     ['{"name": "Ada", "age": 36, "tags": ["x"]}',
      '{"tags":["a","bb","ccc"],"age":-4,"name":"Al","mood":"sad","score":null,"address":{"city":"Paris"}}',
      '{ "name" : "\\u00e9t\\u00e9" , "age" : 0 , "tags" : [ "" ] , "mood" : 3 , "score" : 1.5e3 }',
      '{"name": "B", "age": 1, "tags": ["t"], "address": {"zip": "75001", "city": ""}, "mood": null}'],
     ['{"name": "Ada", "age": 36}',  # a required key missing
      '{"name": "", "age": 1, "tags": ["x"]}',  # minLength
      '{"name": "Ada", "age": 36.5, "tags": ["x"]}',  # an integer's fraction
      '{"name": "Ada", "age": 1e3, "tags": ["x"]}',  # or exponent
      '{"name": "Ada", "age": 1, "tags": []}',  # minItems
      '{"name": "Ada", "age": 1, "tags": ["a", "b", "c", "d"]}',  # maxItems
      '{"name": "Ada", "age": 1, "tags": ["abcde"]}',  # an item's maxLength
      '{"name": "Ada", "age": 1, "tags": ["x"], "mood": "glad"}',  # outside the enum
      '{"name": "Ada", "age": 1, "tags": ["x"], "nick": "A"}',  # an undeclared key
      '{"name": "Ada", "name": "Bo", "age": 1, "tags": ["x"]}',  # a key twice
      '{"name": "Ada", "age": 1, "tags": ["x"], "score": "high"}',  # no alternative of anyOf
      '{"name": "Ada", "age": 1, "tags": ["x"], "address": {"zip": "75001"}}',  # the $ref's required key
      '{"name": "Ada", "age": 1, "tags": ["x"], "address": {"city": "P", "zip": "75002"}}',  # const
      '["Ada"]', '"Ada"']),
    (TREE,
     ['{"v": true}', '{"v": false, "kids": [{"v": true, "kids": []}, {"kids": [{"v": true}], "v": false}]}'],
     ['{"kids": []}', '{"v": true, "kids": [{"kids": []}]}', '{"v": true, "kids": [true]}']),
    (ROOTS["list"], ['[1, "a"]', "[-0]", "[]"], ['[1, "a", 2]', '["a"]', "[1.5]"]),
    (ROOTS["label"], ['"yes"', '"maybe"'], ['"ye"', '"Yes"', "yes"]),
    (ROOTS["any"], ["[1, {}]", '"s"', "null"], ["{a}", "nul", "[1,]"]),
]


def reads(schema, text: str) -> tuple[bool, bool]:
    """(every character accepted, a whole value read that nothing may follow)."""
    p = JsonPrefix(compile_schema(schema))
    ok = p.feed_text(text)
    return ok, ok and p.final


def ends(prefix: JsonPrefix, text: str) -> tuple[bool, bool]:
    """After text: (the output may end here, it must end here)."""
    assert prefix.feed_text(text), text
    return prefix.complete, prefix.final


@pytest.mark.parametrize(("schema", "valid", "invalid"), CASES)
def test_a_schema_accepts_its_values_and_each_of_their_prefixes(schema, valid, invalid):
    for text in valid:
        assert reads(schema, text) == (True, True), text
        assert valid_text(text, schema), text  # the test's own validator agrees
        for cut in range(1, len(text)):
            assert reads(schema, text[:cut])[0], text[:cut]
    for text in invalid:
        assert reads(schema, text) != (True, True), text
        assert not valid_text(text, schema), text


def test_a_value_must_end_where_nothing_may_follow_it_and_may_end_where_it_could_grow():
    """final: the engine ends the request; complete: the request's stop ids (EOS) become valid tokens."""
    assert ends(JsonPrefix(compile_schema(PERSON)), '{"name": "A", "age": 1, "tags": ["x"]}') == (True, True)
    assert ends(JsonPrefix(compile_schema(PERSON)), '{"name": "A", "age": 1, "tags": ["x"]') == (False, False)
    assert ends(JsonPrefix(compile_schema(ROOTS["label"])), '"no"') == (True, True)
    assert ends(JsonPrefix(compile_schema(ROOTS["number"])), "12") == (True, False)  # may end, or grow
    assert ends(JsonPrefix(compile_schema(ROOTS["number"])), "12.") == (False, False)
    assert ends(JsonPrefix(compile_schema(ROOTS["number"])), "12 ") == (True, True)
    assert reads({"type": "object"}, '{"any": [1], "keys": null}') == (True, True)  # no declared keys: any object
    assert reads({"type": "object", "properties": {}}, '{"a": 1}')[0] is False  # declared: none (a no-argument tool)
    assert reads({"type": "object", "properties": {"a": {}}}, '{"b": 1}')[0] is False  # declared: only those
    assert reads({"const": {"a": [1, 2]}}, '{"a":[1,2]}') == (True, True)  # a const is its compact JSON text
    assert reads({"const": {"a": [1, 2]}}, '{"a": [1, 2]}')[0] is False


def test_a_choice_is_one_of_its_texts_exactly():
    choice = ["yes", "yes, sir", "no"]
    assert ends(JsonPrefix.choice(choice), "ye") == (False, False)
    assert ends(JsonPrefix.choice(choice), "yes") == (True, False)  # EOS may end it, or ", sir" follow
    assert ends(JsonPrefix.choice(choice), "yes, sir") == (True, True)
    assert ends(JsonPrefix.choice(choice), "no") == (True, True)
    for text in (" yes", "Yes", '"no"', "non", "yes, si r"):
        assert not JsonPrefix.choice(choice).feed_text(text), text


def test_the_sampler_can_always_continue_a_valid_prefix():
    """Every state a valid prefix reaches accepts some one character of JSON's structural ones, a few letters and
    the schema's literal_chars (what the engine checks its vocabulary writes alone): no prefix is a dead end."""
    rng = random.Random(3)
    ordered = Obj({"a": compile_schema({}), "b": Num(True), "c": Str(), "d": Lit(("1",))}, frozenset("bd"), None,
                  ordered=True)  # a tool call's kind of object: its keys in order, no required one skipped
    for root in [compile_schema(s) for s in (PERSON, TREE, *ROOTS.values())] + [ordered]:
        alphabet = '{}[]",:0123456789-.eE+ xyz\\' + "".join(sorted(literal_chars(root)))
        for _ in range(40):
            p = JsonPrefix(root)
            for _ in range(60):
                if p.complete:
                    break
                options = [ch for ch in alphabet if p.copy().feed(ch)]
                assert options, p.states
                p.feed(rng.choice(options))


def test_random_values_and_their_mutations_agree_with_an_independent_validator():
    rng = random.Random(0)
    for schema in (PERSON, TREE, ROOTS["list"]):
        for _ in range(150):
            value = instance(schema, schema, rng)
            text = json.dumps(value, ensure_ascii=rng.random() < 0.5,
                              separators=rng.choice([(",", ":"), (", ", ": ")]))  # fmt: skip
            assert reads(schema, text) == (True, True), text
            cut = rng.randrange(len(text))
            inserted = text[:cut] + rng.choice('{}[]",:0e-.tx1 ') + text[cut:]
            mutated = rng.choice([text[:cut] + text[cut + 1 :], inserted])
            assert (reads(schema, mutated) == (True, True)) == valid_text(mutated, schema), (text, mutated)


@pytest.mark.parametrize(("schema", "message"), [
    ({"type": "string", "pattern": "(?=a)b"}, "#: pattern: a lookaround, an inline flag or a conditional at 2"),
    ({"type": "string", "pattern": "[a"}, "pattern: the pattern is malformed: an unterminated character class"),
    ({"type": "integer", "minimum": 0}, "'minimum' is not supported"),
    ({"type": "object", "properties": {"a": {}}, "required": ["b"]}, "'b' is not among the properties"),
    ({"type": "date"}, "type must be one of"),
    ({"enum": []}, "enum must list 1 to 1024 values"),
    ({"type": "string", "enum": [1, 2]}, "no enum or const value has the schema's type"),
    ({"type": "string", "minLength": 3, "maxLength": 2}, "maxLength 2 is below minLength 3"),
    ({"type": "array", "maxItems": -1}, "maxItems must be an integer >= 0"),
    ({"type": "array", "items": False, "minItems": 1}, "minItems 1 exceeds the 0 prefixItems"),
    ({"$ref": "#/$defs/missing"}, "points to nothing"),
    ({"$ref": "http://example.com/schema.json"}, "only $refs within the schema"),
    ({"anyOf": [{"$ref": "#"}, {"type": "null"}]}, "leads back to itself"),
    ({"$ref": "#", "type": "object"}, "$ref next to 'type' is not supported"),
    ({"allOf": [{"type": "string"}, {"maxLength": 3}]}, "allOf is supported with exactly one schema"),
    (False, "matches nothing"),
    ({"properties": {"a": "string"}}, "#/properties/a: a schema is an object or a boolean"),
    (json.loads('{"items": ' * 70 + "{}" + "}" * 70), "nests deeper than 64"),
])  # fmt: skip
def test_what_cannot_be_enforced_is_refused_with_its_place(schema, message):
    with pytest.raises(SchemaError, match=message.replace("$", r"\$").replace("[", r"\[")):
        compile_schema(schema)
    with pytest.raises(InvalidParamsError, match="json_schema"):
        SamplingParams(json_schema=schema).validate(256, 256)


def test_annotations_unknown_keywords_and_unknown_formats_are_ignored_and_pydantic_schemas_compile():
    pydantic = pytest.importorskip("pydantic")

    class Item(pydantic.BaseModel):
        sku: str = pydantic.Field(description="stock keeping unit")
        quantity: int = 1
        when: str | None = pydantic.Field(None, json_schema_extra={"format": "date-time"})

    class Order(pydantic.BaseModel):
        items: list[Item]
        note: str | None = None

    schema = Order.model_json_schema()
    text = '{"items": [{"sku": "A1", "quantity": 2, "when": null}, {"sku": "B"}], "note": "asap"}'
    assert reads(schema, text) == (True, True)
    Order.model_validate_json(text)  # and pydantic agrees
    assert reads({"type": "string", "x-vendor": 1, "format": "x-custom", "title": "t"}, '"anything"') == (True, True)


def test_patterns_and_formats_hold_for_a_strings_unescaped_characters():
    code = {"type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"}
    assert reads(code, '"AB-123"') == (True, True)
    assert reads(code, '"\\u0041B-123"') == (True, True)  # an escape is read as the character it writes
    for text in ('"AB-12"', '"ab-123"', '"AB-1234"', '"AB_123"'):
        assert reads(code, text) != (True, True), text
    assert reads(code, '"\\u004')[0] and not reads(code, '"\\u003')[0]  # U+0040-4F may be a letter, U+0030-3F not
    anywhere = {"type": "string", "pattern": "cat"}  # JSON Schema's pattern: a match anywhere unless anchored
    assert reads(anywhere, '"concatenate"') == (True, True)
    assert reads(anywhere, '"dog')[0] and not reads(anywhere, '"dog"')[0]  # "dog" may go on, but cannot close
    for fmt, good, bad in (("date", "2026-12-05", "2026-13-05"), ("date-time", "2026-12-05T01:02:03.5+01:00",
                                                                    "2026-12-05 01:02:03"),
                           ("time", "23:59:60Z", "24:00:00Z"), ("uuid", "123e4567-e89b-12d3-a456-426614174000",
                                                                  "123e4567-e89b-12d3-a456"),
                           ("email", "ada.l@example.org", "ada@localhost"), ("hostname", "api.example-1.com",
                                                                            "-bad.com"),
                           ("ipv4", "192.168.0.255", "192.168.0.256")):  # fmt: skip
        schema = {"type": "string", "format": fmt}
        assert reads(schema, json.dumps(good)) == (True, True), (fmt, good)
        assert reads(schema, json.dumps(bad)) != (True, True), (fmt, bad)


def test_a_dead_end_fails_its_own_request_and_not_the_others_in_its_step(base, store):
    """An unsatisfiable schema (five digits in at most two characters) leaves the sampler no valid token: that
    request ends with 'error' and says why; a request decoding in the same steps finishes as usual."""
    engine = create_engine(base, store, device=DEVICE)
    doomed = engine.add_request("alpha", prompt_ids(0, 8), SamplingParams(
        max_tokens=20, json_schema={"type": "string", "maxLength": 2, "pattern": "^\\d{5}$"}))
    other = engine.add_request("beta", prompt_ids(1, 8), SamplingParams(max_tokens=6))
    while not (doomed.finished.is_set() and other.finished.is_set()):
        engine.step()
    *_, last = doomed.poll()
    assert last.finish_reason == "error" and "no token of the vocabulary continues" in last.error
    assert other.poll()[-1].finish_reason == "length"


def test_a_schema_is_compiled_once_per_text():
    assert compile_schema(PERSON) is compile_schema(json.loads(json.dumps(PERSON)))


BOUNDED = {  # every value of it is at most a few hundred characters: a model must finish one
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 6}, "ok": {"type": "boolean"},
                   "kind": {"enum": ["cat", "dog", 7]},
                   "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3}},
    "required": ["name", "ok", "kind", "tags"],
}  # fmt: skip


def test_the_engine_writes_a_valid_value_that_a_random_model_would_not(base, store):
    """A random tiny model (whose favourite bytes are anything but JSON), greedy and sampled, with the schema's
    closing characters pushed down: each output is a whole value of the bounded schema within the token budget."""
    engine = create_engine(base, store, device=DEVICE)
    for seed in range(3):
        for temperature in (0.0, 1.0):
            bias = {ord("}"): -30.0, ord('"'): -20.0, ord("]"): -20.0} if seed == 2 else {}
            params = SamplingParams(max_tokens=300, temperature=temperature, seed=seed, json_schema=BOUNDED,
                                    logit_bias=bias)  # fmt: skip
            outs = list(engine.generate("alpha", prompt_ids(seed, 8), params))
            text = "".join(o.text for o in outs)
            assert outs[-1].finish_reason == "stop", text
            assert valid_text(text, BOUNDED), text


def test_tokens_with_part_of_a_character_do_not_count_toward_min_length(base, store):
    """A byte-level token holding part of a UTF-8 character reads U+FFFD alone, and one character may take several
    such tokens: so they cannot make up a string's minLength (they could write fewer characters than they count),
    and past it they are fine. The byte tokenizer's bytes >= 0x80 are such tokens; pushed to the top, they may
    only follow the ASCII characters that reach minLength, and the output's text holds minLength characters."""
    schema = {"type": "string", "minLength": 3, "maxLength": 12}
    prefix = JsonPrefix(compile_schema(schema))
    assert prefix.feed_text('"ab') and not prefix.copy().feed_text("\ufffd")  # 2 of 3: no partial character yet
    assert prefix.feed_text("c\ufffd\ufffd") and prefix.feed_text('"')
    assert JsonPrefix(compile_schema({"type": "string"})).feed_text('"\ufffd"')  # no minLength: as before
    patterned = JsonPrefix(compile_schema({"type": "string", "pattern": "^[^a]*$"}))
    assert patterned.feed_text('"') and not patterned.copy().feed_text("\ufffd")  # a pattern reads whole characters
    assert patterned.feed_text('é"')
    engine = create_engine(base, store, device=DEVICE)
    bias = {b: 40.0 for b in (0xC3, 0xA9)}  # "é" is C3 A9: the model would write nothing else
    params = SamplingParams(max_tokens=40, temperature=0.0, json_schema=schema, logit_bias=bias)
    text = "".join(o.text for o in engine.generate("alpha", prompt_ids(5, 8), params))
    value = json.loads(text)
    assert isinstance(value, str) and 3 <= len(value) <= 12, text
    assert all(ord(c) < 0x80 for c in value[:3])  # the characters that reached minLength are whole ones


def test_a_stop_token_is_drawn_only_where_the_output_may_end(base, store):
    """guided_choice over the random tiny model, with a stop token pushed to the top: refused until a choice is
    whole ("yes" may end there, or go on to "yes, sir"), drawn as soon as one is."""
    engine = create_engine(base, store, device=DEVICE)
    choice = ["yes, sir", "yes", "no"]
    for seed in range(3):
        for temperature in (0.0, 1.0):
            params = SamplingParams(max_tokens=20, temperature=temperature, seed=seed, guided_choice=choice,
                                    stop_token_ids=[0], logit_bias={0: 100.0})  # fmt: skip
            outs = list(engine.generate("alpha", prompt_ids(seed, 8), params))
            text = "".join(o.text for o in outs)
            assert outs[-1].finish_reason == "stop" and text in ("yes", "no"), text
            assert outs[-1].token_ids[-1] == 0 or text == "no"  # "no" is final: it ends with no stop token
    outs = list(engine.generate("alpha", prompt_ids(0, 8), SamplingParams(max_tokens=20, guided_choice=choice)))
    assert "".join(o.text for o in outs) in choice and outs[-1].finish_reason == "stop"


def test_the_engine_refuses_a_schema_its_vocabulary_cannot_write(base, store):
    engine = create_engine(base, store)  # bytes: no token reads as a non-ASCII character alone
    with pytest.raises(InvalidParamsError, match="no single token of this model writes 'é'"):
        engine.add_request("alpha", [1, 2], SamplingParams(json_schema={"enum": ["café"]}))
    with pytest.raises(InvalidParamsError, match="no single token of this model writes 'ü', which a choice needs"):
        engine.add_request("alpha", [1, 2], SamplingParams(guided_choice=["über", "unter"]))
    with pytest.raises(InvalidParamsError, match="guided_regex: no single token of this model writes 'é'"):
        engine.add_request("alpha", [1, 2], SamplingParams(guided_regex="caf(e|é)"))
    with pytest.raises(InvalidParamsError, match="exclude each other"):
        engine.add_request("alpha", [1, 2], SamplingParams(json_schema={}, json_object=True))
    with pytest.raises(InvalidParamsError, match="guided_choice must list 1 to 1024 texts"):
        engine.add_request("alpha", [1, 2], SamplingParams(guided_choice=["yes", ""]))
    with pytest.raises(InvalidParamsError, match="tokenizer"):
        create_engine(base, store, tokenizer=None).add_request("alpha", [1, 2], SamplingParams(json_schema={}))


# ---- the test's own validator and instance generator for the subset (written from the JSON Schema spec) ----


def valid_text(text: str, schema) -> bool:
    """The text is one JSON value (no key twice in an object) that conforms to the schema."""

    def no_repeats(pairs):
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("a repeated key")
        return dict(pairs)

    try:
        value = json.loads(text, object_pairs_hook=no_repeats)
    except ValueError:
        return False
    return conforms(value, schema, schema)


def conforms(value, schema, root) -> bool:
    if isinstance(schema, bool) or schema == {}:
        return schema is not False
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#").strip("/").split("/") if schema["$ref"] != "#" else []:
            target = target[part]
        return conforms(value, target, root)
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            return any(conforms(value, alt, root) for alt in schema[keyword])
    if "const" in schema or "enum" in schema:
        options = [schema["const"]] if "const" in schema else schema["enum"]
        return any(type(value) is type(o) and value == o for o in options)
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types
    if types is None:
        types = ["object"] if "properties" in schema else ["array"] if "items" in schema else None
    checks = {
        "object": lambda: isinstance(value, dict) and set(schema.get("required", [])) <= value.keys()
        and all(k in schema.get("properties", {}) and conforms(v, schema["properties"][k], root)
                for k, v in value.items()),
        "array": lambda: isinstance(value, list) and schema.get("minItems", 0) <= len(value)
        <= schema.get("maxItems", len(value)) and all(conforms(v, item_schema(schema, i), root)
                                                       for i, v in enumerate(value)),
        "string": lambda: isinstance(value, str) and schema.get("minLength", 0) <= len(value)
        <= schema.get("maxLength", len(value)),
        "integer": lambda: type(value) is int,
        "number": lambda: type(value) in (int, float),
        "boolean": lambda: type(value) is bool,
        "null": lambda: value is None,
    }  # fmt: skip
    return types is None or any(checks[t]() for t in types)


def item_schema(schema, i: int):
    prefix = schema.get("prefixItems", [])
    return prefix[i] if i < len(prefix) else schema.get("items", True)


def instance(schema, root, rng: random.Random, depth: int = 0):
    """A random value of the schema (optional keys and array lengths drawn)."""
    if schema is True or schema == {}:
        return rng.choice([1, "x", None, [True]])
    if "$ref" in schema:
        return instance(root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root, rng, depth + 1)
    if "anyOf" in schema:
        return instance(rng.choice(schema["anyOf"]), root, rng, depth)
    if "const" in schema or "enum" in schema:
        return rng.choice([schema["const"]] if "const" in schema else schema["enum"])
    kind = schema.get("type", "object")
    if kind == "object":
        props, required = schema.get("properties", {}), set(schema.get("required", []))
        keys = [k for k in props if k in required or (depth < 3 and rng.random() < 0.5)]
        rng.shuffle(keys)
        return {k: instance(props[k], root, rng, depth + 1) for k in keys}
    if kind == "array":
        prefix = schema.get("prefixItems", [])
        if schema.get("items", True) is False:
            return [instance(s, root, rng, depth + 1) for s in prefix[: rng.randrange(len(prefix) + 1)]]
        low = schema.get("minItems", 0)
        n = rng.randint(low, schema.get("maxItems", 3) if depth < 3 else low)
        return [instance(item_schema(schema, i), root, rng, depth + 1) for i in range(n)]
    if kind == "string":
        n = rng.randint(schema.get("minLength", 0), schema.get("maxLength", 6))
        return "".join(rng.choice('ab é"\\\n') for _ in range(n))
    return {"integer": lambda: rng.randint(-50, 50), "number": lambda: rng.choice([0.5, -2, 3e-7]),
            "boolean": lambda: rng.random() < 0.5, "null": lambda: None}[kind]()  # fmt: skip
