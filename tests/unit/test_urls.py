"""URL rules: which links are tracked and how parameters are appended."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from linktrack.core.urls import UrlKind, add_params, classify, looks_secret


@pytest.mark.parametrize(
    "href,kind",
    [
        ("https://example.com", UrlKind.TRACKED),
        ("HTTP://Example.com/a", UrlKind.TRACKED),
        ("  https://example.com/x  ", UrlKind.TRACKED),
        ("www.example.com", UrlKind.NO_PROTOCOL),
        ("example.com", UrlKind.NO_PROTOCOL),
        ("/path/only", UrlKind.NO_PROTOCOL),
        ("example.com:8080/x", UrlKind.NO_PROTOCOL),
        ("mailto:a@example.com", UrlKind.NEVER),
        ("tel:+15551234", UrlKind.NEVER),
        ("sms:+15551234", UrlKind.NEVER),
        ("#top", UrlKind.NEVER),
        ("javascript:alert(1)", UrlKind.NEVER),
        ("ftp://example.com", UrlKind.NEVER),
        ("https://", UrlKind.NEVER),
        # no "//": signed, the click path would refuse it (a dead link); left and warned
        ("https:example.com", UrlKind.NO_PROTOCOL),
        ("HTTP:/example.com/a", UrlKind.NO_PROTOCOL),
        ("https:\\\\example.com", UrlKind.NO_PROTOCOL),
        ("", UrlKind.EMPTY),
    ],
)
def test_classify(href: str, kind: UrlKind) -> None:
    assert classify(href) is kind


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://x.com", "https://x.com?utm_source=cio&utm_medium=email"),
        ("https://x.com/", "https://x.com/?utm_source=cio&utm_medium=email"),
        ("https://x.com/?a=1", "https://x.com/?a=1&utm_source=cio&utm_medium=email"),
        ("https://x.com/?", "https://x.com/?utm_source=cio&utm_medium=email"),
        ("https://x.com/?a=1&", "https://x.com/?a=1&utm_source=cio&utm_medium=email"),
        ("https://x.com/p#frag", "https://x.com/p?utm_source=cio&utm_medium=email#frag"),
        (
            "https://x.com/p?a=%20b#f?g",
            "https://x.com/p?a=%20b&utm_source=cio&utm_medium=email#f?g",
        ),
        # the author's own value wins and keeps its spelling
        ("https://x.com/?utm_source=mine", "https://x.com/?utm_source=mine&utm_medium=email"),
        ("https://x.com/?utm_source=a+b", "https://x.com/?utm_source=a+b&utm_medium=email"),
    ],
)
def test_add_params(url: str, expected: str) -> None:
    assert add_params(url, [("utm_source", "cio"), ("utm_medium", "email")]) == expected


def test_add_params_encodes_values() -> None:
    assert add_params("https://x.com", [("c", "Spring sale & more/ü")]) == (
        "https://x.com?c=Spring%20sale%20%26%20more/%C3%BC"
    )


def test_add_params_encodes_a_plus_so_the_destination_reads_a_plus() -> None:
    added = add_params("https://x.com/?a=b+c", [("c", "C++ 1+1")])
    assert added == "https://x.com/?a=b+c&c=C%2B%2B%201%2B1"
    assert parse_qsl(added.partition("?")[2])[1] == ("c", "C++ 1+1")


def test_add_params_nothing_to_add_returns_input() -> None:
    assert add_params("https://x.com/?a=1#f", []) == "https://x.com/?a=1#f"


@pytest.mark.parametrize(
    "url,secret",
    [
        ("https://x.com/reset?token=abc", True),
        ("https://x.com/?reset_password=1", True),
        ("https://x.com/download?signature=ab&expires=1", True),
        ("https://x.com/?api_key=1", True),
        ("https://x.com/account/password-reset", False),
        ("https://x.com/reset/abc", False),
        ("https://x.com/password/reset/4f9a8b7c6d5e", True),
        ("https://x.com/magic-link/eyJhbGciOi", True),
        ("https://x.com/shop?utm_source=a&page=2", False),
        ("https://x.com/blog/post", False),
    ],
)
def test_looks_secret(url: str, secret: bool) -> None:
    assert looks_secret(url) is secret
