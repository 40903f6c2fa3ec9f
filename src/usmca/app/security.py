"""Secrets: passwords hashed with scrypt (stdlib), API keys stored as SHA-256 of a 256-bit random token.

A random API key has full entropy, so a fast hash is enough to make a stolen table useless; passwords are
chosen by people and get a memory-hard KDF.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1
KEY_PREFIX = "usk_"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(dk)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, dk = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(_unb64(dk)),
            maxmem=128 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(dk))


def new_api_key() -> tuple[str, str, str]:
    """(the key shown once to the user, its lookup prefix, its stored hash)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key_prefix(key), hash_key(key)


def key_prefix(key: str) -> str:
    return key[:12]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
