"""Passwords, hashed with argon2id (argon2-cffi's defaults, RFC 9106's second
recommended option): a stored hash is never the password, and checking a name that does
not exist costs as much as checking one that does."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from preserver.errors import InputError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is an attack on the CPU
_HASHER = PasswordHasher()
# checked against when the name is unknown, so that the answer takes the same time
_DUMMY = _HASHER.hash("preserver: no such user, this hash is never matched")


def check_new_password(password: str) -> None:
    """Refuse a password too short or too long to be stored, in one line."""
    if len(password) < MIN_LENGTH:
        raise InputError(f"password too short: at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InputError(f"password too long: at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_new_password(password)
    return _HASHER.hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (``None``: no such user,
    checked against a dummy hash all the same)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
