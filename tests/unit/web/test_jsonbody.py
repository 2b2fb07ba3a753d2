"""Strict JSON bodies: what Python's parser lets through quietly (a member given twice, NaN,
UTF-16) or turns into a server error (nesting past its recursion limit) is refused with the
path of what is wrong."""

from __future__ import annotations

import pytest

from gateway.protocol.encoding import MAX_JSON_DEPTH
from gateway.protocol.problems import InvalidRequestError
from gateway.web.jsonbody import parse_strict


def refused_at(body: bytes) -> str | None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_strict(body)
    assert caught.value.code == "invalid-request"
    return caught.value.field


def test_a_plain_body_reads_as_json_does() -> None:
    assert parse_strict(b'{"a": [1, {"b": null}], "c": "\\u1780"}') == {
        "a": [1, {"b": None}], "c": "\u1780"}


def test_a_member_given_twice_is_named_where_it_is() -> None:
    assert refused_at(b'{"a": 1, "a": 2}') == "body.a"
    assert refused_at(b'{"p": {"papers": [{"kind": "x"}, {"n": 1, "n": 1}]}}') == (
        "body.p.papers.1.n")


def test_nesting_is_refused_past_the_limit_and_past_the_parser() -> None:
    parse_strict(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)  # at the limit: read
    beyond = MAX_JSON_DEPTH + 1
    assert refused_at(b'{"x": ' + b"[" * beyond + b"]" * beyond + b"}") == (
        "body.x" + ".0" * (MAX_JSON_DEPTH - 1))
    assert refused_at(b"[" * 200_000 + b"]" * 200_000) == "body"  # no RecursionError escapes


@pytest.mark.parametrize("body", [b'{"age": NaN}', b'{"age": Infinity}', b'{"a": ',
                                  '{"a": 1}'.encode("utf-16"), b'{"a": "\xff"}'])
def test_what_is_not_strict_json_is_refused_as_the_body(body: bytes) -> None:
    assert refused_at(body) == "body"
