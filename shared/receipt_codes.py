"""Receipt codes (回执码) that villagers can read aloud and type on a phone.

A code is 9 symbols: a 2-symbol node prefix, 6 random symbols and 1 check
symbol, shown as ``AB3-K7P-9QX``.  The alphabet drops 0/O, 1/I/L so nothing
reads ambiguously, leaving 31 symbols.  Because 31 is prime, the check rule
"sum of position x value is 0 mod 31" (positions 1..9) catches every single
substitution (a weight 1..9 times a non-zero difference is never 0 mod 31) and
every adjacent transposition (the weights differ by 1), the check symbol included.
"""

from __future__ import annotations

import secrets
import unicodedata
from typing import Any

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)
PREFIX_LEN = 2
RANDOM_LEN = 6
CODE_LEN = PREFIX_LEN + RANDOM_LEN + 1
MAX_NODE = BASE * BASE - 1
# The last prefix is the centre's counter (窗口收件): no village is ever given it, so a counter
# code can never collide with a village's.
COUNTER_PREFIX = ALPHABET[-1] * PREFIX_LEN
MAX_VILLAGE = MAX_NODE - 1

_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_SEPARATORS = str.maketrans("", "", " -_\t\u2010\u2011\u2012\u2013\u2014\u2212")


def check_char(body: str) -> str:
    """Return the symbol that makes position-weighted sum of body plus it 0 mod 31."""
    n = len(body) + 1
    if n >= BASE:
        raise ValueError("body too long for a mod-31 position check")
    try:
        total = sum((i + 1) * _VALUE[c] for i, c in enumerate(body))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the receipt alphabet") from None
    # Solve n * c == -total (mod 31); n is invertible because 31 is prime and n < 31.
    c = (-total * pow(n, -1, BASE)) % BASE
    return ALPHABET[c]


def normalise(text: str) -> str:
    """Return text upper-cased without spaces or dashes; foreign characters stay for is_valid to reject."""
    # NFKC turns full-width letters typed with a Chinese IME into plain ASCII.
    return unicodedata.normalize("NFKC", text).upper().translate(_SEPARATORS)


def is_valid(text: str) -> bool:
    """Return True if text, once normalised, is a 9-symbol code with a correct check symbol."""
    code = normalise(text)
    if len(code) != CODE_LEN or any(c not in _VALUE for c in code):
        return False
    return check_char(code[:-1]) == code[-1]


def node_prefix(n: int) -> str:
    """Return the 2-symbol prefix for node number n (0..960)."""
    if not 0 <= n <= MAX_NODE:
        raise ValueError(f"node number must be between 0 and {MAX_NODE}")
    return ALPHABET[n // BASE] + ALPHABET[n % BASE]


def new_code(prefix: str, rng: Any = secrets) -> str:
    """Return a fresh 9-symbol code (unformatted) for the node with this prefix."""
    p = normalise(prefix)
    if len(p) != PREFIX_LEN or any(c not in _VALUE for c in p):
        raise ValueError(f"invalid receipt prefix {prefix!r}")
    body = p + "".join(rng.choice(ALPHABET) for _ in range(RANDOM_LEN))
    return body + check_char(body)


def format_code(code: str) -> str:
    """Return the code in groups of three joined by dashes, e.g. AB3-K7P-9QX."""
    c = normalise(code)
    return "-".join(c[i : i + 3] for i in range(0, len(c), 3))
