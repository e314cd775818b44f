"""Receipt codes (回执码) that villagers can read aloud and type on a phone.

A code is a node prefix, 6 random symbols and 1 check symbol.  The first 960
villages of a hub (and the centre's counter) have 2-symbol prefixes, so their
codes are 9 symbols, shown as ``AB3-K7P-9QX``; villages from the 961st on have
3-symbol prefixes and 10-symbol codes, shown as ``AB3-K7P-9QXY``.  The length
tells the two apart, so no 9-symbol code can equal a 10-symbol one and every
code issued before long prefixes existed stays valid.  The alphabet drops 0/O,
1/I/L so nothing reads ambiguously, leaving 31 symbols.  Because 31 is prime,
the check rule "sum of position x value is 0 mod 31" (positions 1..n, n < 31)
catches every single substitution (a weight 1..n times a non-zero difference is
never 0 mod 31) and every adjacent transposition (the weights differ by 1), the
check symbol included.
"""

from __future__ import annotations

import operator
import secrets
import unicodedata
from typing import Any

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)
PREFIX_LEN = 2
LONG_PREFIX_LEN = 3
PREFIX_LENS = (PREFIX_LEN, LONG_PREFIX_LEN)
RANDOM_LEN = 6
CODE_LEN = PREFIX_LEN + RANDOM_LEN + 1
LONG_CODE_LEN = LONG_PREFIX_LEN + RANDOM_LEN + 1
CODE_LENS = (CODE_LEN, LONG_CODE_LEN)
# The last 2-symbol prefix is the centre's counter (窗口收件): no village is ever given it, so a
# counter code can never collide with a village's.
COUNTER_PREFIX = ALPHABET[-1] * PREFIX_LEN
# Node numbers 0..959 are written in two symbols; from 960 on, in three (n in base 31).
FIRST_LONG_NODE = BASE * BASE - 1
MAX_NODE = BASE**LONG_PREFIX_LEN - 1
MAX_VILLAGE = MAX_NODE

_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_SEPARATORS = str.maketrans("", "", " -_\t\u2010\u2011\u2012\u2013\u2014\u2212")


def check_char(body: str) -> str:
    """Return the symbol that makes position-weighted sum of body plus it 0 mod 31."""
    n = len(body) + 1
    if n >= BASE:
        raise ValueError("body too long for a mod-31 position check")
    try:
        total = _weighted_sum(body)
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the receipt alphabet") from None
    # Solve n * c == -total (mod 31); n is invertible because 31 is prime and n < 31.
    c = (-total * pow(n, -1, BASE)) % BASE
    return ALPHABET[c]


def _weighted_sum(symbols: str) -> int:
    # Σ position × value, positions from 1, in C (map) rather than a generator: the hub checks every
    # synced code. KeyError names a symbol outside the alphabet.
    return sum(map(operator.mul, _POSITIONS, map(_VALUE.__getitem__, symbols)))


_POSITIONS = range(1, BASE)


def normalise(text: str) -> str:
    """Return text upper-cased without spaces or dashes; foreign characters stay for is_valid to reject."""
    if text.isascii() and text.isalnum():
        # Every code as stored and sent: NFKC leaves ASCII letters and digits as they are, and
        # there is no separator to drop (about a third of the time of the general path below).
        return text.upper()
    # NFKC turns full-width letters typed with a Chinese IME into plain ASCII.
    return unicodedata.normalize("NFKC", text).upper().translate(_SEPARATORS)


def is_valid(text: str) -> bool:
    """Return True if text, once normalised, is a 9- or 10-symbol code with a correct check symbol."""
    return _is_valid_normalised(normalise(text))


def _is_valid_normalised(code: str) -> bool:
    # The check symbol is the one value that makes the whole code's weighted sum 0 mod 31 (see
    # check_char): the code is right exactly when its sum, check symbol included, is. The sum is
    # read two symbols at a time from tables (the hub checks every synced code: a third of the time
    # of summing symbol by symbol); a symbol outside the alphabet is in no table.
    if len(code) not in CODE_LENS:
        return False
    total = 0
    try:
        for pair, sums in _PAIR_SUMS or _pair_sums():
            total += sums[code[pair]]
    except KeyError:
        return False
    return total % BASE == 0


# The pairs of positions (1, 2), (3, 4), … of the longest code, as the slices of a code that read them.
# A shorter code's last slices may hold one symbol (the ninth of a 9-symbol code), or none.
_PAIRS = tuple(slice(at, at + 2) for at in range(0, LONG_CODE_LEN, 2))


# Each of _PAIRS with its table (_pair_sums), once the first code is checked.
_PAIR_SUMS: list[tuple[slice, dict[str, int]]] = []


def _pair_sums() -> list[tuple[slice, dict[str, int]]]:
    """_PAIR_SUMS, filled: each of _PAIRS with each pair of symbols' part of the weighted sum there;
    each symbol's alone, for a code that ends on the pair's first (a 9-symbol code's last); nothing's,
    for one ending before.

    Built on the first code checked (~5,000 entries, ~1 ms), not at import: a node's idle process
    checks none. Read from the list, not through functools.cache: the loop over the pairs then costs
    what the five look-ups written out did.
    """
    # Positions count from 1: the slice [at, at + 2) reads the symbols at positions at + 1 and at + 2.
    _PAIR_SUMS[:] = [
        (
            pair,
            {a + b: (pair.start + 1) * _VALUE[a] + pair.stop * _VALUE[b] for a in ALPHABET for b in ALPHABET}
            | {a: (pair.start + 1) * _VALUE[a] for a in ALPHABET}
            | {"": 0},
        )
        for pair in _PAIRS
    ]
    return _PAIR_SUMS


def code_prefix(code: str) -> str:
    """The node prefix of a valid code: its length says whether the prefix has 2 or 3 symbols."""
    c = normalise(code)
    return c[: len(c) - RANDOM_LEN - 1]


def issued_by(code: str, prefix: str) -> bool:
    """True when code is a valid code of the node with this prefix (exactly its prefix: village 2Z's
    codes are 9 symbols, so a 10-symbol code starting 2Z… is village 2ZZ's, never 2Z's)."""
    return is_issued(normalise(code), normalise(prefix))


def is_issued(code: str, prefix: str) -> bool:
    """issued_by for a code and a prefix already normalised: the hub checks a batch's codes, which it
    normalised to look them up, against its village's one prefix."""
    return _is_valid_normalised(code) and code[: len(code) - RANDOM_LEN - 1] == prefix


def node_prefix(n: int) -> str:
    """Return the prefix for node number n: 2 symbols below FIRST_LONG_NODE, 3 from there to MAX_NODE."""
    if not 0 <= n <= MAX_NODE:
        raise ValueError(f"node number must be between 0 and {MAX_NODE}")
    width = PREFIX_LEN if n < FIRST_LONG_NODE else LONG_PREFIX_LEN
    return "".join(ALPHABET[n // BASE**k % BASE] for k in reversed(range(width)))


def new_code(prefix: str, rng: Any = secrets) -> str:
    """Return a fresh code (unformatted) for the node with this prefix: 9 symbols, or 10 for a 3-symbol prefix."""
    p = normalise(prefix)
    if len(p) not in PREFIX_LENS or any(c not in _VALUE for c in p):
        raise ValueError(f"invalid receipt prefix {prefix!r}")
    body = p + "".join(rng.choice(ALPHABET) for _ in range(RANDOM_LEN))
    return body + check_char(body)


def format_code(code: str) -> str:
    """Return the code in groups of three joined by dashes, e.g. AB3-K7P-9QX; a 10th symbol joins the last group."""
    c = normalise(code)
    if len(c) in CODE_LENS:
        # A code of 9 or 10 symbols (what the hub writes, once per returning villager): its three groups at once.
        return f"{c[:3]}-{c[3:6]}-{c[6:]}"
    groups = [c[i : i + 3] for i in range(0, len(c), 3)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        groups[-2:] = [groups[-2] + groups[-1]]
    return "-".join(groups)
