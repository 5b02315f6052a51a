"""Canonical JSON: RFC 8785 vectors that fit the float-free subset, and every rejection."""

from __future__ import annotations

import json
from enum import StrEnum

import pytest

from manifests import CanonicalizationError, FindingOutcome, canonical_json, parse_canonical

# (name, input JSON text, expected canonical output). Sources: RFC 8785 sections 3.2.2.2
# and 3.2.3, and the test data of the reference implementation
# (github.com/cyberphone/json-canonicalization, testdata/input and testdata/output).
# "values" is adapted: its "numbers" member holds floats, outside this subset.
VECTORS = [
    (
        "rfc8785-3.2.3-sorting",  # U+1F600 is D83D DE00 in UTF-16: before U+FB33
        r"""{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }""",
        (
            '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
            '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
            '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
        ),
    ),
    (
        "rfc8785-3.2.2.2-strings-and-literals",
        r"""{"string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
             "literals": [null, true, false]}""",
        '{"literals":[null,true,false],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    ),
    (
        "cyberphone-arrays",
        '[\n  56,\n  {\n    "d": true,\n    "10": null,\n    "1": [ ]\n  }\n]',
        '[56,{"1":[],"10":null,"d":true}]',
    ),
    (
        "cyberphone-french",  # sorting ignores locale
        (
            '{\n  "peach": "This sorting order",\n'
            '  "p\u00e9ch\u00e9": "is wrong according to French",\n'
            '  "p\u00eache": "but canonicalization MUST",\n  "sin":   "ingnore locale"\n}\n'
        ),
        (
            '{"peach":"This sorting order","p\u00e9ch\u00e9":"is wrong according to French",'
            '"p\u00eache":"but canonicalization MUST","sin":"ingnore locale"}'
        ),
    ),
    (
        "cyberphone-unicode",  # no Unicode normalization
        '{\n  "Unnormalized Unicode":"\\u1e0d\\u0307"\n}\n',
        '{"Unnormalized Unicode":"\u1e0d\u0307"}',
    ),
    (
        "cyberphone-weird",  # U+007F and U+0080 are not escaped; "</script>" neither
        r"""{
          "\u20ac": "Euro Sign",
          "1": "One",
          "\u0080": "Control\u007f",
          "\ud83d\ude02": "Smiley",
          "\u00f6": "Latin Small Letter O With Diaeresis",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "</script>": "Browser Challenge"
        }""",
        (
            '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f",'
            '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
            '"\U0001f602":"Smiley",'
            '"\ufb33":"Hebrew Letter Dalet With Dagesh"}'
        ),
    ),
    (
        "cyberphone-simple-string",
        '    "this is a test string 1235"',
        '"this is a test string 1235"',
    ),
]


@pytest.mark.parametrize(("name", "source", "expected"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vectors(name: str, source: str, expected: str) -> None:
    value = json.loads(source)
    assert canonical_json(value) == expected.encode("utf-8")
    assert parse_canonical(expected.encode("utf-8")) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\x00\x08\t\n\x0b\x0c\r\x1f", '"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f"'),
        ("\x7f\u2028\u2029", '"\x7f\u2028\u2029"'),  # not escaped: only < U+0020
        ("سوق دوما", '"سوق دوما"'),
        (2**53 - 1, "9007199254740991"),
        (-(2**53 - 1), "-9007199254740991"),
        (0, "0"),
        ((1, "a"), '[1,"a"]'),
        ({}, "{}"),
        ([], "[]"),
        ({"b": {"d": 1, "c": 2}, "a": []}, '{"a":[],"b":{"c":2,"d":1}}'),
    ],
)
def test_serialization(value: object, expected: str) -> None:
    assert canonical_json(value) == expected.encode("utf-8")


def _nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"a": [1, 2.5]}, r"\$\.a\[1\]: floats are not allowed in canonical JSON \(got 2\.5\)"),
        (1.0, r"\$: floats are not allowed"),
        (float("nan"), "floats are not allowed"),
        ({1: "a"}, "object key 1 is not a string"),
        ({"n": 2**53}, r"\$\.n: integer 9007199254740992 is outside"),
        (-(2**53), "integer -9007199254740992 is outside"),
        ("\ud800", "lone surrogate"),
        ({"\udc00": 1}, "lone surrogate"),
        (b"bytes", "a bytes is not a JSON value"),
        ({"s": {1, 2}}, r"\$\.s: a set is not a JSON value"),
        (_nested(70), "nested deeper than 64"),
    ],
    ids=[
        "float-in-list",
        "float",
        "nan",
        "int-key",
        "int-too-big",
        "int-too-small",
        "lone-surrogate",
        "lone-surrogate-key",
        "bytes",
        "set",
        "too-deep",
    ],
)
def test_rejected_values(value: object, match: str) -> None:
    with pytest.raises(CanonicalizationError, match=match):
        canonical_json(value)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b'{"a":"\xff"}', "not UTF-8"),
        (b"\xef\xbb\xbf{}", "not JSON"),  # a BOM
        (b"{", "not JSON"),
        (b"", "not JSON"),
        (b"1.5", r"floats are not allowed in canonical JSON \(got 1\.5\)"),
        (b"1e2", "floats are not allowed"),
        (b"[NaN]", "NaN is not JSON"),
        (b"-Infinity", "-Infinity is not JSON"),
        (b'{"a":1,"a":1}', "duplicate object member 'a'"),
        (b'{"a": 1}', "not canonical: differs .* at byte 5"),
        (b'{"b":1,"a":2}', "not canonical"),
        (b'"\\u00e9"', "not canonical"),
        (b'"\\/"', "not canonical"),
        (b"-0", "not canonical"),
        (b"[1]\n", "not canonical"),
        (b'"\\ud800"', "lone surrogate"),
        (b"9007199254740992", "outside"),
        (b"1" * 5000, "an integer of 5000 digits"),
        (b"[" * 100000 + b"]" * 100000, "nested deeper than 64"),
        (b"[" * 70 + b"]" * 70, "nested deeper than 64"),
    ],
    ids=[
        "not-utf8",
        "bom",
        "truncated",
        "empty",
        "float",
        "exponent",
        "nan",
        "infinity",
        "duplicate-key",
        "whitespace",
        "key-order",
        "needless-escape",
        "escaped-slash",
        "negative-zero",
        "trailing-newline",
        "lone-surrogate",
        "int-too-big",
        "int-digits",
        "recursion",
        "too-deep",
    ],
)
def test_parse_rejects(data: bytes, match: str) -> None:
    with pytest.raises(CanonicalizationError, match=match):
        parse_canonical(data)


def test_parse_round_trip() -> None:
    data = canonical_json({"z": [None, True, False, -5, "\n"], "a": {"b": "ب"}})
    assert canonical_json(parse_canonical(data)) == data


class _Word(StrEnum):
    ESCAPED = 'سوق "دوما"\n'  # a member whose string needs escapes


@pytest.mark.parametrize("member", [*FindingOutcome, *_Word], ids=repr)
def test_a_str_enum_serializes_as_its_plain_string(member: StrEnum) -> None:
    """Vocabularies are ``StrEnum``s: as a value or a key, a member writes exactly the
    bytes of its plain string, so a signed body does not depend on which was passed."""
    plain = str(member.value)
    assert type(plain) is str
    with_member = {member: [member, {"k": member}]}
    with_plain = {plain: [plain, {"k": plain}]}
    assert canonical_json(with_member) == canonical_json(with_plain)
    assert canonical_json(member) == canonical_json(plain)
    for ascii_only in (True, False):
        assert json.dumps(with_member, ensure_ascii=ascii_only) == \
            json.dumps(with_plain, ensure_ascii=ascii_only)


def test_a_list_of_strings_is_written_as_each_string_alone() -> None:
    """The one-part path for lists of strings (a custody event's million target keys)
    gives the bytes the per-item path gives: each string as alone, comma-joined."""
    items = ["plain", 'quote " and \\ backslash', "\n\t\b\f\r\x00\x1f", "é\u2028\U0001f600",
             "https://youtu.be/abc?t=69", ""]
    expected = b"[" + b",".join(canonical_json(s) for s in items) + b"]"
    assert canonical_json(items) == expected
    assert canonical_json(tuple(items)) == expected
    assert canonical_json({"k": items}) == b'{"k":' + expected + b"}"
    assert canonical_json([*items, 1]) == expected[:-1] + b",1]"  # mixed: per item
    with pytest.raises(CanonicalizationError, match="lone surrogate"):
        canonical_json(["ok", "\ud800"])
