"""JSON mode (`response_format: {"type": "json_object"}`): the generated text is kept a prefix of a JSON object.

    JsonPrefix       a character-level pushdown recognizer of JSON (RFC 8259): feed() says whether a character
                     keeps the text a prefix of some valid JSON value; `complete` once a whole value is read
    JsonConstraint   one request's state: which candidate token ids keep the prefix valid (each token's text,
                     decoded once per engine by server/tokenizer.TokenTexts with special tokens reading '', is run
                     through a copy of the recognizer), advance() on the
                     token the sampler chose; the engine ends the request ('stop') once the object is complete

The sampler (server/sampling.py) ranks a row's candidates by its adjusted logits and keeps the valid ones among
the best JSON_CANDIDATES (then the rest of the vocabulary, in rank order, if none is valid), so a JSON request
costs a few recognizer runs per token, not one per vocabulary entry. Whitespace between tokens is legal JSON but
a model can loop on it: more than MAX_WHITESPACE whitespace characters in a row outside strings are refused.
"""

from __future__ import annotations

from server.tokenizer import TokenTexts

JSON_CANDIDATES = 64  # best-ranked tokens checked first
MAX_WHITESPACE = 8

_WS = " \t\n\r"
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
_LITERALS = {"t": "true", "f": "false", "n": "null"}


class JsonPrefix:
    """Reads JSON one character at a time. The stack holds what each open container expects next:

    'value'      a value may start (after optional whitespace)
    'obj_key'    a string key or '}' (right after '{'), 'obj_key!' a key only (after ',')
    'colon'      ':' after a key
    'obj_next'   ',' or '}' after a member's value; 'arr_next' ',' or ']' after an element
    'arr_first'  a value or ']' right after '['
    'done'       the top-level value is read: only whitespace may follow
    plus the token states: ('str', escape, unicode digits left, is_key), ('num', part), ('lit', rest)
    """

    def __init__(self, object_only: bool = True) -> None:
        self.stack: list = ["done", "value"]
        self.object_only = object_only
        self.whitespace = 0

    def copy(self) -> JsonPrefix:
        other = JsonPrefix.__new__(JsonPrefix)
        other.stack, other.object_only, other.whitespace = list(self.stack), self.object_only, self.whitespace
        return other

    @property
    def complete(self) -> bool:
        """A whole JSON object has been read (objects only: a top-level number, which could still grow, never
        reaches this)."""
        return self.stack == ["done"]

    def feed_text(self, text: str) -> bool:
        return all(self.feed(ch) for ch in text)

    def feed(self, ch: str) -> bool:
        """Consume ch; False (and the state is then undefined: feed a copy) if no valid JSON text continues so."""
        top = self.stack[-1]
        if isinstance(top, tuple):
            return self._token(top, ch)
        if ch in _WS:
            self.whitespace += 1
            return self.whitespace <= MAX_WHITESPACE
        self.whitespace = 0
        if top == "arr_first" and ch == "]":
            self.stack.pop()
            return True
        if top in ("value", "arr_first"):
            if top == "arr_first":
                self.stack[-1] = "arr_next"  # what follows this first element
            else:
                self.stack.pop()
            return self._start_value(ch)
        if top in ("obj_key", "obj_key!"):
            if ch == "}" and top == "obj_key":
                self.stack.pop()
                return True
            if ch != '"':
                return False
            self.stack[-1] = "colon"
            self.stack.append(("str", False, 0, True))
            return True
        if top == "colon":
            if ch != ":":
                return False
            self.stack[-1] = "obj_next"
            self.stack.append("value")
            return True
        if top in ("obj_next", "arr_next"):
            if ch == ",":
                if top == "obj_next":
                    self.stack[-1] = "obj_key!"
                else:
                    self.stack.append("value")
                return True
            if ch == ("}" if top == "obj_next" else "]"):
                self.stack.pop()
                return True
            return False
        return False  # 'done': only whitespace

    def _start_value(self, ch: str) -> bool:
        top_level = len(self.stack) == 1  # only 'done' below: this is the top-level value
        if top_level and self.object_only and ch != "{":
            return False
        if ch == "{":
            self.stack.append("obj_key")
        elif ch == "[":
            self.stack.append("arr_first")
        elif ch == '"':
            self.stack.append(("str", False, 0, False))
        elif ch == "-":
            self.stack.append(("num", "sign"))
        elif ch in _DIGITS:
            self.stack.append(("num", "zero" if ch == "0" else "int"))
        elif ch in _LITERALS:
            self.stack.append(("lit", _LITERALS[ch][1:]))
        else:
            return False
        return True

    def _token(self, top: tuple, ch: str) -> bool:
        kind = top[0]
        if kind == "str":
            _, escape, hex_left, _ = top
            if hex_left:
                if ch not in _HEX:
                    return False
                self.stack[-1] = ("str", False, hex_left - 1, top[3])
                return True
            if escape:
                if ch == "u":
                    self.stack[-1] = ("str", False, 4, top[3])
                    return True
                if ch not in '"\\/bfnrt':
                    return False
                self.stack[-1] = ("str", False, 0, top[3])
                return True
            if ch == "\\":
                self.stack[-1] = ("str", True, 0, top[3])
                return True
            if ch == '"':
                self.stack.pop()
                return True
            return ch >= " "  # control characters must be escaped
        if kind == "lit":
            rest = top[1]
            if not rest or ch != rest[0]:
                return False
            if len(rest) == 1:
                self.stack.pop()
            else:
                self.stack[-1] = ("lit", rest[1:])
            return True
        return self._number(top[1], ch)

    def _number(self, part: str, ch: str) -> bool:
        """part: where in -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? the number is; a character that cannot extend it
        ends it (if it may end there) and is read again as what follows the number."""
        grow = {
            "sign": {**dict.fromkeys("0", "zero"), **dict.fromkeys("123456789", "int")},
            "zero": {".": "dot", "e": "exp", "E": "exp"},
            "int": {**dict.fromkeys(_DIGITS, "int"), ".": "dot", "e": "exp", "E": "exp"},
            "dot": dict.fromkeys(_DIGITS, "frac"),
            "frac": {**dict.fromkeys(_DIGITS, "frac"), "e": "exp", "E": "exp"},
            "exp": {**dict.fromkeys("+-", "exp_sign"), **dict.fromkeys(_DIGITS, "exp_int")},
            "exp_sign": dict.fromkeys(_DIGITS, "exp_int"),
            "exp_int": dict.fromkeys(_DIGITS, "exp_int"),
        }[part]
        if ch in grow:
            self.stack[-1] = ("num", grow[ch])
            return True
        if part not in ("zero", "int", "frac", "exp_int"):
            return False
        self.stack.pop()
        return self.feed(ch)


class JsonConstraint:
    """One request's JSON-mode state (owned by the engine thread)."""

    def __init__(self, texts: TokenTexts) -> None:
        self.texts, self.prefix = texts, JsonPrefix(object_only=True)

    @property
    def complete(self) -> bool:
        return self.prefix.complete

    def allows(self, token_id: int) -> bool:
        text = self.texts(token_id)
        return bool(text) and self.prefix.copy().feed_text(text)

    def advance(self, token_id: int) -> None:
        """The sampler chose token_id (one that allows() accepted)."""
        if not self.prefix.feed_text(self.texts(token_id)):
            raise ValueError(f"token {token_id} does not continue the JSON text")
