"""YAML front matter and config: values, types and key lines, whichever reader reads them.

``load_mapping`` reads common front matter with a quick reader of its own, the rest
with libyaml or PyYAML; PyYAML's pure-Python reader is the reference all must match.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds import yamlsafe
from feeds.yamlsafe import YamlError, load_mapping

Loaded = tuple[dict[str, Any], dict[str, int]]


def pure(text: str) -> Loaded:
    """PyYAML's pure-Python reader: the reference."""
    return yamlsafe._load_with(yamlsafe._Loader, text)


def typed(value: Any) -> Any:
    """``value`` with the type of everything in it, so that 1, 1.0 and True differ."""
    if isinstance(value, list):
        return ["list", [typed(item) for item in value]]
    if isinstance(value, dict):
        return ["dict", [(typed(k), typed(v)) for k, v in value.items()]]
    if isinstance(value, float) and math.isnan(value):
        return ["float", "nan"]
    return [type(value).__name__, value]


def outcome(read: Callable[[str], Loaded], text: str) -> tuple[Any, ...]:
    try:
        values, lines = read(text)
    except YamlError as e:
        return ("error", e.line, e.message)
    return ("ok", typed(values), lines)


# --- the shapes front matter comes in -----------------------------------------------------

TYPICAL = """\
title: "Harbour tide: a market"
date: 2015-01-01T01:02:59+00:00
author: Ana Ruiz
tags: ["harbour", "Política Exterior"]
"""

#: (front matter, values, line of each key); the quick reader takes all of these
SHAPES = [
    (
        TYPICAL,
        {
            "title": "Harbour tide: a market",
            "date": "2015-01-01T01:02:59+00:00",
            "author": "Ana Ruiz",
            "tags": ["harbour", "Política Exterior"],
        },
        {"title": 1, "date": 2, "author": 3, "tags": 4},
    ),
    (
        "authors: [Ana Ruiz, 'Jun Park', \"Lena\"]\n",
        {"authors": ["Ana Ruiz", "Jun Park", "Lena"]},
        {"authors": 1},
    ),
    (
        "# a comment\n\ntags:\n  - a\n  # between\n  - 'b c'  # after\n\ndraft: true\n",
        {"tags": ["a", "b c"], "draft": True},
        {"tags": 3, "draft": 8},
    ),
    ("tags:\n- x\n- 2\nslug: s\n", {"tags": ["x", 2], "slug": "s"}, {"tags": 1, "slug": 4}),
    (
        "summary:\nimage:   # none yet\nid: ''\ntags: []\n",
        {"summary": None, "image": None, "id": "", "tags": []},
        {"summary": 1, "image": 2, "id": 3, "tags": 4},
    ),
    (
        "a: 'it''s'\nb: \"a\\\"b \\u00e9\\x41\\/\"\nc: it's \"fine\"\nd: C# tips # and a comment\n",
        {"a": "it's", "b": 'a"b éA/', "c": 'it\'s "fine"', "d": "C# tips"},
        {"a": 1, "b": 2, "c": 3, "d": 4},
    ),
    # YAML 1.1 as PyYAML reads it (no `y`, `0o`, or exponent without a sign and a dot).
    (
        "a: yes\nb: Off\nc: 0o17\nd: 017\ne: 0x1F\nf: 1_000\ng: 1:30\nh: .inf\ni: 1e3\n"
        "j: 1.5e+3\nk: ~\nl: null\nm: -1\nn: [y, 09, 1.0, 1.5e3]\n",
        {
            "a": True,
            "b": False,
            "c": "0o17",
            "d": 15,
            "e": 31,
            "f": 1000,
            "g": 90,
            "h": math.inf,
            "i": "1e3",
            "j": 1500.0,
            "k": None,
            "l": None,
            "m": -1,
            "n": ["y", "09", 1.0, "1.5e3"],
        },
        {k: n for n, k in enumerate("abcdefghijklmn", 1)},
    ),
    ("", {}, {}),
    ("# only a comment\n\n", {}, {}),
]


@pytest.mark.parametrize(("text", "values", "lines"), SHAPES)
def test_front_matter_shapes_give_values_of_the_right_type_and_lines(
    text: str, values: dict[str, Any], lines: dict[str, int]
) -> None:
    assert outcome(load_mapping, text) == ("ok", typed(values), lines)
    assert outcome(pure, text) == ("ok", typed(values), lines)


@pytest.mark.parametrize(("text", "values", "lines"), SHAPES)
def test_the_quick_reader_takes_the_common_shapes(
    text: str, values: dict[str, Any], lines: dict[str, int]
) -> None:
    quick = yamlsafe._load_simple(text)
    assert quick is not None
    assert typed(quick[0]) == typed(values)
    assert quick[1] == lines


@pytest.mark.parametrize(
    "text",
    [
        "author:\n  name: Ana\n  email: ana@example.org\n",
        "authors:\n  - name: Ana\n    email: a@b.org\n",
        "author: {name: Ana}\n",
        "summary: |\n  Two\n  lines\n",
        "summary: >\n  folded\n",
        "title: a long\n  title on two lines\n",
        'title: "a long\n  title"\n',
        "tags: [a,\n  b]\n",
        "tags: [a, ]\n",
        "a: &x 1\n",
        "a: *x\n",
        "a: !!str 1\n",
        "? a\n: b\n",
        "---\na: 1\n",
        "a: 1\n...\n",
        "%YAML 1.1\n---\na: 1\n",
        "a:\tb\n",
        "\ufeffa: b\n",
        "a: b\rc: d\n",
        "a: @x\n",
        "a: `x`\n",
        "a: %x\n",
        "a: b: c\n",
        "a: b:\n",
        "a: [x: y]\n",
        "a: [what?]\n",
        "a: [#x]\n",
        "a: 'x'#c\n",
        "tags:\n  -\n  - b\n",
        "tags:\n  - a\n - b\n",
        "  indented: mapping\n",
        "title: a\ntitle: b\n",
        "yes: a\n",
        "1: a\n",
        '"quoted key": a\n',
        "a: =\n",
        "a: <<\n",
        "a: 0b_\n",
        'a: "\\q"\n',
        'a: "\\U00110000"\n',
        "- a\n- b\n",
    ],
)
def test_anything_unusual_is_left_to_pyyaml(text: str) -> None:
    assert yamlsafe._load_simple(text) is None
    assert outcome(load_mapping, text) == outcome(pure, text)


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("title: a\ndate: 1\ntitle: b\n", 3, "duplicate key 'title'"),
        ("a: 1\nyes: 2\n", 2, "key True is not text"),
        ("a: &x [1]\nb: *x\n", 2, "aliases (*name) are not allowed"),
        ("author:\n  name: &n A\nb: *n\n", 3, "aliases (*name) are not allowed"),
        ("- a\n", 1, "expected a mapping of keys to values"),
        ('a: "\\q"\n', 1, "found unknown escape character 'q'"),
        (
            "a: b: c\n",
            1,
            "mapping values are not allowed here: a value holding ': ' must be quoted "
            '(title: "Part 1: the start")',
        ),
        (
            "title: A\n\ttags: x\n",
            2,
            "found character '\\t' that cannot start any token: indent with spaces: "
            "YAML does not allow tabs",
        ),
        # Unclosed, found where the next key starts: named where it opens.
        (
            "title: A\ntags: [one, two\nsummary: x\n",
            2,
            "the list opened with '[' on this line is not closed "
            "(expected ',' or ']', but got ':')",
        ),
        (
            "title: A\nauthor: {name: B\nsummary: x\n",
            2,
            "the mapping opened with '{' on this line is not closed "
            "(expected ',' or '}', but got ':')",
        ),
        (
            'title: "A\ndate: 2024-01-01\n',
            1,
            "the quotes opened on this line are not closed (found unexpected end of stream)",
        ),
        (
            "title: A\ntags: [a, b",
            2,
            "the list opened with '[' on this line is not closed "
            "(expected ',' or ']', but got '<stream end>')",
        ),
        # A '#' that starts a value starts a comment, and the list never closes.
        (
            "title: A\ntags: [#oak, walnut]\n",
            2,
            "expected the node content, but found '<stream end>': '#' after '[' or ',' "
            "starts a comment in YAML; quote the value ('#oak')",
        ),
        # A control character, which YAML refuses before reading: no traceback.
        ("title: A\nsummary: B\x01C\n", 2, "a character YAML does not allow: U+0001"),
        (
            "date: 2024-01-01\n  tags: a\n",
            2,
            "mapping values are not allowed here: is this key indented as the keys around it are?",
        ),
    ],
)
def test_errors_name_their_line(text: str, line: int, message: str) -> None:
    with pytest.raises(YamlError) as caught:
        load_mapping(text)
    assert (caught.value.line, caught.value.message) == (line, message)


def test_nested_mappings_record_dotted_lines() -> None:
    text = "title: T\nenclosure:\n  url: /a.mp3\n  length: 10\n  type: audio/mpeg\n"
    values, lines = load_mapping(text)
    assert values["enclosure"] == {"url": "/a.mp3", "length": 10, "type": "audio/mpeg"}
    assert lines == {
        "title": 1,
        "enclosure": 2,
        "enclosure.url": 3,
        "enclosure.length": 4,
        "enclosure.type": 5,
    }


@pytest.mark.skipif(yamlsafe._CLoader is None, reason="PyYAML built without libyaml")
def test_libyaml_reads_nested_front_matter_but_never_aliases() -> None:
    nested = "authors:\n  - name: Ana\n    email: a@b.org\nenclosure: {url: /a, length: 1}\n"
    assert yamlsafe._libyaml_agrees(nested)
    c_loader = yamlsafe._CLoader
    assert outcome(lambda t: yamlsafe._load_with(c_loader, t), nested) == outcome(pure, nested)
    assert not yamlsafe._libyaml_agrees("a: &x 1\nb: *x\n")
    assert not yamlsafe._libyaml_agrees("a: " + "[" * 101)


# --- property: every reader agrees with PyYAML ----------------------------------------------

KEYS = ["title", "date", "tags", "authors", "draft", "a", "b-c", "_x", "Title"]
ODD_KEYS = ["yes", "null", "1", "~", "a b", '"q"', "-k"]
# Plain scalars PyYAML reads as booleans, numbers or nulls, or that look as if it might.
TYPED = [
    "", "yes", "No", "on", "y", "n", "0o17", "017", "09", "0x1F", "0b101", "1_000", "1:30",
    "190:20:30", "1:30.5", "-1", "+1", ".inf", "-.Inf", ".nan", "1e3", "1.5e+3", "1.0", "~",
    "null", "Null", "2015-01-01", "2015-01-01T01:02:59+00:00", "C# tips", "a #b", "a:b",
    "50% off", "http://x/#y", "-x", "é", "Política Exterior", "日本", "😀", "a, b", "x]",
    "it's", 'say "hi"', "a  b", "a\\b",
]  # fmt: skip
# ... and ones that are errors, or something else than a scalar.
UNTYPED = [
    "0b_", "=", "<<", "a: b", "a:", "- x", "-", "[x]", "{x}", "&a x", "*a", "!x", "!!str 1",
    "|", ">", "@x", "`x`", "%x", "#c", "?x", "? x", ":x", "a\tb",
]  # fmt: skip
SCALARS = TYPED + UNTYPED
MILD = "abcXYZ019 .-_/é日😀"
ODD = "ab1.0 -:#'\"[]{},&*!|>%@`?\\é😀\t\r\x85\u2028\ufeff"
ESCAPES = [
    '\\"', "\\\\", "\\n", "\\t", "\\u00e9", "\\x41", "\\U0001F600", "\\/", "\\N", "\\_",
    "\\ ", "\\0", "\\e", "\\q", "\\u12", "\\U00110000", "'", "#", " ",
]  # fmt: skip

# Mostly what people write, sometimes what YAML finds tricky, now and then noise.
words = st.one_of(
    st.sampled_from(SCALARS),
    st.text(MILD, min_size=1, max_size=12),
    st.text(MILD, min_size=1, max_size=12),
    st.text(ODD, max_size=8),
)
single_quoted = st.builds(lambda s: "'" + s.replace("'", "''") + "'", words) | st.sampled_from(
    ["'it''s'", "'a'b'", "''", "'#'"]
)
double_quoted = st.builds(
    lambda parts: '"' + "".join(parts) + '"',
    st.lists(st.one_of(st.sampled_from(ESCAPES), st.text("ab é:[", max_size=3)), max_size=4),
)
scalars = st.one_of(words, words, single_quoted, double_quoted)
comments = st.sampled_from(["", "", "", " # note", "  #", "#x", " #: y"])
separators = st.sampled_from([", ", ", ", ",", " , "])


@st.composite
def flow_sequences(draw: st.DrawFn) -> str:
    items = draw(st.lists(scalars, max_size=4))
    text = draw(separators).join(items)
    if items and draw(st.integers(0, 5)) == 0:
        text += ","
    return "[" + draw(st.sampled_from(["", "", " "])) + text + "]"


@st.composite
def block_sequences(draw: st.DrawFn) -> str:
    indent = draw(st.sampled_from(["", "  ", "    "]))
    lines = []
    for item in draw(st.lists(scalars, min_size=1, max_size=3)):
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "  # between", " ", " - x", "-"])))
        lines.append(indent + "- " + item)
    return draw(comments) + "\n" + "\n".join(lines)


values = st.one_of(
    st.builds(lambda v, c: " " + v + c, scalars, comments),
    st.builds(lambda v, c: " " + v + c, scalars, comments),
    st.sampled_from(["", " ", " # empty"]),
    st.builds(lambda v, c: " " + v + c, flow_sequences(), comments),
    block_sequences(),
    st.sampled_from(
        [
            "\n  name: Ana\n  email: a@b.org",
            "\n  - name: Ana\n    url: https://x/",
            " {name: Ana}",
            " |\n  block\n  text",
            " >\n  folded",
            " &a x",
            " *a",
            " a\n  continued",
            ' "two\n  lines"',
        ]
    ),
)
keys = st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS), st.sampled_from(ODD_KEYS))
entries = st.tuples(keys, values).map(lambda kv: (kv[0], kv[0] + ":" + kv[1]))
noise = st.sampled_from(["", "# comment", "  # indented comment", " ", "---", "- x", "  x"])
lines = st.one_of(entries, entries, entries, entries, noise.map(lambda text: (text, text)))
# Front matter as people write it: each line can be tricky, but few are broken.
tidy_quoted = st.one_of(
    st.builds(lambda s: "'" + s.replace("'", "''") + "'", st.text(MILD + "'\"#: ", max_size=8)),
    st.builds(
        lambda parts: '"' + "".join(parts) + '"',
        st.lists(st.sampled_from([*ESCAPES[:13], "'", "#", " ", "a", "é: "]), max_size=4),
    ),
)
tidy_scalars = st.one_of(
    st.sampled_from(TYPED), st.text(MILD, min_size=1, max_size=12), tidy_quoted
)
tidy_values = st.one_of(
    st.builds(lambda v, c: " " + v + c, tidy_scalars, st.sampled_from(["", "", " # c"])),
    st.builds(lambda vs: " [" + ", ".join(vs) + "]", st.lists(tidy_scalars, max_size=3)),
    st.builds(lambda vs: "".join("\n  - " + v for v in vs), st.lists(tidy_scalars, max_size=3)),
)
tidy_entries = st.tuples(st.sampled_from(KEYS), tidy_values).map(
    lambda kv: (kv[0], kv[0] + ":" + kv[1])
)
documents = st.one_of(
    st.lists(tidy_entries, max_size=6, unique_by=lambda line: line[0]),
    st.lists(tidy_entries, max_size=6, unique_by=lambda line: line[0]),
    st.lists(lines, max_size=6, unique_by=lambda line: line[0]),
    st.lists(lines, max_size=6),
).map(lambda lines: "\n".join(text for _, text in lines))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_every_reader_agrees_with_pure_pyyaml(text: str) -> None:
    expected = outcome(pure, text)
    assert outcome(load_mapping, text) == expected
    quick = yamlsafe._load_simple(text)
    if quick is not None:
        assert ("ok", typed(quick[0]), quick[1]) == expected
    c_loader = yamlsafe._CLoader
    if c_loader is not None and yamlsafe._libyaml_agrees(text):
        from_c = outcome(lambda t: yamlsafe._load_with(c_loader, t), text)
        # When libyaml fails, the pure-Python reader is asked for the error.
        if from_c[0] == "ok":
            assert from_c == expected
