#!/usr/bin/env python3
"""Write a seeded corpus of Markdown posts for the build benchmarks.

    python benchmarks/corpus.py DEST N [--seed 1]

DEST gets ``content/`` with N posts of about 3 KB: front matter (title, date, one or
two of ~20 authors, two to four of ~50 tags, some non-ASCII), then paragraphs, a
list, a link, an image and a code block. Same seed, same bytes. ``config.yaml``
asks for the feeds Hugo makes in benchmarks/build, ``all.yaml`` for all of them.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORDS = [
    *"harbour tide market bread salt river stone bridge lamp rope net gull wind rain".split(),
    *"ferry quay boat crane dock pier sand shell moon coast cliff road field barn".split(),
    *"garden orchard bakery library council school choir festival season winter".split(),
    *"summer morning evening light shadow window door table letter story journey".split(),
    *"walk song".split(),
]
ACCENTED = ["café", "mañana", "façade", "über", "naïve", "smörgåsbord", "jalapeño", "São Paulo"]
AUTHORS = [
    "Ana Ruiz", "Jun Park", "Lena Vogel", "Tomás Ibáñez", "Marta Quintana", "Lewis Okafor",
    "Chloé Martin", "Søren Kierkegaard Jr", "Priya Nair", "Olu Adeyemi", "Mei Chen",
    "Jakub Dvořák", "Fatima Zahra", "Ingrid Berg", "Pedro Alves", "Hana Sato",
    "Élodie Roux", "Kwame Mensah", "Zoë Clarke", "Mateo García",
]  # fmt: skip
TAGS = [f"{w}" for w in WORDS[:40]] + [
    "Política Exterior",
    "Économie",
    "Straße",
    "日本",
    "Ελλάδα",
    "música",
    "çevre",
    "ħajja",
    "Zürich",
    "naïveté",
]


def sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.2:
        words[rng.randrange(n)] = rng.choice(ACCENTED)
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(3, 6)))


def post(rng: random.Random, i: int, start: datetime) -> str:
    when = start + timedelta(minutes=37 * i + rng.randint(0, 30), seconds=rng.randint(0, 59))
    title = sentence(rng, rng.randint(3, 7)).rstrip(".")
    authors = rng.sample(AUTHORS, rng.choice((1, 1, 1, 2)))
    tags = rng.sample(TAGS, rng.randint(2, 4))
    author_yaml = (
        f"author: {authors[0]}" if len(authors) == 1 else f"authors: [{', '.join(authors)}]"
    )
    tag_yaml = ", ".join(f'"{t}"' for t in tags)
    body = [
        paragraph(rng),
        paragraph(rng),
        f"- {sentence(rng, 5)}\n- {sentence(rng, 6)}\n- {sentence(rng, 4)}",
        f"{sentence(rng, 8)} See [the earlier note](../post-{max(0, i - 1):06d}/).",
        f"![{sentence(rng, 3)}](/images/photo-{i % 97}.jpg)",
        paragraph(rng),
        "```\n"
        + "\n".join(f"{rng.choice(WORDS)} = {rng.randint(0, 999)}" for _ in range(4))
        + "\n```",
        paragraph(rng),
    ]
    front = (
        f'---\ntitle: "{title}"\ndate: {when.isoformat()}\n{author_yaml}\n'
        f"tags: [{tag_yaml}]\n---\n\n"
    )
    return front + "\n\n".join(body) + "\n"


#: the feeds Hugo writes in benchmarks/build: RSS for the site and for each tag
CONFIG = """\
site:
  title: Benchmark Journal
  base_url: https://example.org/
  description: A generated corpus.
  timezone: UTC
  author: {name: Desk, email: desk@example.org}
content_dir: content
output_dir: public
state_dir: .feeds
feeds:
  limit: 20
  formats: [rss]
  per_tag: true
  per_author: false
"""
#: every feed feeds can make of the corpus: three formats, for the site, each tag and
#: each author (``all.yaml``, beside config.yaml, with its own output and state)
ALL_CONFIG = (
    CONFIG.replace("output_dir: public", "output_dir: public-all")
    .replace("state_dir: .feeds", "state_dir: .feeds-all")
    .replace("  formats: [rss]\n", "  formats: [rss, atom, json]\n")
    .replace("per_author: false", "per_author: true")
)


def write_corpus(dest: Path, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    content = dest / "content"
    start = datetime(2015, 1, 1, tzinfo=UTC)
    for i in range(n):
        folder = content / f"{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"post-{i:06d}.md").write_text(post(rng, i, start), encoding="utf-8")
    (dest / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (dest / "all.yaml").write_text(ALL_CONFIG, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    write_corpus(args.dest, args.n, args.seed)


if __name__ == "__main__":
    main()
