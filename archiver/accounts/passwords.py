"""Password hashing with scrypt (hashlib, OpenSSL): memory-hard, salted, parameters stored
with each hash so they can be raised later without locking anyone out."""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

# n=2**15, r=8: 32 MiB of memory per hash, about 0.1 s on the machines we run on
# (OWASP's scrypt minimum is n=2**17 r=8 p=1 or n=2**15 r=8 p=3; we take p=3).
N, R, P = 2**15, 8, 3
MAX_MEM = 64 * 1024 * 1024
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024


class WeakPassword(ValueError):
    pass


def check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPassword(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise WeakPassword(f"the password must have at most {MAX_PASSWORD_CHARS} characters")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, maxmem=MAX_MEM, dklen=32)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8")[:4 * MAX_PASSWORD_CHARS], salt=base64.b64decode(salt),
                                n=int(n), r=int(r), p=int(p), maxmem=MAX_MEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """Verified against when the account does not exist, so a wrong e-mail costs the same time."""
    return hash_password(secrets.token_urlsafe(16))
