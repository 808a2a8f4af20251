"""The demo's articles and generated images: enough of them, the right sizes, all distinct."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest
from PIL import Image

EXAMPLE_SITE = Path(__file__).resolve().parent.parent / "example_site"
ARTICLES = json.loads((EXAMPLE_SITE / "blog" / "content" / "articles.json").read_text())
STOPWORDS = set(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "more",
        "most",
        "of",
        "on",
        "one",
        "or",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "they",
        "this",
        "to",
        "too",
        "up",
        "was",
        "what",
        "when",
        "which",
        "while",
        "who",
        "will",
        "with",
        "you",
        "your",
    ]
)


@pytest.fixture(scope="module")
def blog(tmp_path_factory):
    """The example site's ``blog`` package (its image and section modules need no Django)."""
    import sys

    sys.path.insert(0, str(EXAMPLE_SITE))
    try:
        from blog import images, sections

        yield images, sections
    finally:
        sys.path.remove(str(EXAMPLE_SITE))


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def test_there_are_enough_articles_in_eight_sections(blog):
    _, sections = blog
    per_section = Counter(article["section"] for article in ARTICLES)
    assert len(ARTICLES) >= 150
    assert set(per_section) == {section.slug for section in sections.SECTIONS}
    assert len(per_section) == 8
    assert min(per_section.values()) >= 15


@pytest.mark.parametrize("article", ARTICLES, ids=lambda article: article["title"][:40])
def test_each_article_has_every_part_in_range(article):
    assert article["title"].strip() and article["intro"].strip()
    assert article["intro"].endswith((".", "?", "!"))
    assert 80 <= len(words(" ".join(article["body"]))) <= 200
    assert all(paragraph.strip() for paragraph in article["body"])
    assert 2 <= len(set(article["tags"])) == len(article["tags"]) <= 4
    assert 0 <= article["days_ago"] < 90


def test_titles_intros_and_bodies_are_unique():
    for key in ("title", "intro"):
        assert len({article[key] for article in ARTICLES}) == len(ARTICLES), key
    assert len({" ".join(article["body"]) for article in ARTICLES}) == len(ARTICLES)


def test_publish_days_spread_over_ninety_days_in_every_section():
    for section in {article["section"] for article in ARTICLES}:
        days = [article["days_ago"] for article in ARTICLES if article["section"] == section]
        assert min(days) < 15 and max(days) > 75, section


def test_articles_of_a_section_share_more_vocabulary_than_articles_across_sections():
    """What makes semantic similarity meaningful in the demo."""
    vocab = [
        (article["section"], set(words(article["title"] + " " + " ".join(article["body"]))))
        for article in ARTICLES
    ]
    vocab = [(section, terms - STOPWORDS) for section, terms in vocab]
    within, across = [], []
    for (section_a, a), (section_b, b) in combinations(vocab, 2):
        (within if section_a == section_b else across).append(len(a & b) / len(a | b))
    assert sum(within) / len(within) > 1.3 * sum(across) / len(across)


def test_images_are_deterministic_distinct_small_jpegs(blog):
    images, sections = blog
    space, food = sections.SECTIONS[0], sections.SECTIONS[1]
    first = images.draw_image("watching-the-perseids", space)
    assert images.draw_image("watching-the-perseids", space) == first
    assert images.draw_image("choosing-a-telescope", space) != first
    assert images.draw_image("watching-the-perseids", food) != first
    picture = Image.open(io.BytesIO(first))
    assert picture.format == "JPEG"
    assert picture.size == images.SIZE == (640, 360)
    assert len(first) < 60_000
    labelled = images.draw_image("section-space", space, label="Space")
    assert labelled != images.draw_image("section-space", space)
