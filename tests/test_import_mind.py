"""neural_feed_import_mind on a tiny MIND-format fixture written for these tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from wagtail.models import Page

from tests.testapp.models import ArticlePage, SectionPage
from wagtail_neural_feed.evaluation.mind import (
    read_behaviours,
    read_news,
    reader_visitor_id,
)
from wagtail_neural_feed.models import Impression, Interaction, PageEmbedding, Reader

FIXTURES = Path(__file__).parent / "fixtures" / "mind"
NEWS, BEHAVIOURS = FIXTURES / "news.tsv", FIXTURES / "behaviors.tsv"


def _import(home, **extra) -> str:
    out = StringIO()
    call_command(
        "neural_feed_import_mind",
        str(NEWS),
        str(BEHAVIOURS),
        "--parent-page",
        str(home.pk),
        "--page-type",
        "testapp.ArticlePage",
        "--section-type",
        "testapp.SectionPage",
        stdout=out,
        **extra,
    )
    return out.getvalue()


def _expected_views() -> set[tuple]:
    """(user, news id, time) of every view the fixture describes, worked out by hand."""
    day = timedelta(days=1)
    u1 = datetime(2019, 11, 12, 8, 15, tzinfo=UTC)
    u2 = datetime(2019, 11, 12, 9, 30, 10, tzinfo=UTC)
    u3 = datetime(2019, 11, 13, 22, 0, tzinfo=UTC)
    return {
        ("U1", "n1", u1 - day),
        ("U1", "n3", u1 - day + timedelta(seconds=1)),
        ("U1", "n2", u1),
        ("U1", "n6", datetime(2019, 11, 13, 19, 2, 45, tzinfo=UTC)),
        ("U2", "n5", u2 - day),
        ("U2", "n4", u2),
        ("U3", "n7", u3),
        ("U3", "n6", u3),
    }


def _imported_views() -> set[tuple]:
    users = {reader_visitor_id(user): user for user in ("U1", "U2", "U3")}
    return {
        (users[visitor], slug, when)
        for visitor, slug, when in Interaction.objects.values_list(
            "reader__visitor_id", "page__slug", "created_at"
        )
    }


def test_import_round_trips_the_fixture(home):
    output = _import(home)
    assert "Imported 7 new pages in 3 new sections, 3 new readers, 8 new views" in output
    assert "4 new impressions (11 shown items)" in output
    # Pages: one per article, in a section per category, title and abstract kept.
    for item in read_news(NEWS):
        page = ArticlePage.objects.get(slug=item.news_id.lower())
        section = page.get_parent().specific
        assert isinstance(section, SectionPage) and section.slug == item.category
        assert section.get_parent().pk == home.pk
        assert page.title == item.title
        assert item.abstract in page.intro
        assert page.live
    # Published when first shown; only in histories: a day before the first list.
    first_list = datetime(2019, 11, 12, 8, 15, tzinfo=UTC)
    assert ArticlePage.objects.get(slug="n2").first_published_at == first_list
    assert ArticlePage.objects.get(slug="n1").first_published_at == first_list - timedelta(days=1)
    assert ArticlePage.objects.get(slug="n6").first_published_at == datetime(
        2019, 11, 12, 9, 30, 10, tzinfo=UTC
    )
    # Readers and views: exactly the clicks and histories of behaviors.tsv.
    assert Reader.objects.count() == 3
    assert _imported_views() == _expected_views()
    assert set(Interaction.objects.values_list("kind", "weight")) == {("view", 1.0)}
    # Every shown list, in order, with its clicks (the MIND-style log the impressions model keeps).
    slugs = dict(Page.objects.values_list("pk", "slug"))
    stored = {
        row.list_id: ([slugs[p] for p in row.page_ids], [slugs[p] for p in row.clicked_page_ids])
        for row in Impression.objects.filter(feed="mind")
    }
    assert stored == {
        "mind-1": (["n2", "n5", "n4"], ["n2"]),
        "mind-2": (["n4", "n6"], ["n4"]),
        "mind-3": (["n6", "n7", "n5"], ["n6"]),
        "mind-4": (["n7", "n6", "n2"], ["n7", "n6"]),
    }
    assert Impression.objects.get(list_id="mind-3").shown_at == datetime(
        2019, 11, 13, 19, 2, 45, tzinfo=UTC
    )
    # Embedded afterwards (neural_feed_embed), so they can be recommended.
    assert PageEmbedding.objects.filter(status="ready", live=True).count() == 7


def test_second_import_adds_nothing(home):
    _import(home, no_embed=True)
    counts = (Page.objects.count(), Reader.objects.count(), Interaction.objects.count())
    output = _import(home, no_embed=True)
    assert "0 new pages in 0 new sections, 0 new readers, 0 new views, 0 new impressions" in output
    assert (Page.objects.count(), Reader.objects.count(), Interaction.objects.count()) == counts
    assert Impression.objects.count() == 4


def test_imported_history_can_be_evaluated(home):
    _import(home)
    out = StringIO()
    call_command("neural_feed_evaluate", "--k", "3", stdout=out)
    # Leave-last-out: each of the three readers' last click is held out.
    assert "3 held-out events of 8 interactions" in out.getvalue()


def test_parsers_read_the_format():
    behaviours = list(read_behaviours(BEHAVIOURS))
    assert behaviours[0].user == "U1" and behaviours[0].history == ("N1", "N3")
    assert behaviours[0].shown == (("N2", True), ("N5", False), ("N4", False))
    assert behaviours[3].history == ()
    assert [item.category for item in read_news(NEWS)].count("food") == 3


def test_bad_page_types_are_refused(home):
    with pytest.raises(CommandError, match="not a recommendable page type"):
        call_command(
            "neural_feed_import_mind",
            str(NEWS),
            str(BEHAVIOURS),
            "--page-type",
            "testapp.PlainPage",
        )
    with pytest.raises(CommandError, match="Unknown model"):
        call_command(
            "neural_feed_import_mind", str(NEWS), str(BEHAVIOURS), "--page-type", "testapp.Nope"
        )
