"""Retry-After parsing and which HTTP statuses are worth another try."""

from __future__ import annotations

import email.utils
import time

import pytest

from plait.llm._openai_format import parse_arguments
from plait.llm._sdk_errors import is_retryable_status, retry_after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, None),
        ({}, None),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "soon"}, None),
    ],
)
def test_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert retry_after(headers) == expected


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after({"Retry-After": when})
    assert seconds is not None and 25 <= seconds <= 31


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (408, True), (429, True), (500, True), (529, True)],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


@pytest.mark.parametrize(
    ("text", "arguments"),
    [
        ('{"a": 1}', {"a": 1}),
        ("", {}),
        (None, {}),
        ("{oops", {"_raw": "{oops"}),
        ("[1, 2]", {"_raw": "[1, 2]"}),
    ],
)
def test_parse_arguments(text: str | None, arguments: dict[str, object]) -> None:
    assert parse_arguments(text) == arguments
