"""Tests for readable receipt codes and their check symbol."""

import random

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from shared.receipt_codes import ALPHABET
from shared.receipt_codes import check_char
from shared.receipt_codes import format_code
from shared.receipt_codes import is_valid
from shared.receipt_codes import new_code
from shared.receipt_codes import node_prefix
from shared.receipt_codes import normalise

codes = st.builds(
    lambda body: body + check_char(body),
    st.text(alphabet=ALPHABET, min_size=8, max_size=8),
)


def test_alphabet_has_31_unambiguous_symbols():
    assert len(ALPHABET) == 31 == len(set(ALPHABET))
    assert not set("01ILO") & set(ALPHABET)


def test_new_code_shape():
    code = new_code("AB", rng=random.Random(1))
    assert len(code) == 9
    assert code.startswith("AB")
    assert set(code) <= set(ALPHABET)
    assert is_valid(code)


def test_new_code_uses_secrets_by_default_and_varies():
    assert len({new_code("23") for _ in range(50)}) == 50


def test_new_code_rejects_bad_prefix():
    for bad in ("A", "ABC", "A0", "I2"):
        with pytest.raises(ValueError):
            new_code(bad)


@settings(max_examples=80, deadline=None)
@given(codes)
def test_every_single_substitution_is_detected(code):
    assert is_valid(code)
    for i, original in enumerate(code):
        for other in ALPHABET:
            if other != original:
                assert not is_valid(code[:i] + other + code[i + 1 :]), (code, i, other)


@settings(max_examples=80, deadline=None)
@given(codes)
def test_every_adjacent_transposition_is_detected(code):
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert not is_valid(swapped), (code, i)


def test_exhaustive_over_one_fixed_code():
    code = new_code("K7", rng=random.Random(42))
    singles = [code[:i] + c + code[i + 1 :] for i in range(9) for c in ALPHABET if c != code[i]]
    assert len(singles) == 9 * 30
    assert not any(is_valid(s) for s in singles)


def test_format_and_normalise_round_trip():
    code = new_code("AB", rng=random.Random(7))
    shown = format_code(code)
    assert len(shown) == 11
    assert shown[3] == "-"
    assert shown[7] == "-"
    assert normalise(shown) == code
    assert is_valid(shown.lower())
    assert is_valid(" " + shown.replace("-", " ") + " ")
    # Full-width letters typed with a Chinese input method.
    full = "".join(chr(ord(c) + 0xFEE0) for c in code)
    assert is_valid(full)


@pytest.mark.parametrize("text", ["", "AB", "ABCDEFGHJK", "AB0-K7P-9QX", "ABO-K7P-9QX", "AB1K7P9QX"])
def test_is_valid_rejects_wrong_length_or_foreign_characters(text):
    assert not is_valid(text)


def test_foreign_characters_are_not_guessed():
    code = new_code("AB", rng=random.Random(3))
    assert normalise(code[:4] + "0" + code[5:]) == code[:4] + "0" + code[5:]


def test_node_prefix_covers_961_nodes_uniquely():
    prefixes = [node_prefix(n) for n in range(961)]
    assert len(set(prefixes)) == 961
    assert node_prefix(0) == "22"
    assert node_prefix(960) == "ZZ"
    for bad in (-1, 961):
        with pytest.raises(ValueError):
            node_prefix(bad)


def test_check_char_rejects_foreign_body():
    with pytest.raises(ValueError):
        check_char("AB0")
