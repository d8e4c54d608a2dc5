"""Reference codes: make, normalise and check them, and derive the lookup id and reply key."""

import hashlib
import secrets
import unicodedata
from collections.abc import Iterable

from nacl.public import PrivateKey

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
RANDOM_SYMBOLS = 19  # 95 bits
LENGTH = RANDOM_SYMBOLS + 1
GROUP = 5

_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}

# What people type instead of the symbol they see. Applied after NFKC and upper-casing; public,
# because seal.js applies the same table in the browser.
LOOKALIKES = {
    **dict(zip("OIL", "011", strict=True)),
    **dict(zip("АВСЕНІЈКМОРЅТХУҮЗԚԜ", "ABCEH1JKM0PSTXYY3QW", strict=True)),  # Cyrillic capitals
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZH1KMN0PTYX", strict=True)),  # Greek capitals
}
LOOKALIKES.update({chr(0x0660 + d): str(d) for d in range(10)})  # Arabic-Indic digits
LOOKALIKES.update({chr(0x06F0 + d): str(d) for d in range(10)})  # Persian digits
_TRANSLATE = str.maketrans(LOOKALIKES)

LOOKUP_PERSON = b"intake.lookup.v1"
REPLY_PERSON = b"intake.reply.v1"


MAX_TYPED = 200  # code points: longer text is refused before it is read

# Why a text is not a code. None of them says anything about which codes exist.
NOT_A_CODE = {
    "length": "not a reference code",  # not 20 symbols once separators are dropped
    "symbols": "not a reference code",  # 20, but some are not in the alphabet
    "check": "the check symbol does not match",
}


class InvalidCode(ValueError):
    """Text that is not a reference code, or whose check symbol does not match: `reason` says
    which (a key of NOT_A_CODE), `count` how many symbols it has once separators are dropped."""

    def __init__(self, reason: str, count: int):
        super().__init__(NOT_A_CODE[reason])
        self.reason, self.count = reason, count


# The check symbol is a Damm check over GF(32) (polynomial x^5 + x^2 + 1): the operation
# a*x + y is a totally anti-symmetric quasigroup, so every single-symbol error and every
# swap of two neighbouring symbols is caught before any lookup.
def _gf32_double(x: int) -> int:
    x <<= 1
    return x ^ 0b100101 if x & 0b100000 else x


def _damm(values: Iterable[int]) -> int:
    interim = 0
    for value in values:
        interim = _gf32_double(interim) ^ value
    return interim


def check_symbol(symbols: str) -> str:
    """Return the symbol that makes `symbols` + it check to zero."""
    return ALPHABET[_gf32_double(_damm(_VALUE[s] for s in symbols))]


def make() -> str:
    """Return a fresh random code, canonical (20 symbols, no hyphens)."""
    bits = secrets.randbits(5 * RANDOM_SYMBOLS)  # one draw: 19 draws of one symbol cost ten times more
    body = "".join(ALPHABET[(bits >> 5 * i) & 31] for i in range(RANDOM_SYMBOLS))
    return body + check_symbol(body)


def display(code: str) -> str:
    """Group a canonical code for display: XXXXX-XXXXX-XXXXX-XXXXX."""
    return "-".join(code[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def normalise(text: str) -> str:
    """Return the canonical code a person meant, or raise InvalidCode."""
    if not isinstance(text, str):
        raise InvalidCode("length", 0)
    if len(text) > MAX_TYPED:
        raise InvalidCode("length", len(text))
    text = unicodedata.normalize("NFKC", text).upper().translate(_TRANSLATE)
    # Drop spaces, hyphens of every kind, and invisible marks copied from a right-to-left page.
    kept = "".join(c for c in text if unicodedata.category(c) not in ("Zs", "Pd", "Cf", "Cc"))
    if len(kept) != LENGTH:
        raise InvalidCode("length", len(kept))
    if any(c not in _VALUE for c in kept):
        raise InvalidCode("symbols", LENGTH)
    if _damm(_VALUE[c] for c in kept) != 0:
        raise InvalidCode("check", LENGTH)
    return kept


def is_canonical(code: str) -> bool:
    """True for a code exactly as normalise() returns it: 20 symbols of the alphabet that check."""
    return len(code) == LENGTH and all(c in _VALUE for c in code) and _damm(_VALUE[c] for c in code) == 0


def lookup_id(code: str) -> bytes:
    """Return the 32-byte id under which the server files a canonical code's status."""
    return hashlib.blake2b(code.encode("ascii"), digest_size=32, person=LOOKUP_PERSON).digest()


def reply_key(code: str) -> PrivateKey:
    """Return the X25519 key pair whose public half the secretariat seals replies to."""
    seed = hashlib.blake2b(code.encode("ascii"), digest_size=32, person=REPLY_PERSON).digest()
    return PrivateKey(seed)
