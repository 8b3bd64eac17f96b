"""Short-link codes (pure): alphabet, offensive words, URL length."""

from __future__ import annotations

import random

import pytest

from linktrack.core import shortlinks
from linktrack.core.settings import TrackingSettings


def test_codes_are_ten_characters_without_look_alikes() -> None:
    rng = random.Random(7)
    codes = [shortlinks.new_code(choice=rng.choice) for _ in range(2000)]
    assert all(len(code) == 10 for code in codes)
    assert len(set(codes)) == len(codes)
    used = set("".join(codes))
    assert used <= set(shortlinks.ALPHABET)
    assert not used & set("0O1lIo")


@pytest.mark.parametrize(
    "code", ["abFUCKxyz2", "zzshitzzzz", "a55hat2222", "xxSeXxxxxx", "9NaZiq2222"]
)
def test_offensive_words_are_filtered_in_any_case_and_with_digits(code: str) -> None:
    assert not shortlinks.is_clean(code)


def test_the_generator_skips_offensive_codes() -> None:
    picks = iter("fuckfuckfu" + "abcdefghjk")
    assert shortlinks.new_code(choice=lambda _: next(picks)) == "abcdefghjk"
    assert shortlinks.is_clean("abcdefghjk")


def test_default_short_url_fits_36_characters_for_a_13_character_domain() -> None:
    settings = TrackingSettings(tracking_domain="links.example.com", short_domain="lt.exmpl.shop")
    assert len("lt.exmpl.shop") == 13
    url = shortlinks.short_url(settings, shortlinks.new_code())
    assert url.startswith("https://lt.exmpl.shop/lnk.")
    assert len(url) == shortlinks.default_length(settings) == 36 <= shortlinks.MAX_DEFAULT_LENGTH
    longer = TrackingSettings(short_domain="lt.example.com")  # 14 characters: one too many
    assert shortlinks.default_length(longer) == 37


def test_short_domain_defaults_to_the_tracking_domain_and_follows_https() -> None:
    settings = TrackingSettings(tracking_domain="t.acme.io", tracking_https=False)
    assert shortlinks.short_url(settings, "abcdefghjk") == "http://t.acme.io/lnk.abcdefghjk"


def test_is_code() -> None:
    assert shortlinks.is_code("abcdefghjk")
    assert not shortlinks.is_code("abc")  # too short
    assert not shortlinks.is_code("abcdefghj0")  # not from the alphabet
    assert not shortlinks.is_code("a" * 33)
