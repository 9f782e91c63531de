"""Structured outputs (`response_format: {"type": "json_schema", ...}`): a JSON Schema compiled into the node graph
that server/json_mode.JsonPrefix recognizes, one character at a time.

    compile_schema(schema) -> Node     raises SchemaError (a 400) naming the first keyword it cannot honour
    any_object()                       JSON mode's root: any JSON object

Nodes (identity-hashed; a recognizer state holds them):
    Obj(props, required, additional)   props: key -> Node, in the schema's order; additional: the schema of keys
                                       outside props, or None when there are none
    Arr(prefix, items, min, max)       element i's schema is prefix[i], then items (None: no more elements)
    Str(min_len, max_len, patterns)    characters counted after unescaping (an escape is one character); each
                                       pattern (server/regex_nfa.py) run on the unescaped characters
    Num(integer)                       integer: no fraction and no exponent
    Lit(texts)                         the exact texts of enum / const values, true, false and null
    Union(alts)                        anyOf, oneOf, a list of types, and ANY (any JSON value, itself recursive)
    Ref(target)                        a $ref, resolved after its target compiles (recursive schemas)

The subset is the one structured outputs are written in (OpenAI's strict mode, pydantic's model_json_schema()):
type (a name or a list), properties, required, additionalProperties, items, prefixItems, minItems, maxItems,
minLength, maxLength, pattern (server/regex_nfa.py's syntax), format (FORMATS: date, time, date-time, uuid, email,
hostname, ipv4; other formats are annotations), enum, const, anyOf, oneOf (read as anyOf: the generated value
satisfies at least one alternative), allOf of one schema, and $ref within the document (#, #/$defs/...,
#/definitions/...).
- An object without additionalProperties takes only its declared keys (as strict mode asks, and as xgrammar reads
  it), or any keys without a properties keyword ({"type": "object"}); additionalProperties true or a schema allows
  others. Keys may come in any order, each at most once, and '}' waits for every required key.
- Annotations (title, description, default, examples, a format outside FORMATS, ...) are ignored.
- Assertions the recognizer cannot make character by character (minimum, maximum, multipleOf,
  uniqueItems, minProperties, not, if/then/else, ...) raise SchemaError rather than being silently dropped.
- Keywords JSON Schema does not define are ignored, as its specification says.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator

from server.regex_nfa import Regex, RegexError, compile_regex

MAX_NODES = 4096  # compiled nodes in one schema
MAX_SCHEMA_DEPTH = 64  # nesting of the schema document itself
MAX_ALTERNATIVES = 64  # of one anyOf / oneOf / enum
MAX_LITERAL_CHARS = 4096  # of one enum or const value's JSON text

UNSUPPORTED = (
    "patternProperties", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minProperties", "maxProperties", "uniqueItems", "contains", "minContains", "maxContains", "propertyNames",
    "dependentRequired", "dependentSchemas", "dependencies", "if", "then", "else", "not", "unevaluatedProperties",
    "unevaluatedItems", "$dynamicRef", "$recursiveRef",
)  # fmt: skip
TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")
_DATE = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_TIME = r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
FORMATS = {  # the string formats enforced (RFC 3339 dates and times, as OpenAI's strict mode lists them)
    "date": f"^{_DATE}$",
    "time": f"^{_TIME}$",
    "date-time": f"^{_DATE}T{_TIME}$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "email": rf"^[A-Za-z0-9._%+-]+@{_LABEL}(\.{_LABEL})+$",
    "hostname": rf"^{_LABEL}(\.{_LABEL})*$",
    "ipv4": rf"^({_OCTET}\.){{3}}{_OCTET}$",
}


class SchemaError(ValueError):
    """The schema is malformed or asks for something the recognizer cannot enforce."""


class Node:
    __slots__ = ()


class Obj(Node):
    __slots__ = ("props", "required", "additional", "keys", "ordered")

    def __init__(self, props: dict[str, Node], required: frozenset[str], additional: Node | None,
                 ordered: bool = False) -> None:  # fmt: skip
        """ordered: the declared keys come in props' order (optional ones may be left out); a schema's objects take
        them in any order, a tool call (server/api/tools.py) its name first."""
        self.props, self.required, self.additional, self.ordered = props, required, additional, ordered
        # each declared key's JSON text after its opening quote: what a key is matched against
        self.keys = tuple((k, json.dumps(k, ensure_ascii=False)[1:]) for k in props)

    def next_keys(self, seen: frozenset[str]) -> tuple[tuple[str, str], ...]:
        """The declared keys (with their texts) that may come after the keys seen."""
        if self.ordered:  # the keys after the last one seen, up to the first required one (none may be skipped)
            last = max((i for i, (k, _) in enumerate(self.keys) if k in seen), default=-1)
            later = self.keys[last + 1 :]
            stop = next((i for i, (k, _) in enumerate(later) if k in self.required), len(later) - 1)
            return later[: stop + 1]
        return tuple(kt for kt in self.keys if kt[0] not in seen)


class Arr(Node):
    __slots__ = ("prefix", "items", "min_items", "max_items")

    def __init__(self, prefix: tuple[Node, ...], items: Node | None, min_items: int, max_items: int | None) -> None:
        self.prefix, self.items, self.min_items, self.max_items = prefix, items, min_items, max_items

    def item(self, i: int) -> Node | None:
        """Element i's schema, or None if the array cannot have an element i."""
        if self.max_items is not None and i >= self.max_items:
            return None
        return self.prefix[i] if i < len(self.prefix) else self.items


class Str(Node):
    __slots__ = ("min_len", "max_len", "patterns")

    def __init__(self, min_len: int = 0, max_len: int | None = None, patterns: tuple[Regex, ...] = ()) -> None:
        """patterns: regexes the string's (unescaped) text must each match (pattern, format)."""
        self.min_len, self.max_len, self.patterns = min_len, max_len, patterns

    def counted(self, count: int, more: int = 1) -> int:
        """count + more characters, saturated where no bound can tell larger counts apart (so that a recognizer's
        states stay few and equal ones merge)."""
        return min(count + more, max(self.min_len, self.max_len or 0))


class Num(Node):
    __slots__ = ("integer",)

    def __init__(self, integer: bool) -> None:
        self.integer = integer


class Lit(Node):
    __slots__ = ("texts",)

    def __init__(self, texts: tuple[str, ...]) -> None:
        self.texts = texts


class Union(Node):
    __slots__ = ("alts",)

    def __init__(self, alts: tuple[Node, ...]) -> None:
        self.alts = alts


class Ref(Node):
    __slots__ = ("target",)

    def __init__(self) -> None:
        self.target: Node | None = None


def _any() -> Union:
    """Any JSON value: a union whose object values and array elements are itself."""
    node = Union(())
    node.alts = (Obj({}, frozenset(), node), Arr((), node, 0, None), Str(), Num(False), Lit(("true", "false", "null")))
    return node


ANY = _any()
KEY = Str()  # an additional property's key


def any_object() -> Obj:
    """JSON mode's root: an object with any keys and values."""
    return ANY.alts[0]


def compile_schema(schema: dict | bool) -> Node:
    """A JSON Schema (the parsed document) -> its root node. Raises SchemaError. Cached on the document's text, so a
    client that sends one schema with every request compiles it once."""
    try:
        text = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise SchemaError(f"the schema is not a JSON document: {e}") from None
    return _compile_text(text)


@functools.lru_cache(maxsize=128)
def _compile_text(text: str) -> Node:
    return _Compiler(json.loads(text)).root()


class _Compiler:
    def __init__(self, document: dict | bool) -> None:
        self.document, self.nodes = document, 0
        self.refs: dict[str, Ref] = {}

    def root(self) -> Node:
        node = self.compile(self.document, "#", 0)
        _check_no_empty_cycle(node)
        return node

    def compile(self, schema, path: str, depth: int) -> Node:
        if depth > MAX_SCHEMA_DEPTH:
            raise SchemaError(f"the schema nests deeper than {MAX_SCHEMA_DEPTH} levels at {path}")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SchemaError(f"the schema has more than {MAX_NODES} subschemas")
        if schema is True:
            return ANY
        if schema is False:
            raise SchemaError(f"{path}: the schema false matches nothing")
        if not isinstance(schema, dict):
            raise SchemaError(f"{path}: a schema is an object or a boolean, got {type(schema).__name__}")
        for keyword in UNSUPPORTED:
            if keyword in schema:
                raise SchemaError(f"{path}: the keyword {keyword!r} is not supported by structured outputs")
        sub = functools.partial(self._sub, path=path, depth=depth)
        if "$ref" in schema:
            self._alone(schema, "$ref", path)
            return self._ref(schema["$ref"], path, depth)
        if "allOf" in schema:
            self._alone(schema, "allOf", path)
            parts = schema["allOf"]
            if not isinstance(parts, list) or len(parts) != 1:
                raise SchemaError(f"{path}: allOf is supported with exactly one schema")
            return sub(parts[0], "allOf/0")
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                self._alone(schema, keyword, path)
                alts = schema[keyword]
                if not isinstance(alts, list) or not 1 <= len(alts) <= MAX_ALTERNATIVES:
                    raise SchemaError(f"{path}: {keyword} must list 1 to {MAX_ALTERNATIVES} schemas")
                return _union([sub(alt, f"{keyword}/{i}") for i, alt in enumerate(alts)])
        types = self._types(schema, path)
        if "const" in schema or "enum" in schema:
            return self._literals(schema, types, path)
        return _union([self._typed(t, schema, sub, path) for t in types])

    def _sub(self, schema, key: str, path: str, depth: int) -> Node:
        return self.compile(schema, f"{path}/{key}", depth + 1)

    @staticmethod
    def _alone(schema: dict, keyword: str, path: str) -> None:
        """$ref, allOf, anyOf and oneOf with sibling assertions would need an intersection: refused."""
        siblings = [k for k in ("type", "properties", "items", "enum", "const", "$ref", "allOf", "anyOf", "oneOf",
                                "required", "additionalProperties", "prefixItems", "minItems", "maxItems",
                                "minLength", "maxLength", "pattern") if k in schema and k != keyword]  # fmt: skip
        if siblings:
            raise SchemaError(f"{path}: {keyword} next to {siblings[0]!r} is not supported; nest one in the other")

    def _ref(self, pointer, path: str, depth: int) -> Node:
        if not isinstance(pointer, str) or not (pointer == "#" or pointer.startswith("#/")):
            raise SchemaError(f"{path}: only $refs within the schema (#/...) are supported, got {pointer!r}")
        if pointer in self.refs:
            return self.refs[pointer]
        ref = self.refs[pointer] = Ref()
        target = self.document
        for part in pointer[2:].split("/") if pointer != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise SchemaError(f"{path}: $ref {pointer!r} points to nothing in the schema")
        ref.target = self.compile(target, pointer, depth + 1)
        return ref

    @staticmethod
    def _types(schema: dict, path: str) -> list[str]:
        declared = schema.get("type")
        if declared is None:  # inferred from the keywords present; none of them: any value
            if any(k in schema for k in ("properties", "required", "additionalProperties")):
                return ["object"]
            if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
                return ["array"]
            if any(k in schema for k in ("minLength", "maxLength", "pattern")):
                return ["string"]
            return list(TYPES) if "const" in schema or "enum" in schema else ["any"]
        names = declared if isinstance(declared, list) else [declared]
        if not names or any(name not in TYPES for name in names) or len(set(names)) != len(names):
            raise SchemaError(f"{path}: type must be one of {', '.join(TYPES)} or a list of them, got {declared!r}")
        return names

    @staticmethod
    def _literals(schema: dict, types: list[str], path: str) -> Lit:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        if not isinstance(values, list) or not 1 <= len(values) <= 1024:
            raise SchemaError(f"{path}: enum must list 1 to 1024 values")
        texts = tuple(dict.fromkeys(json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                                    for v in values if _json_type(v) in types or "any" in types
                                    or (_json_type(v) == "integer" and "number" in types)))  # fmt: skip
        if not texts:
            raise SchemaError(f"{path}: no enum or const value has the schema's type {types}")
        if any(len(t) > MAX_LITERAL_CHARS for t in texts):
            raise SchemaError(f"{path}: an enum or const value's JSON text is longer than {MAX_LITERAL_CHARS}")
        return Lit(texts)

    def _typed(self, name: str, schema: dict, sub: Callable[[object, str], Node], path: str) -> Node:
        if name == "any":
            return ANY
        if name == "object":
            return self._object(schema, sub, path)
        if name == "array":
            return self._array(schema, sub, path)
        if name == "string":
            low, high = _bounds(schema, "minLength", "maxLength", path)
            return Str(low, high, _patterns(schema, path))
        if name in ("integer", "number"):
            return Num(name == "integer")
        return Lit(("true", "false") if name == "boolean" else ("null",))

    @staticmethod
    def _object(schema: dict, sub: Callable[[object, str], Node], path: str) -> Obj:
        props, required = schema.get("properties", {}), schema.get("required", [])
        if not isinstance(props, dict):
            raise SchemaError(f"{path}: properties must be an object")
        if not isinstance(required, list) or not all(isinstance(k, str) for k in required):
            raise SchemaError(f"{path}: required must be a list of property names")
        missing = [k for k in required if k not in props]
        if missing:
            raise SchemaError(f"{path}: required property {missing[0]!r} is not among the properties")
        # absent: no keys besides the declared ones (strict mode's rule), unless there is no properties keyword at all
        # ({"type": "object"} is any object, not only {}; "properties": {} declares that there are none)
        extra = schema.get("additionalProperties", "properties" not in schema)
        additional = None if extra is False else sub(extra, "additionalProperties")
        compiled = {k: sub(v, f"properties/{k}") for k, v in props.items()}
        return Obj(compiled, frozenset(required), additional)

    @staticmethod
    def _array(schema: dict, sub: Callable[[object, str], Node], path: str) -> Arr:
        prefix = schema.get("prefixItems", [])
        if not isinstance(prefix, list):
            raise SchemaError(f"{path}: prefixItems must be a list of schemas")
        items = schema.get("items", True)
        low, high = _bounds(schema, "minItems", "maxItems", path)
        if items is False and low > len(prefix):
            raise SchemaError(f"{path}: minItems {low} exceeds the {len(prefix)} prefixItems, and items is false")
        return Arr(tuple(sub(s, f"prefixItems/{i}") for i, s in enumerate(prefix)),
                   None if items is False else sub(items, "items"), low, high)  # fmt: skip


def nodes(root: Node) -> Iterator[Node]:
    """Every node reachable from root, once each."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, Obj):
            pending += [*node.props.values(), *([node.additional] if node.additional else [])]
        elif isinstance(node, Arr):
            pending += [*node.prefix, *([node.items] if node.items else [])]
        elif isinstance(node, Union):
            pending += node.alts
        elif isinstance(node, Ref):
            pending.append(node.target)


@functools.lru_cache(maxsize=128)
def literal_chars(root: Node) -> frozenset[str]:
    """The characters of the texts the output may have to copy exactly: enum and const values, declared keys. A
    vocabulary that writes each of them as one token can always continue a valid prefix (the engine checks)."""
    chars: set[str] = set()
    for node in nodes(root):
        if isinstance(node, Lit):
            chars.update(*node.texts)
        elif isinstance(node, Obj):
            chars.update(*(text for _, text in node.keys))
    return frozenset(chars)


def _check_no_empty_cycle(root: Node) -> None:
    """A value's first character is matched by expanding Unions and Refs down to the node that reads it; a cycle of
    them that reads nothing in between ({"anyOf": [{"$ref": "#"}, ...]}) would expand forever: refused."""
    state: dict[int, int] = {}  # id(node) -> 1 while expanding it, 2 once done
    for node in nodes(root):
        if isinstance(node, Union | Ref):
            _expand_check(node, state)


def _expand_check(node: Node, state: dict[int, int]) -> None:
    stack = [(node, False)]
    while stack:
        current, leaving = stack.pop()
        if leaving:
            state[id(current)] = 2
            continue
        mark = state.get(id(current))
        if mark == 2 or not isinstance(current, Union | Ref):
            continue
        if mark == 1:
            raise SchemaError("a $ref leads back to itself before any value starts (e.g. anyOf: [{$ref: '#'}])")
        state[id(current)] = 1
        stack.append((current, True))
        stack += [(n, False) for n in (current.alts if isinstance(current, Union) else (current.target,))]


def _patterns(schema: dict, path: str) -> tuple[Regex, ...]:
    """A string schema's regexes: its pattern (matched anywhere unless anchored, as JSON Schema says) and its
    format's, where FORMATS has one (other formats are annotations)."""
    patterns = []
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            raise SchemaError(f"{path}: pattern must be a string")
        try:
            patterns.append(compile_regex(schema["pattern"], search=True))
        except RegexError as e:
            raise SchemaError(f"{path}: pattern: {e}") from None
    if isinstance(schema.get("format"), str) and schema["format"] in FORMATS:
        patterns.append(compile_regex(FORMATS[schema["format"]]))
    return tuple(patterns)


def _bounds(schema: dict, low_key: str, high_key: str, path: str) -> tuple[int, int | None]:
    low, high = schema.get(low_key, 0), schema.get(high_key)
    for key, value in ((low_key, low), (high_key, high)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise SchemaError(f"{path}: {key} must be an integer >= 0, got {value!r}")
    if high is not None and high < low:
        raise SchemaError(f"{path}: {high_key} {high} is below {low_key} {low}")
    return low, high


def _union(nodes: list[Node]) -> Node:
    return nodes[0] if len(nodes) == 1 else Union(tuple(nodes))


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "?")
