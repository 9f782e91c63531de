"""JSON mode and structured outputs: the generated text is kept a prefix of a JSON object
(`response_format: {"type": "json_object"}`), of a value valid for a JSON Schema (`{"type": "json_schema"}`,
compiled by server/json_schema.py), of one of a list of texts (vLLM's guided_choice), or of a text a regular
expression matches whole (guided_regex, server/regex_nfa.py).

    JsonPrefix       a character-level pushdown recognizer of JSON (RFC 8259) against a schema's nodes: feed() says
                     whether a character keeps the text a prefix of some valid value; `complete` once a whole value
                     is read
    JsonConstraint   one request's state: which candidate token ids keep the prefix valid (each token's text,
                     decoded once per engine by server/tokenizer.TokenTexts with special tokens reading '', is run
                     through a copy of the recognizer), advance() on the token the sampler chose; the engine ends
                     the request ('stop') once the value is final, and allows its stop ids once it is complete

The sampler (server/sampling.py) ranks a row's candidates by its adjusted logits and keeps the valid ones among
the best JSON_CANDIDATES (then the rest of the vocabulary, in rank order, if none is valid), so a JSON request
costs a few recognizer runs per token, not one per vocabulary entry. Whitespace between tokens is legal JSON but
a model can loop on it: more than MAX_WHITESPACE whitespace characters in a row outside strings are refused, as
are objects and arrays nested deeper than MAX_DEPTH.
"""

from __future__ import annotations

import re

from server.json_schema import KEY, Arr, Lit, Node, Num, Obj, Ref, Str, Union, any_object
from server.regex_nfa import Regex
from server.tokenizer import PARTIAL, TokenTexts

JSON_CANDIDATES = 64  # best-ranked tokens checked first
MAX_WHITESPACE = 8
MAX_DEPTH = 64  # open objects and arrays

_WS = " \t\n\r"
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
_ESCAPED = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# where in -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? a number is -> the character that moves it on -> where it is then
_NUMBER: dict[str, dict[str, str]] = {
    "sign": {"0": "zero", **dict.fromkeys("123456789", "int")},
    "zero": {".": "dot", "e": "exp", "E": "exp"},
    "int": {**dict.fromkeys(_DIGITS, "int"), ".": "dot", "e": "exp", "E": "exp"},
    "dot": dict.fromkeys(_DIGITS, "frac"),
    "frac": {**dict.fromkeys(_DIGITS, "frac"), "e": "exp", "E": "exp"},
    "exp": {**dict.fromkeys("+-", "exp_sign"), **dict.fromkeys(_DIGITS, "exp_int")},
    "exp_sign": dict.fromkeys(_DIGITS, "exp_int"),
    "exp_int": dict.fromkeys(_DIGITS, "exp_int"),
}
_PLAIN = re.compile(r'[^"\\\x00-\x1f' + PARTIAL + "]*")  # a string's characters that need no escape and do not end it
# (U+FFFD too: _string_char's rule for it. A byte-level token holding part of a UTF-8 character reads U+FFFD alone)
_NUMBER_ENDS = frozenset({"zero", "int", "frac", "exp_int"})  # where a number may end


class JsonPrefix:
    """Reads JSON one character at a time against a schema's node graph (server/json_schema.py). A state is
    (whitespace run, stack); its stack holds what each open value expects next, top last:

    ('v', node)                   a value of node may start (after optional whitespace)
    ('o', node, seen, phase, key) an object: phase 'first' (a key or '}'), 'key' (a key, after ','), 'colon' (':'
                                  after key; None for a key outside the declared ones), 'next' (',' or '}')
    ('a', node, count, phase)     an array of count elements so far: phase 'first' (a value or ']'), 'next'
    ('s', node, escape, count, matched)  inside a string of count characters; escape: '', '\\' after a backslash, or
                                  'u' and the hex digits read of a \\uXXXX; matched: each of node.patterns' regex
                                  state set after the string's characters so far
    ('n', integer, part)          inside a number ('sign', 'zero', 'int', 'dot', 'frac', 'exp', ...)
    ('l', rest)                   inside a literal (enum, const, true, false, null, a declared key): rest to read
    ('r', regex, states)          a guided_regex's whole text (the only frame): the regex's state set so far
    and an empty stack once the top-level value is read (only whitespace may follow).
    A Union (anyOf, a list of types, any value) can start several ways: the recognizer keeps every state the text
    so far allows, and a character is accepted if it continues at least one of them.
    """

    __slots__ = ("states",)

    def __init__(self, root: Node | None = None) -> None:
        """root: the schema's node (server/json_schema.compile_schema); None: any JSON object (JSON mode)."""
        self.states: list[tuple[int, tuple]] = [(0, (("v", root if root is not None else any_object()),))]

    def copy(self) -> JsonPrefix:
        return JsonPrefix._of(self.states)  # states are immutable; feed() replaces the list

    @classmethod
    def _of(cls, states: list[tuple[int, tuple]]) -> JsonPrefix:
        prefix = cls.__new__(cls)
        prefix.states = states
        return prefix

    @classmethod
    def choice(cls, texts: list[str]) -> JsonPrefix:
        """A recognizer of exactly one of texts, as they are (no JSON quoting, no whitespace around): vLLM's
        guided_choice."""
        return cls._of([(0, (("l", t),)) for t in dict.fromkeys(texts)])

    @classmethod
    def regex(cls, rx: Regex) -> JsonPrefix:
        """A recognizer of texts that rx matches whole (vLLM's guided_regex)."""
        return cls._of([(0, (("r", rx, rx.start),))])

    @property
    def complete(self) -> bool:
        """The text may end here: a whole value has been read (a top-level number too, though it could grow; a
        regex's match, though it could go on)."""
        return any(_may_end(stack) for _, stack in self.states)

    @property
    def final(self) -> bool:
        """The text must end here: a whole value has been read and nothing but whitespace could follow (a JSON
        object's closing brace; not a number, not a choice that a longer one extends)."""
        return all(_must_end(stack) for _, stack in self.states)

    def feed_text(self, text: str) -> bool:
        """feed() each character; a run of a string's plain characters, or of a literal's, at once while there is
        one state (the common case: a token of a string's words costs one step, not one per character)."""
        i, end = 0, len(text)
        while i < end:
            if len(self.states) == 1:
                ws, stack = self.states[0]
                top = stack[-1] if stack else None
                if top is not None and top[0] == "s" and not top[2] and not top[1].patterns:
                    run = _PLAIN.match(text, i).end() - i
                    node, count = top[1], top[3]
                    if run and (node.max_len is None or count + run <= node.max_len):
                        self.states = [(0, stack[:-1] + (("s", node, "", node.counted(count, run), ()),))]
                        i += run
                        continue
                elif top is not None and top[0] == "l":
                    rest = top[1]
                    run = min(len(rest), end - i)
                    if text[i : i + run] != rest[:run]:
                        self.states = []
                        return False
                    self.states = [(0, stack[:-1] + (("l", rest[run:]),) if run < len(rest) else stack[:-1])]
                    i += run
                    continue
            if not self.feed(text[i]):
                return False
            i += 1
        return True

    def feed(self, ch: str) -> bool:
        """Consume ch; False (and the prefix then accepts nothing more) if no text valid for the schema continues
        so."""
        states = [s for ws, stack in self.states for s in _step(ws, stack, ch)]
        self.states = states if len(states) < 2 else list(dict.fromkeys(states))
        return bool(states)


def _may_end(stack: tuple) -> bool:
    if not stack:
        return True
    if len(stack) > 1:
        return False
    top = stack[0]
    return (top[0] == "n" and top[2] in _NUMBER_ENDS) or (top[0] == "r" and top[1].accepts(top[2]))


def _must_end(stack: tuple) -> bool:
    """_may_end, and nothing but whitespace can follow: a whole JSON value, or a regex match that cannot grow."""
    if not stack:
        return True
    top = stack[0]
    return len(stack) == 1 and top[0] == "r" and top[1].accepts(top[2]) and not top[1].extends(top[2])


def _step(ws: int, stack: tuple, ch: str) -> list[tuple[int, tuple]]:
    """The states that (ws, stack) goes to on ch."""
    if not stack:
        return [(ws + 1, stack)] if ch in _WS and ws < MAX_WHITESPACE else []
    top = stack[-1]
    kind = top[0]
    if kind == "s":
        return _string(stack, top, ch)
    if kind == "l":
        rest = top[1]
        if ch != rest[0]:
            return []
        return [(0, stack[:-1] + (("l", rest[1:]),) if len(rest) > 1 else stack[:-1])]
    if kind == "r":  # a guided_regex's text: the whole output, no JSON around it
        matched = top[1].step(top[2], ch)
        return [(0, (("r", top[1], matched),))] if matched else []
    if kind == "n":
        grown = _NUMBER[top[2]].get(ch)
        if grown is not None and not (top[1] and grown in ("dot", "exp")):
            return [(0, stack[:-1] + (("n", top[1], grown),))]
        # a character that cannot extend the number ends it (if it may end here) and is read as what follows
        return _step(0, stack[:-1], ch) if top[2] in _NUMBER_ENDS else []
    if ch in _WS:
        return [(ws + 1, stack)] if ws < MAX_WHITESPACE else []
    below = stack[:-1]
    if kind == "v":
        return [(0, below + frames) for frames in _start(top[1], ch, len(stack))]
    if kind == "o":
        return _object(below, top, ch)
    return _array(below, top, ch, len(stack))


def _start(node: Node, ch: str, depth: int) -> list[tuple]:
    """The frames that replace ('v', node) when a value of node starts with ch (an empty tuple: the value is
    already whole, a one-character literal)."""
    if isinstance(node, Union):
        return [frames for alt in node.alts for frames in _start(alt, ch, depth)]
    if isinstance(node, Ref):
        return _start(node.target, ch, depth)
    if isinstance(node, Lit):
        return [(("l", t[1:]),) if len(t) > 1 else () for t in node.texts if t[0] == ch]
    if isinstance(node, Str):
        return [(("s", node, "", 0, tuple(rx.start for rx in node.patterns)),)] if ch == '"' else []
    if isinstance(node, Num):
        part = "sign" if ch == "-" else "zero" if ch == "0" else "int" if ch in _DIGITS else None
        return [(("n", node.integer, part),)] if part else []
    if depth > MAX_DEPTH:
        return []
    if isinstance(node, Obj):
        return [(("o", node, frozenset(), "first", None),)] if ch == "{" else []
    if isinstance(node, Arr):
        return [(("a", node, 0, "first"),)] if ch == "[" else []
    raise TypeError(f"not a schema node: {node!r}")


def _object(below: tuple, top: tuple, ch: str) -> list[tuple[int, tuple]]:
    _, node, seen, phase, key = top
    if phase in ("first", "key"):
        if ch == "}" and phase == "first" and not node.required:
            return [(0, below)]
        if ch != '"':
            return []
        states = [(0, below + (("o", node, seen, "colon", k), ("l", text))) for k, text in node.next_keys(seen)]
        if node.additional is not None:
            states.append((0, below + (("o", node, seen, "colon", None), ("s", KEY, "", 0, ()))))
        return states
    if phase == "colon":
        if ch != ":":
            return []
        value = node.props[key] if key is not None else node.additional
        seen = seen | {key} if key is not None else seen
        return [(0, below + (("o", node, seen, "next", None), ("v", value)))]
    if ch == "}":
        return [(0, below)] if node.required <= seen else []
    if ch == "," and (node.additional is not None or node.next_keys(seen)):
        return [(0, below + (("o", node, seen, "key", None),))]
    return []


def _array(below: tuple, top: tuple, ch: str, depth: int) -> list[tuple[int, tuple]]:
    _, node, count, phase = top
    if ch == "]":
        return [(0, below)] if count >= node.min_items else []
    if phase == "next":
        if ch != "," or node.item(count) is None:
            return []
        return [(0, below + (("a", node, count + 1, "next"), ("v", node.item(count))))]
    item = node.item(0)  # phase 'first': ch starts the first element
    if item is None:
        return []
    return [(0, below + (("a", node, 1, "next"),) + frames) for frames in _start(item, ch, depth + 1)]


def _string(stack: tuple, top: tuple, ch: str) -> list[tuple[int, tuple]]:
    _, node, escape, count, matched = top
    below = stack[:-1]
    if escape == "\\":  # after a backslash
        if ch == "u":
            return [(0, below + (("s", node, "u", count, matched),))]
        return _string_char(below, node, count, matched, _ESCAPED[ch]) if ch in _ESCAPED else []
    if escape:  # "u" and the hex digits of a \uXXXX so far
        if ch not in _HEX:
            return []
        code = escape[1:] + ch
        if len(code) == 4:
            return _string_char(below, node, count, matched, chr(int(code, 16)))
        low, high = int(code.ljust(4, "0"), 16), int(code.ljust(4, "f"), 16)  # the characters it can still be
        if not all(rx.allows_range(m, low, high) for rx, m in zip(node.patterns, matched, strict=True)):
            return []
        return [(0, below + (("s", node, "u" + code, count, matched),))]
    if ch == '"':
        whole = all(rx.accepts(m) for rx, m in zip(node.patterns, matched, strict=True))
        return [(0, below)] if count >= node.min_len and whole else []
    if ch == "\\":
        full = node.max_len is not None and count >= node.max_len
        return [] if full else [(0, below + (("s", node, "\\", count, matched),))]
    return _string_char(below, node, count, matched, ch) if ch >= " " else []  # control characters are escaped


def _string_char(below: tuple, node: Str, count: int, matched: tuple, ch: str) -> list[tuple[int, tuple]]:
    """The string frame after one more (unescaped) character ch."""
    if node.max_len is not None and count >= node.max_len:
        return []
    if ch == PARTIAL and count < node.min_len:
        # a token with part of a character (as each byte-level token of a character split over several reads)
        # counts one character per token, which may be more than it writes: it cannot help reach minLength
        return []
    if node.patterns:
        matched = tuple(rx.step(m, ch) for rx, m in zip(node.patterns, matched, strict=True))
        if not all(matched):
            return []
    return [(0, below + (("s", node, "", node.counted(count), matched),))]


class JsonConstraint:
    """One request's constrained output (owned by the engine thread)."""

    def __init__(self, texts: TokenTexts, prefix: JsonPrefix | None = None, end_ids: frozenset[int] = frozenset()
                 ) -> None:  # fmt: skip
        """prefix: the recognizer (default: any JSON object, JSON mode); end_ids: the request's stop token ids
        (EOS...), allowed wherever the text may end but need not (after a top-level number, or a choice that a
        longer one extends)."""
        self.texts, self.prefix, self.end_ids = texts, prefix or JsonPrefix(), end_ids
        self.stuck = False  # the sampler found no token that continues the prefix: the request fails

    @property
    def complete(self) -> bool:
        return self.prefix.complete

    @property
    def final(self) -> bool:
        return self.prefix.final

    def allows(self, token_id: int) -> bool:
        if token_id in self.end_ids:
            return self.prefix.complete
        text = self.texts(token_id)
        return bool(text) and self.prefix.copy().feed_text(text)

    def advance(self, token_id: int) -> None:
        """The sampler chose token_id (one that allows() accepted)."""
        if not self.prefix.feed_text(self.texts(token_id)):
            raise ValueError(f"token {token_id} does not continue the JSON text")
