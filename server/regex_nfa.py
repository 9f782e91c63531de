"""Regular expressions a recognizer can run one character at a time: JSON Schema's `pattern` and `format`, and
vLLM's guided_regex. Python's `re` only says whether a whole text matches; constrained decoding must know, after
each character, whether the text so far can still become a match.

    compile_regex(pattern, search=False) -> Regex    (cached; RegexError names what is not supported)
    Regex.start                         the state set before any character (a frozenset of NFA states)
    Regex.step(states, ch)              the state set after ch (empty: no match can follow)
    Regex.accepts(states)               the text so far matches
    Regex.extends(states)               some character can follow
    Regex.allows_range(states, lo, hi)  some character with a code point in [lo, hi] can follow (a JSON \\uXXXX
                                        escape whose first digits are written)

A Thompson NFA over character sets; step() memoizes (states, ch) -> states, so a pattern run many times becomes a
lazily built DFA (one memo for all patterns, its memory bounded). The syntax is the common core of ECMA-262 (JSON
Schema's dialect) and Python's: literals and escapes (\\d \\w \\s \\D \\W \\S, \\n \\t ..., \\uXXXX, \\xHH, escaped
punctuation), classes ([a-z_], [^...]), '.', groups ((...), (?:...), (?P<n>...), (?<n>...)), '|', and the
quantifiers * + ? {m} {m,} {m,n} (lazy and greedy alike: only the set of matches matters here). '^' at the start
and '$' at the end anchor; a pattern used with search=True (JSON Schema's semantics: a match anywhere) is unanchored
at an end without one. Backreferences, lookarounds, inline flags and anchors elsewhere raise RegexError.

A pattern reads whole characters: U+FFFD, which a token holding part of a UTF-8 character reads (a byte-level token
of a character split over several, server/tokenizer.py TokenTexts), matches no class, not even a negated one or
'.'. Each such token would otherwise step the NFA once for a character it only begins, and the character the
tokens make at last could be one the class excludes. So where a pattern reads a character, the model writes it as
one token (compile time refuses a pattern whose characters no single token writes: Regex.unwritable).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from server.tokenizer import PARTIAL

MAX_STATES = 4096  # NFA states of one pattern ({m,n} repeats copy their operand)
MAX_MEMO_STATES = 1 << 20  # NFA state ids held by the memo of steps (all patterns together), cleared when past


class RegexError(ValueError):
    """The pattern is malformed or uses what this engine does not support."""


@dataclass(frozen=True)
class CharSet:
    """Code point ranges [(lo, hi)], sorted; negated: every character outside them."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False

    def matches(self, ch: str) -> bool:
        if ch == PARTIAL:  # part of a character (the module docstring): no set holds it
            return False
        c = ord(ch)
        return any(lo <= c <= hi for lo, hi in self.ranges) != self.negated

    def intersects(self, lo: int, hi: int) -> bool:
        """Some code point in [lo, hi] is in the set."""
        if not self.negated:
            return any(a <= hi and lo <= b for a, b in self.ranges)
        covered = lo  # the ranges cover [lo, covered) so far: is there a gap in [lo, hi]?
        for a, b in self.ranges:
            if a > covered:
                break
            covered = max(covered, b + 1)
        return covered <= hi


def _chars(*pairs: tuple[int, int]) -> CharSet:
    return CharSet(tuple(sorted(pairs)))


DIGIT = _chars((48, 57))
WORD = _chars((48, 57), (65, 90), (95, 95), (97, 122))
SPACE = _chars((9, 13), (32, 32))
ANY_BUT_NEWLINE = CharSet(((10, 10),), negated=True)
ANY = CharSet((), negated=True)
_CLASS_ESCAPES = {"d": DIGIT, "w": WORD, "s": SPACE}
_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "0": "\0"}


class Regex:
    def __init__(self) -> None:
        self.trans: list[list[tuple[CharSet, int]]] = []  # per state: (characters, next state)
        self.eps: list[list[int]] = []  # per state: next states without a character
        self.accept = -1
        self.start: frozenset[int] = frozenset()

    def new_state(self) -> int:
        if len(self.trans) >= MAX_STATES:
            raise RegexError(f"the pattern needs more than {MAX_STATES} states (a large {{m,n}} repeat?)")
        self.trans.append([])
        self.eps.append([])
        return len(self.trans) - 1

    def closure(self, states) -> frozenset[int]:
        seen, pending = set(states), list(states)
        while pending:
            for t in self.eps[pending.pop()]:
                if t not in seen:
                    seen.add(t)
                    pending.append(t)
        return frozenset(seen)

    def step(self, states: frozenset[int], ch: str) -> frozenset[int]:
        key = (self, states, ch)
        nxt = _MEMO.get(key)
        if nxt is None:
            nxt = self.closure([t for s in states for cs, t in self.trans[s] if cs.matches(ch)])
            _remember(key, nxt)
        return nxt

    def accepts(self, states: frozenset[int]) -> bool:
        return self.accept in states

    def extends(self, states: frozenset[int]) -> bool:
        return any(self.trans[s] for s in states)

    def allows_range(self, states: frozenset[int], lo: int, hi: int) -> bool:
        return any(cs.intersects(lo, hi) for s in states for cs, _ in self.trans[s])

    def unwritable(self, chars: frozenset[str]) -> str | None:
        """Whether text made of chars alone can always go on: None if every state that reads a character reads one
        of chars, else a character (repr) such a state needs. (A vocabulary's single-token characters: then the
        sampler always has a token that continues a match.)"""
        for t in self.trans:
            if t and not any(cs.matches(c) for cs, _ in t for c in chars):
                cs = t[0][0]
                return repr(chr(cs.ranges[0][0])) if cs.ranges and not cs.negated else "a character of a class"
        return None


_MEMO: dict[tuple[Regex, frozenset[int], str], frozenset[int]] = {}  # (regex, states, character) -> states
_memo_states = 0


def _remember(key: tuple[Regex, frozenset[int], str], states: frozenset[int]) -> None:
    """Memoize a step, within a bound on the memory all patterns' memos hold together (one dict, cleared when past
    MAX_MEMO_STATES state ids: a pathological pattern's big state sets cannot pile up)."""
    global _memo_states
    _memo_states += len(states) + len(key[1])
    if _memo_states > MAX_MEMO_STATES:
        _MEMO.clear()
        _memo_states = len(states) + len(key[1])
    _MEMO[key] = states


@functools.lru_cache(maxsize=128)
def compile_regex(pattern: str, search: bool = False) -> Regex:
    """pattern -> its NFA; search: a match may begin and end anywhere (JSON Schema's `pattern`) unless anchored."""
    if len(pattern) > 4096:
        raise RegexError("the pattern is longer than 4096 characters")
    parser = _Parser(pattern)
    anchored_start = parser.eat("^")
    ast = parser.alternation()
    anchored_end = False
    if parser.peek() == "$":
        parser.pos += 1
        anchored_end = True
    if parser.pos != len(pattern):
        raise RegexError(f"unexpected {pattern[parser.pos]!r} at {parser.pos} in the pattern")
    if search and not anchored_start:
        ast = ("cat", [("rep", ("set", ANY), 0, None), ast])
    if search and not anchored_end:
        ast = ("cat", [ast, ("rep", ("set", ANY), 0, None)])
    rx = Regex()
    start, end = _build(rx, ast)
    rx.accept = end
    rx.start = rx.closure([start])
    return rx


def _build(rx: Regex, node) -> tuple[int, int]:
    """An NFA fragment of node: (its entry state, its exit state)."""
    kind = node[0]
    if kind == "set":
        a, b = rx.new_state(), rx.new_state()
        rx.trans[a].append((node[1], b))
        return a, b
    if kind == "cat":
        a = b = rx.new_state()
        for part in node[1]:
            s, e = _build(rx, part)
            rx.eps[b].append(s)
            b = e
        return a, b
    if kind == "alt":
        a, b = rx.new_state(), rx.new_state()
        for part in node[1]:
            s, e = _build(rx, part)
            rx.eps[a].append(s)
            rx.eps[e].append(b)
        return a, b
    _, operand, low, high = node  # "rep": operand {low, high}; high None = unbounded
    a = b = rx.new_state()
    for _ in range(low):
        s, e = _build(rx, operand)
        rx.eps[b].append(s)
        b = e
    if high is None:
        s, e = _build(rx, operand)
        rx.eps[b].append(s)
        rx.eps[e].append(s)
        end = rx.new_state()
        rx.eps[b].append(end)
        rx.eps[e].append(end)
        return a, end
    end = rx.new_state()
    for _ in range(high - low):
        rx.eps[b].append(end)
        s, e = _build(rx, operand)
        rx.eps[b].append(s)
        b = e
    rx.eps[b].append(end)
    return a, end


class _Parser:
    """Recursive descent over the pattern into ("set", CharSet), ("cat", [..]), ("alt", [..]), ("rep", n, lo, hi)."""

    def __init__(self, pattern: str) -> None:
        self.p, self.pos = pattern, 0

    def peek(self) -> str | None:
        return self.p[self.pos] if self.pos < len(self.p) else None

    def eat(self, s: str) -> bool:
        if self.p.startswith(s, self.pos):
            self.pos += len(s)
            return True
        return False

    def fail(self, what: str):
        raise RegexError(f"{what} at {self.pos} in the pattern is not supported")

    def malformed(self, what: str):
        raise RegexError(f"the pattern is malformed: {what} at {self.pos}")

    def alternation(self):
        parts = [self.concat()]
        while self.eat("|"):
            parts.append(self.concat())
        return parts[0] if len(parts) == 1 else ("alt", parts)

    def concat(self):
        parts = []
        while (c := self.peek()) is not None and c not in "|)":
            if c == "$" and self.pos == len(self.p) - 1:
                break  # the end anchor: compile_regex reads it
            parts.append(self.repeat())
        return ("cat", parts)

    def repeat(self):
        atom = self.atom()
        while True:
            c = self.peek()
            if c == "*":
                low, high = 0, None
            elif c == "+":
                low, high = 1, None
            elif c == "?":
                low, high = 0, 1
            elif c == "{" and (bounds := self.bounds()) is not None:
                low, high = bounds
                atom = ("rep", atom, low, high)
                self.eat("?")
                continue
            else:
                return atom
            self.pos += 1
            if self.eat("+"):
                self.fail("a possessive quantifier")
            self.eat("?")  # lazy: the same set of matches
            atom = ("rep", atom, low, high)

    def bounds(self) -> tuple[int, int | None] | None:
        """{m}, {m,} or {m,n} at pos (consumed), or None if the brace is a literal."""
        end = self.p.find("}", self.pos)
        body = self.p[self.pos + 1 : end] if end > 0 else ""
        low, comma, high = body.partition(",")
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        self.pos = end + 1
        lo, hi = int(low), (int(high) if high else None) if comma else int(low)
        if hi is not None and hi < lo:
            raise RegexError(f"{{{body}}}: the upper bound is below the lower")
        if max(lo, hi or 0) > 1000:
            raise RegexError(f"{{{body}}}: repeat counts above 1000 are not supported")
        return lo, hi

    def atom(self):
        c = self.peek()
        if c == "(":
            self.pos += 1
            if self.eat("?"):
                if self.eat(":"):
                    pass
                elif self.eat("P<") or (self.peek() == "<" and self.p[self.pos + 1 : self.pos + 2] not in ("=", "!")
                                        and self.eat("<")):  # fmt: skip
                    close = self.p.find(">", self.pos)
                    if close < 0:
                        self.malformed("an unterminated group name")
                    self.pos = close + 1
                else:
                    self.fail("a lookaround, an inline flag or a conditional")
            inner = self.alternation()
            if not self.eat(")"):
                self.malformed("an unbalanced parenthesis")
            return inner
        if c == "[":
            return ("set", self.char_class())
        if c == ".":
            self.pos += 1
            return ("set", ANY_BUT_NEWLINE)
        if c == "\\":
            return ("set", self.escape(in_class=False))
        if c in "^$":
            self.fail(f"the anchor {c!r} away from the pattern's ends")
        if c in "*+?":
            self.malformed(f"a quantifier {c!r} with nothing to repeat")
        if c == ")":
            self.malformed("an unbalanced parenthesis")
        self.pos += 1
        return ("set", _chars((ord(c), ord(c))))

    def escape(self, in_class: bool) -> CharSet:
        self.pos += 1  # the backslash
        c = self.peek()
        if c is None:
            self.malformed("a trailing backslash")
        self.pos += 1
        if c.lower() in _CLASS_ESCAPES:
            base = _CLASS_ESCAPES[c.lower()]
            return base if c.islower() else CharSet(base.ranges, negated=True)
        if c in _CHAR_ESCAPES:
            return _chars((ord(_CHAR_ESCAPES[c]),) * 2)
        if c in "ux":
            digits = 4 if c == "u" else 2
            code = self.p[self.pos : self.pos + digits]
            if len(code) != digits or any(d not in "0123456789abcdefABCDEF" for d in code):
                self.malformed(f"a \\{c} escape without {digits} hex digits")
            self.pos += digits
            return _chars((int(code, 16),) * 2)
        if c.isdigit() or c in "bBAZzkpP" and not (in_class and c == "b"):
            self.fail(f"the escape \\{c}")
        if in_class and c == "b":
            return _chars((8, 8))
        return _chars((ord(c), ord(c)))  # escaped punctuation: itself

    def char_class(self) -> CharSet:
        self.pos += 1  # '['
        negated = self.eat("^")
        ranges: list[tuple[int, int]] = []
        negated_parts: list[CharSet] = []
        first = True
        while True:
            c = self.peek()
            if c is None:
                self.malformed("an unterminated character class")
            if c == "]" and not first:
                self.pos += 1
                break
            first = False
            if c == "\\":
                part = self.escape(in_class=True)
                if part.negated:  # \D, \W, \S inside a class
                    negated_parts.append(part)
                    continue
                if len(part.ranges) != 1 or part.ranges[0][0] != part.ranges[0][1]:
                    ranges += part.ranges
                    continue
                lo = part.ranges[0][0]
            else:
                self.pos += 1
                lo = ord(c)
            hi = lo
            if self.peek() == "-" and self.p[self.pos + 1 : self.pos + 2] not in ("]", ""):
                self.pos += 1
                end = self.peek()
                if end == "\\":
                    part = self.escape(in_class=True)
                    if part.negated or part.ranges[0][0] != part.ranges[0][1]:
                        self.fail("a class escape as a range's end")
                    hi = part.ranges[0][0]
                else:
                    self.pos += 1
                    hi = ord(end)
                if hi < lo:
                    raise RegexError(f"the range {chr(lo)}-{chr(hi)} is backwards")
            ranges.append((lo, hi))
        if negated_parts:  # [\D...] : the union of the complement(s) and the rest, as one negated set
            if len(negated_parts) > 1 or negated:
                self.fail("a class mixing several negated escapes")
            keep = negated_parts[0]
            # outside keep.ranges, or inside ranges: complement of (keep.ranges minus ranges)
            return CharSet(_subtract(keep.ranges, ranges), negated=True)
        return CharSet(_merge(ranges), negated=negated)


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _subtract(ranges, minus) -> tuple[tuple[int, int], ...]:
    """The code points of ranges that are not in minus."""
    out = []
    for lo, hi in ranges:
        pieces = [(lo, hi)]
        for a, b in _merge(list(minus)):
            pieces = [p for x, y in pieces for p in ((x, min(y, a - 1)), (max(x, b + 1), y)) if p[0] <= p[1]]
        out += pieces
    return _merge(out)
