"""Canonical JSON: RFC 8785 (JSON Canonicalization Scheme) for a float-free subset.

A manifest is signed and named by its bytes, so one value must have exactly one
serialization. RFC 8785 gives it: no insignificant whitespace, object members
sorted by the UTF-16 code units of their names, strings with only the escapes
ECMAScript's ``JSON.stringify`` makes, UTF-8 out. Numbers are where
implementations disagree (RFC 8785 section 3.2.2.3 needs ECMAScript's
shortest-round-trip doubles), so this subset has no floats at all: integers
only, within I-JSON's exact range (RFC 7493 section 2.2), which all
implementations print the same way.

    >>> canonical_json({"b": [1, True, None], "a": "é\\n"})
    b'{"a":"\\xc3\\xa9\\\\n","b":[1,true,null]}'
    >>> parse_canonical(b'{"a":1}')
    {'a': 1}

Written by hand (about 100 lines) because the maintained Python JCS packages
accept floats; here a float is an error, and so are non-canonical bytes on input.
"""

from __future__ import annotations

import json
import re
from typing import NoReturn, TypeAlias

from manifests.errors import CanonicalizationError

#: A value canonical JSON can hold.
JsonValue: TypeAlias = dict[str, "JsonValue"] | list["JsonValue"] | str | int | bool | None

# RFC 7493 section 2.2: integers outside +-(2**53 - 1) are not exact in every parser.
_MAX_INT = 2**53 - 1
_MAX_DIGITS = len(str(_MAX_INT))
_MAX_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def canonical_json(value: object) -> bytes:
    """Serialize ``value`` (dicts with str keys, lists, str, int, bool, None) per RFC 8785.

    Raises ``CanonicalizationError`` naming the offending place (``$.files[0].size``)
    for a float, a non-str key, an integer beyond +-(2**53 - 1), a lone surrogate
    in a string, or any other type.
    """
    parts: list[str] = []
    _write(value, parts, "$", 0)
    text = "".join(parts)
    parts.clear()  # freed before the encoding: two copies of a large value at once, not three
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # RFC 8785 section 3.2.2.2: strings must be valid Unicode; UTF-8 cannot carry a
        # lone surrogate (U+D800..U+DFFF).
        raise CanonicalizationError(
            f"a string holds a lone surrogate {exc.object[exc.start : exc.end]!r}"
        ) from exc


def parse_canonical(data: bytes) -> JsonValue:
    """Parse JSON that must already be canonical; raise ``CanonicalizationError`` otherwise.

    Rejects bytes that are not UTF-8, not JSON, hold a float, NaN or Infinity, a
    duplicate member name, or anything that re-serializes to different bytes
    (whitespace, member order, escapes such as ``\\u00e9`` or ``\\/``).
    """
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalizationError(f"not UTF-8: {exc}") from exc
    _check_depth(bytes(data))
    try:
        value: JsonValue = json.loads(
            text,
            parse_int=_bounded_int,
            parse_float=_reject_float,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_members,
        )
    except json.JSONDecodeError as exc:
        raise CanonicalizationError(f"not JSON: {exc}") from exc
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise CanonicalizationError(f"not JSON we accept: {exc}") from exc
    again = canonical_json(value)
    if again != data:
        at = next((i for i, (a, b) in enumerate(zip(again, data)) if a != b), len(again))
        raise CanonicalizationError(
            f"not canonical: differs from the canonical form at byte {at} "
            f"(got {bytes(data[at : at + 16])!r}, canonical {again[at : at + 16]!r})"
        )
    return value


def _write(value: object, out: list[str], where: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise CanonicalizationError(f"{where}: nested deeper than {_MAX_DEPTH} levels")
    # bool before int: True is an int in Python.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not -_MAX_INT <= value <= _MAX_INT:
            raise CanonicalizationError(
                f"{where}: integer {value} is outside +-(2**53 - 1); store it as a string"
            )
        out.append(str(int(value)))
    elif isinstance(value, str):
        # RFC 8785 section 3.2.2.2: escape only '"', '\\' and U+0000..U+001F, using
        # \b \t \n \f \r where they exist and lowercase \u00xx otherwise; this is exactly
        # what json.dumps does with ensure_ascii=False.
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalizationError(f"{where}: object key {key!r} is not a string")
        out.append("{")
        # RFC 8785 section 3.2.3: sort by UTF-16 code units; big-endian UTF-16 bytes
        # compare in that order (a non-BMP character sorts by its lead surrogate).
        for i, key in enumerate(sorted(value, key=_utf16_units)):
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _write(value[key], out, f"{where}.{key}", depth + 1)
        out.append("}")
    elif isinstance(value, list | tuple) and value and all(type(v) is str for v in value):
        # A list of strings (a report's custody event lists its 10**6 target keys) as one
        # string, not one part per item: the same bytes, each item as the branch above
        # writes it, without ~100 bytes of parts per item held until the join.
        out.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, f"{where}[{i}]", depth + 1)
        out.append("]")
    elif isinstance(value, float):
        raise CanonicalizationError(
            f"{where}: floats are not allowed in canonical JSON (got {value!r}); "
            "store an integer or a string"
        )
    else:
        raise CanonicalizationError(f"{where}: a {type(value).__name__} is not a JSON value")


def _utf16_units(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _check_depth(data: bytes) -> None:
    """Refuse nesting deeper than ``_MAX_DEPTH`` before ``json.loads`` recurses into it:
    the brackets outside strings, counted."""
    depth = 0
    for bracket in _STRING.sub(b"", data).translate(None, _NOT_BRACKET):
        depth += 1 if bracket in b"[{" else -1
        if depth > _MAX_DEPTH:
            raise CanonicalizationError(f"nested deeper than {_MAX_DEPTH} levels")


def _bounded_int(text: str) -> int:
    # digits counted before int(): RFC 7493 section 2.2 needs no more than 16
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise CanonicalizationError(f"an integer of {len(text)} digits is outside "
                                    "+-(2**53 - 1)")
    return int(text)


def _reject_float(text: str) -> NoReturn:
    raise CanonicalizationError(f"floats are not allowed in canonical JSON (got {text})")


def _reject_constant(text: str) -> NoReturn:
    raise CanonicalizationError(f"{text} is not JSON")


def _unique_members(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    members: dict[str, JsonValue] = {}
    for key, item in pairs:
        if key in members:
            raise CanonicalizationError(f"duplicate object member {key!r}")
        members[key] = item
    return members
