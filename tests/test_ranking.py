"""The ranking query on synthetic vectors: filters, fill, the formula, round trips."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.db import connection
from django.test import RequestFactory, TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from wagtail.models import Locale, Page, PageViewRestriction, Site

from tests.factories import HomePageFactory, SectionPageFactory
from tests.helpers import axis, ids, make_reader, publish, set_embedding, unit
from tests.testapp.models import ArticlePage, NewsPage
from wagtail_neural_feed import Feed, FeedConfig, explain, recommend, similar_pages
from wagtail_neural_feed.exceptions import (
    InvalidRecommendationRequest,
    NeuralFeedConfigurationError,
)
from wagtail_neural_feed.models import (
    Interaction,
    PageEmbedding,
)


class PureSimilarity(Feed):
    slug = "pure-similarity"
    freshness_weight = 0.0
    popularity_weight = 0.0


@pytest.fixture(params=["index", "exact"])
def ranking_path(request, settings):
    """Run a test through the index searches and through the small-site exact scan."""
    if request.param == "exact":
        settings.WAGTAIL_NEURAL_FEED = {
            **settings.WAGTAIL_NEURAL_FEED,
            "EXACT_BELOW_PAGES": 1_000_000,
        }
        # The choice reads PostgreSQL's row estimate: give the table one.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE wagtail_neural_feed_pageembedding")
    return request.param


def completeness(pages) -> set[str]:
    return {page.recommendation.completeness for page in pages}


@pytest.fixture
def topic_pages(make_article):
    """Eight articles on four orthogonal 'topics' (axes 0..3), two per topic."""
    pages = {}
    for topic in range(4):
        for n in range(2):
            page = make_article(f"Topic {topic} page {n}")
            vector = axis(topic) + 0.1 * axis(10 + n)
            set_embedding(page, vector)
            pages[(topic, n)] = page
    return pages


def test_reader_gets_pages_nearest_their_profile(topic_pages, ranking_path):
    reader = make_reader(axis(2))
    pages = recommend(reader, feed=PureSimilarity, limit=3)
    assert (completeness(pages) == {"exact"}) == (ranking_path == "exact")
    assert {page.pk for page in pages[:2]} == {topic_pages[(2, 0)].pk, topic_pages[(2, 1)].pk}
    assert all(isinstance(page, ArticlePage) for page in pages)
    first = pages[0].recommendation
    assert first.rank == 1 and first.feed == "pure-similarity"
    expected = float(unit(axis(2) + 0.1 * axis(10)) @ axis(2))  # both topic-2 pages tie
    assert first.similarity == pytest.approx(expected, abs=1e-4)
    assert (
        pages[0].recommendation.score
        >= pages[1].recommendation.score
        >= pages[2].recommendation.score
    )


def test_pages_come_back_as_the_orm_loads_them(make_article):
    """The fetch builds pages from a prepared statement's rows: the same
    specific objects, field for field, as ``ArticlePage.objects.get``."""
    page = make_article("Streams", "<p>Intro</p>", body=[("heading", "Rivers and deltas")])
    set_embedding(page, axis(0))
    (fetched,) = recommend(make_reader(axis(0)), feed=PureSimilarity, limit=1)
    loaded = ArticlePage.objects.get(pk=page.pk)
    assert type(fetched) is ArticlePage and fetched.pk == page.pk
    assert fetched.body[0].block_type == "heading"  # the StreamField's converter ran
    assert fetched.body[0].value == "Rivers and deltas"
    for field in ArticlePage._meta.concrete_fields:
        ours, orms = field.value_to_string(fetched), field.value_to_string(loaded)
        if field.name == "body":  # the same blocks; key order differs once a stream is read
            ours, orms = json.loads(ours), json.loads(orms)
        assert ours == orms, field.name
    assert fetched._state.db == "default" and not fetched._state.adding
    assert fetched.url == loaded.url


def test_a_small_site_is_scored_exactly_in_one_scan(topic_pages, settings):
    """Below ``EXACT_BELOW_PAGES`` every eligible page is scored in one scan:
    the same list and scores as the index searches, in the same round trips."""
    reader = make_reader(axis(3) + 0.3 * axis(1))
    now = timezone.now()
    Interaction.objects.create(
        reader=reader, page=topic_pages[(3, 0)], kind="view", weight=1.0, created_at=now
    )
    by_index = recommend(reader, limit=6, now=now)
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "EXACT_BELOW_PAGES": 100}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE wagtail_neural_feed_pageembedding")  # 8 rows < 100
    with CaptureQueriesContext(connection) as queries:
        exact = recommend(reader, limit=6, now=now)
    assert completeness(exact) == {"exact"} and completeness(by_index) != {"exact"}
    assert ids(exact) == ids(by_index)
    assert topic_pages[(3, 0)].pk not in ids(exact)  # already read
    for ours, theirs in zip(exact, by_index, strict=True):
        assert ours.recommendation.score == pytest.approx(theirs.recommendation.score, abs=1e-6)
    assert len(queries) == 2  # round trip 1, the ranking statement (with its pages)
    plan = explain(reader, limit=6)
    assert "CTE eligible" in plan and "hnsw" not in plan
    # A site at or above the threshold searches the indexes again.
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "EXACT_BELOW_PAGES": 8}
    assert completeness(recommend(reader, limit=6, now=now)) != {"exact"}


def test_list_is_full_when_enough_pages_exist(topic_pages):
    reader = make_reader(axis(1))
    assert len(recommend(reader, limit=8)) == 8
    assert len(recommend(reader, limit=20)) == 8  # only eight exist


def test_anonymous_reader_without_profile_gets_fresh_pages(make_article):
    now = timezone.now()
    pages = [make_article(f"Page {i}") for i in range(5)]
    for age, page in enumerate(pages):
        Page.objects.filter(pk=page.pk).update(first_published_at=now - timedelta(days=age))
        PageEmbedding.objects.filter(page_id=page.pk).update(
            first_published_at=now - timedelta(days=age)
        )
    result = recommend(None, limit=5, now=now)
    assert ids(result) == ids(pages)  # newest first
    assert result[0].recommendation.similarity == 0.0


def test_cold_start_uses_the_context_page(topic_pages, ranking_path):
    context = topic_pages[(3, 0)]
    result = recommend(None, feed=PureSimilarity, limit=1, context_page=context)
    assert ids(result) == [topic_pages[(3, 1)].pk]


def test_context_page_is_blended_into_the_profile(topic_pages, ranking_path):
    reader = make_reader(axis(0))

    class Here(Feed):
        slug = "here"
        freshness_weight = 0.0
        popularity_weight = 0.0
        context_weight = 0.9

    context = topic_pages[(3, 0)]
    result = recommend(reader, feed=Here, limit=1, context_page=context)
    assert ids(result) == [topic_pages[(3, 1)].pk]
    far = recommend(reader, feed=PureSimilarity, limit=1, context_page=context)
    assert far[0].pk in {topic_pages[(0, 0)].pk, topic_pages[(0, 1)].pk}


def test_parent_feed_profile_is_used_when_the_feed_has_none(topic_pages, settings):
    reader = make_reader(axis(1), feed="parent-feed")

    class Child(Feed):
        slug = "child-feed"
        parent = "parent-feed"
        freshness_weight = 0.0
        popularity_weight = 0.0

    class Parent(Feed):
        slug = "parent-feed"

    from wagtail_neural_feed import feeds

    feeds.register_feed(Parent)
    try:
        result = recommend(reader, feed=Child, limit=2)
    finally:
        feeds._registry.pop("parent-feed")
    assert {page.pk for page in result} == {topic_pages[(1, 0)].pk, topic_pages[(1, 1)].pk}


def test_already_read_pages_are_excluded(topic_pages, ranking_path):
    reader = make_reader(axis(2))
    read = topic_pages[(2, 0)]
    Interaction.objects.create(
        reader=reader, page=read, kind="view", weight=1.0, created_at=timezone.now()
    )
    result = recommend(reader, feed=PureSimilarity, limit=8)
    assert read.pk not in ids(result)
    assert len(result) == 7

    class KeepRead(Feed):
        slug = "keep-read"
        exclude_read = False

    assert read.pk in ids(recommend(reader, feed=KeepRead, limit=8))


def test_similar_pages_ranks_by_meaning_and_skips_the_page(topic_pages):
    page = topic_pages[(1, 0)]
    result = similar_pages(page, limit=3)
    assert result[0].pk == topic_pages[(1, 1)].pk
    assert page.pk not in ids(result)
    assert ids(page.similar_pages(limit=3)) == ids(result)


def test_limit_is_validated(topic_pages):
    for bad in (0, -1, 101, "10", 2.5, None, True):
        with pytest.raises(InvalidRecommendationRequest):
            recommend(None, limit=bad)


def test_feed_config_rejects_bad_values():
    with pytest.raises(NeuralFeedConfigurationError, match="similarity_weight"):
        FeedConfig(slug="x", similarity_weight=float("nan"))
    with pytest.raises(NeuralFeedConfigurationError, match="diversity"):
        FeedConfig(slug="x", diversity="shuffle")
    with pytest.raises(NeuralFeedConfigurationError, match="cold_start"):
        FeedConfig(slug="x", cold_start=("random",))


# --- no leaks -------------------------------------------------------------------


@pytest.fixture
def leak_world(home, make_article, section):
    """One visible page and one of every kind that must never be shown."""
    vector = axis(5)
    world = {}

    def add(name, page, *, vec=vector):
        set_embedding(page, vec)
        world[name] = page
        return page

    add("visible", make_article("Visible"))
    add("in_section", make_article("In section", parent=section))
    news = NewsPage(title="A news item", live=False)
    home.add_child(instance=news)
    publish(news)
    add("news", news)
    draft = make_article("Draft only", live=False)
    world["draft"] = draft
    unpublished = add("unpublished", make_article("Unpublished"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        unpublished.unpublish()
    login_page = add("login", make_article("Members only"))
    PageViewRestriction.objects.create(page=login_page, restriction_type="login")
    group = Group.objects.create(name="Editors club")
    group_page = add("group", make_article("Group only"))
    restriction = PageViewRestriction.objects.create(page=group_page, restriction_type="groups")
    restriction.groups.add(group)
    password_page = add("password", make_article("Password"))
    world["password_restriction"] = PageViewRestriction.objects.create(
        page=password_page, restriction_type="password", password="secret"
    )
    world["group_obj"] = group
    # Another site.
    other_home = HomePageFactory(parent=Page.get_first_root_node(), title="Other", slug="other")
    Site.objects.create(hostname="other.example", root_page=other_home)
    other = ArticlePage(title="Other site", live=False)
    other_home.add_child(instance=other)
    publish(other)
    add("other_site", other)
    # Another locale (a French copy of the visible page).
    french = Locale.objects.create(language_code="fr")
    fr_page = world["visible"].copy_for_translation(french, copy_parents=True)
    publish(fr_page)
    add("french", fr_page)
    return world


ANONYMOUS_VISIBLE = {"visible", "in_section", "news"}


def names(world, pages) -> set[str]:
    by_id = {page.pk: name for name, page in world.items() if isinstance(page, Page)}
    return {by_id[page.pk] for page in pages}


def test_anonymous_reader_sees_only_public_live_pages_of_their_site_and_locale(
    leak_world, ranking_path
):
    reader = make_reader(axis(5))
    listed = recommend(reader, limit=50)
    assert names(leak_world, listed) == ANONYMOUS_VISIBLE
    assert (completeness(listed) == {"exact"}) == (ranking_path == "exact")
    assert names(leak_world, recommend(None, limit=50)) == ANONYMOUS_VISIBLE
    request = RequestFactory().get("/", HTTP_HOST="localhost")
    request.user = AnonymousUser()
    request.session = {}
    assert names(leak_world, recommend(request, limit=50)) == ANONYMOUS_VISIBLE


def test_view_restrictions_follow_the_reader(leak_world, ranking_path):
    member = User.objects.create_user("member")
    assert names(leak_world, recommend(member, limit=50)) == ANONYMOUS_VISIBLE | {"login"}
    member.groups.add(leak_world["group_obj"])
    assert names(leak_world, recommend(member, limit=50)) == ANONYMOUS_VISIBLE | {
        "login",
        "group",
    }
    boss = User.objects.create_superuser("boss")
    assert names(leak_world, recommend(boss, limit=50)) == ANONYMOUS_VISIBLE | {"login", "group"}
    # A session that passed the password form sees that page, as Wagtail would serve it.
    request = RequestFactory().get("/", HTTP_HOST="localhost")
    request.user = AnonymousUser()
    request.COOKIES["sessionid"] = "x"
    key = PageViewRestriction.passed_view_restrictions_session_key
    request.session = {key: [leak_world["password_restriction"].pk]}
    assert names(leak_world, recommend(request, limit=50)) == ANONYMOUS_VISIBLE | {"password"}


def test_other_site_and_locale_get_their_own_pages(leak_world, ranking_path):
    request = RequestFactory().get("/", HTTP_HOST="other.example")
    request.user = AnonymousUser()
    request.session = {}
    assert names(leak_world, recommend(request, limit=50)) == {"other_site"}
    french = leak_world["french"]
    result = recommend(None, limit=50, context_page=french)
    assert names(leak_world, result) == set()  # the only French page is the context
    with override_settings(LANGUAGE_CODE="fr"):
        from django.utils import translation

        with translation.override("fr"):
            assert names(leak_world, recommend(None, limit=50)) == {"french"}


def test_page_types_section_and_exclusions_filter(leak_world, section, ranking_path):
    class Articles(Feed):
        slug = "articles"
        page_types = ["testapp.ArticlePage"]

    class InSection(Feed):
        slug = "in-section"
        root_page_id = section.pk

    assert names(leak_world, recommend(None, feed=Articles, limit=50)) == {
        "visible",
        "in_section",
    }
    assert names(leak_world, recommend(None, feed=InSection, limit=50)) == {"in_section"}
    excluded = recommend(None, limit=50, exclude=[leak_world["news"]])
    assert names(leak_world, excluded) == {"visible", "in_section"}
    here = recommend(None, limit=50, context_page=leak_world["visible"])
    assert names(leak_world, here) == {"in_section", "news"}


def test_section_cap_limits_pages_per_section(home, make_article):
    sections = [SectionPageFactory(parent=home, title=f"S{i}", slug=f"s{i}") for i in range(3)]
    for i in range(6):
        page = make_article(f"A{i}", parent=sections[0])
        set_embedding(page, axis(0) + 0.01 * axis(20 + i))
    for s in sections[1:]:
        page = make_article(f"B{s.pk}", parent=s)
        set_embedding(page, axis(0) + axis(1))
    reader = make_reader(axis(0))

    class Capped(Feed):
        slug = "capped"
        diversity = "section_cap"
        section_cap = 2
        freshness_weight = 0.0
        popularity_weight = 0.0

    result = recommend(reader, feed=Capped, limit=4)
    parents = [page.get_parent().pk for page in result]
    assert parents.count(sections[0].pk) == 2
    assert len(result) == 4
    # With too few other sections the list is still filled.
    assert len(recommend(reader, feed=Capped, limit=8)) == 8


def test_mmr_makes_room_for_a_second_interest(make_article):
    near_duplicates = []
    for i in range(5):
        page = make_article(f"Near duplicate {i}")
        set_embedding(page, axis(0) + 0.02 * axis(30 + i))
        near_duplicates.append(page.pk)
    others = []
    for i in range(5):
        page = make_article(f"Other {i}")
        set_embedding(page, 0.8 * axis(0) + 0.6 * axis(1) + 0.05 * axis(40 + i))
        others.append(page.pk)
    reader = make_reader(axis(0))

    class Diverse(Feed):
        slug = "diverse"
        diversity = "mmr"
        mmr_lambda = 0.3
        freshness_weight = 0.0
        popularity_weight = 0.0

    plain = recommend(reader, feed=PureSimilarity, limit=4)
    diverse = recommend(reader, feed=Diverse, limit=4)
    assert set(ids(plain)) <= set(near_duplicates)
    assert diverse[0].pk == plain[0].pk  # the best page stays first
    assert set(ids(diverse)) & set(others)
    assert len(diverse) == 4


def test_explain_command_prints_the_plan_and_the_list(topic_pages):
    from io import StringIO

    from django.core.management import CommandError, call_command

    reader = make_reader(axis(2))
    out = StringIO()
    call_command("neural_feed_explain", reader=reader.pk, limit=3, stdout=out)
    text = out.getvalue()
    assert "Limit" in text and "Execution Time" in text
    assert "3 pages:" in text
    assert topic_pages[(2, 0)].title in text
    with pytest.raises(CommandError, match="No reader"):
        call_command("neural_feed_explain", reader=999999, stdout=StringIO())
    with pytest.raises(CommandError, match="limit"):
        call_command("neural_feed_explain", limit=0, stdout=StringIO())


def test_feeds_from_settings_are_found_by_slug(leak_world, settings):
    from wagtail_neural_feed.exceptions import UnknownFeed

    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "FEEDS": ["tests.feeds.ArticlesFeed"],
    }
    assert names(leak_world, recommend(None, feed="articles", limit=50)) == {
        "visible",
        "in_section",
    }
    with pytest.raises(UnknownFeed, match="articles"):
        recommend(None, feed="no-such-feed")
