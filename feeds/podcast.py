"""Podcast facts: Apple's category names, and episode durations read and written. Pure."""

from __future__ import annotations

import re

from feeds.words import shown

#: Apple Podcasts' categories and their subcategories (the list of 2019, which podcast
#: directories and the W3C validator check against; older names draw a warning there)
CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": (
        "Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit",
    ),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "Health & Fitness": (
        "Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality",
    ),
    "History": (),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
        "Home & Garden", "Video Games",
    ),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News", "Daily News", "Entertainment News", "News Commentary", "Politics",
        "Sports News", "Tech News",
    ),
    "Religion & Spirituality": (
        "Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Spirituality",
    ),
    "Science": (
        "Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
        "Natural Sciences", "Nature", "Physics", "Social Sciences",
    ),
    "Society & Culture": (
        "Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships",
    ),
    "Sports": (
        "Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey",
        "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball", "Wilderness",
        "Wrestling",
    ),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}  # fmt: skip

#: how a category and its subcategory are written in config.yaml: ``News > Tech News``
SUBCATEGORY_MARK = ">"

#: seconds, M:SS or H:MM:SS (the first number may be as large as it likes)
_CLOCK = re.compile(r"(\d{1,12})(?::([0-5]\d))?(?::([0-5]\d))?")
#: the longest episode, in seconds: 1,000 hours (a longer one is a typo)
MAX_DURATION = 1000 * 3600


def split_category(text: str) -> tuple[str, str | None]:
    """``"News > Tech News"`` → ``("News", "Tech News")``; ValueError naming the known
    names when either is not Apple's."""
    top, mark, sub = (part.strip() for part in text.partition(SUBCATEGORY_MARK))
    if top not in CATEGORIES:
        raise ValueError(f"unknown category {top!r} (known: {', '.join(CATEGORIES)})")
    if not mark:
        return top, None
    if sub not in CATEGORIES[top]:
        known = ", ".join(CATEGORIES[top]) or "none"
        raise ValueError(f"unknown subcategory {sub!r} of {top!r} (known: {known})")
    return top, sub


def parse_duration(value: object) -> int:
    """An episode's length in seconds from ``3723``, ``"3723"``, ``"62:03"`` or ``"1:02:03"``
    (YAML reads an unquoted ``1:02:03`` as 3723 already); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("must be seconds or H:MM:SS, not true/false")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        total = value
    else:
        match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"must be seconds or H:MM:SS, not {shown(value)}")
        total = 0
        for part in match.groups():
            if part is not None:
                total = total * 60 + int(part)
    if total > MAX_DURATION:
        raise ValueError(f"is over {MAX_DURATION // 3600:,} hours: seconds or H:MM:SS")
    return total


def format_duration(seconds: int) -> str:
    """``3723`` → ``"1:02:03"``, ``62`` → ``"1:02"``: the form podcast apps show."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
