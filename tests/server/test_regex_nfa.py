"""The regex engine of constrained decoding: whole-text matches agree with Python's re (ASCII classes, as
ECMA-262's), every prefix of a match keeps a live state, and what it cannot run is refused by name."""

import random
import re

import pytest

from server.regex_nfa import CharSet, RegexError, compile_regex

PATTERNS = [
    r"\d{3}-\d{4}", r"[a-z]+(\.[a-z]+)*@[a-z]+\.(com|org)", r"(ab|a)*b?", r"[^\d\s]{2,5}", r"x?y+z*?",
    r"(?:ha){2,}!", r"[A-F0-9]{8}-[A-F0-9]{4}", r"a.c", r"[\w-]+", r"(?P<n>\d+)(?:\.\d{1,2})?", r"[\D]", r"[-a]",
    r"a{2}b{0,3}", r"\u00e9+", r"[^abc]", r"[\s\d]+", r"[\Da]", r"\.\*\+", r"a{2,}?", r"(|a)b", r"[]a]",
]  # fmt: skip
ALPHABET = "abcxyz0123456789-.@_ !AFhé\n*+]"


def run(pattern: str, text: str, search: bool = False) -> tuple[bool, bool]:
    """(a live state after every character, the whole text matches)."""
    rx = compile_regex(pattern, search)
    states = rx.start
    for ch in text:
        states = rx.step(states, ch)
        if not states:
            return False, False
    return True, rx.accepts(states)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_whole_matches_agree_with_pythons_re_on_random_texts(pattern):
    rng = random.Random(pattern)
    reference = re.compile(pattern, re.ASCII)
    for _ in range(2000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(9)))
        assert run(pattern, text)[1] == (reference.fullmatch(text) is not None), text


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_prefix_of_a_match_stays_live_and_a_dead_prefix_has_no_match(pattern):
    rng = random.Random(pattern + "prefix")
    reference = re.compile(pattern, re.ASCII)
    for _ in range(800):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(7)))
        live, _ = run(pattern, text)
        extensions = [text + "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(5))) for _ in range(30)]
        if any(reference.fullmatch(e) for e in extensions):
            assert live, text  # a text with a matching extension is never refused


def test_search_semantics_match_anywhere_unless_anchored():
    assert run("ab", "xxabyy", search=True) == (True, True)
    assert run("^ab", "xxab", search=True)[0] is False
    assert run("ab$", "abx", search=True) == (True, False)  # x may still be followed by "ab"
    assert run("^ab$", "ab", search=True) == (True, True)
    assert run("ab", "xxab") == (False, False)  # guided_regex's (and format's) whole-text match


def test_character_sets_tell_ranges_apart():
    digits = CharSet(((48, 57),))
    assert digits.intersects(0x30, 0x3F) and not digits.intersects(0x41, 0x5A)
    not_digits = CharSet(((48, 57),), negated=True)
    assert not not_digits.intersects(0x30, 0x39) and not_digits.intersects(0x30, 0x3A)
    rx = compile_regex("[0-9a-f]")
    assert rx.allows_range(rx.start, 0x0060, 0x006F) and not rx.allows_range(rx.start, 0x0100, 0x0FFF)


@pytest.mark.parametrize("pattern, words", [
    ("(?=a)b", "a lookaround"), (r"(a)\1", r"the escape \1"), ("a^b", "the anchor '^'"), ("(?i)a", "inline flag"),
    ("a++", "possessive"), ("[z-a]", "backwards"), ("a{3,2}", "upper bound is below"), ("(a", "unbalanced"),
    ("a)", "unexpected ')'"), ("[ab", "unterminated character class"), ("*a", "nothing to repeat"),
    ("a{1001}", "above 1000"), (r"\p{L}", r"the escape \p"), ("(a{500}){500}", "more than 4096 states"),
])  # fmt: skip
def test_what_the_engine_cannot_run_is_refused_by_name(pattern, words):
    with pytest.raises(RegexError, match=re.escape(words)):
        compile_regex(pattern)


def test_a_vocabulary_that_cannot_write_a_needed_character_is_found():
    rx = compile_regex("[0-9]+é")
    assert rx.unwritable(frozenset("0123456789")) == "'é'"
    assert rx.unwritable(frozenset("0123456789é")) is None


@pytest.mark.parametrize("pattern", [r"[^a-z]+", r".+", r"[\D]+", r"\W+", r"[\u0080-\uffff]+"])
def test_a_token_holding_part_of_a_character_passes_no_class(pattern):
    # its U+FFFD would step the NFA once for a character it only begins, and the character finally written could be
    # one a negated class excludes: patterns read whole characters, each written by one token
    rx = compile_regex(pattern)
    assert rx.step(rx.start, "é") and not rx.step(rx.start, "\ufffd")
    assert rx.unwritable(frozenset("\ufffd")) is not None  # a vocabulary of partial tokens cannot write it
