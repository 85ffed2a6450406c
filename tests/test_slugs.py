"""SPEC §3: tag and author slugs are lowercase ASCII; a stable hash where nothing transliterates."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.slugs import MAX_LENGTH, slugify


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Política Exterior", "politica-exterior"),
        ("  Hello,   World!  ", "hello-world"),
        ("Москва", "moskva"),
        ("北京", "beijing"),
        ("Don’t Panic", "dont-panic"),
        ("C++ & Rust", "c-rust"),
        ("2024 in review", "2024-in-review"),
        ("!!!", "9a7b006d"),
        ("", "da39a3ee"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_hash_is_of_the_nfc_text() -> None:
    # Precomposed and decomposed spellings are one name; their slug must be one too.
    assert slugify("\u00e9!") == slugify("e\u0301!") == "e"
    assert slugify("\u2603\u2603") != slugify("\u2603")
    assert slugify("\u3002") == slugify("\u3002")


def test_long_text_is_cut_between_words() -> None:
    slug = slugify("word " * 50)
    assert len(slug) <= MAX_LENGTH
    assert slug.endswith("word") and "--" not in slug
    assert len(slugify("x" * 500)) == MAX_LENGTH


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_gives_a_usable_slug(text: str) -> None:
    slug = slugify(text)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug)
    assert len(slug) <= MAX_LENGTH
    assert slugify(text) == slug
