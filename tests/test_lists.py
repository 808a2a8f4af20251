"""The list service behind blocks and tags: picks, visibility, the context page, caching."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.test import RequestFactory, TestCase
from wagtail.models import PageViewRestriction

from tests.helpers import axis, make_reader, set_embedding
from wagtail_neural_feed.exceptions import InvalidRecommendationRequest, UnknownFeed
from wagtail_neural_feed.lists import PICKED, recommendation_list
from wagtail_neural_feed.models import Interaction, Reader, ReaderProfile
from wagtail_neural_feed.tracking import read_list_token, record_interaction


def ids(pages) -> list[int]:
    return [page.pk for page in pages]


def request_for(user=None, visitor=None, session=None):
    request = RequestFactory().get("/", HTTP_USER_AGENT="Mozilla/5.0")
    request.user = user or AnonymousUser()
    if visitor is not None:
        request.COOKIES["nf_visitor"] = str(visitor)
    if session is not None:
        request.session = session
        request.COOKIES["sessionid"] = session.session_key
    return request


@pytest.fixture(autouse=True)
def clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def articles(make_article):
    """Six articles, each on its own axis so a profile can point at any one."""
    pages = [make_article(f"Article {n}") for n in range(6)]
    for n, page in enumerate(pages):
        set_embedding(page, axis(n))
    return pages


def test_a_list_has_its_own_id_and_a_token_describing_what_it_shows(articles):
    first = recommendation_list(None, limit=4, context_page=articles[0])
    second = recommendation_list(None, limit=4, context_page=articles[0])
    assert len(first) == 4 and first.kind == "recommended" and first.feed == "default"
    assert first.list_id != second.list_id
    assert read_list_token(first.list_token) == {
        "list_id": first.list_id,
        "feed": "default",
        "page_ids": ids(first),
        "context_page_id": articles[0].pk,
    }
    assert articles[0].pk not in ids(first)
    assert [page.recommendation.rank for page in first] == [1, 2, 3, 4]


def test_picks_come_first_in_the_editors_order_and_the_feed_fills_the_rest(articles):
    picks = [articles[4], articles[2]]
    result = recommendation_list(None, limit=4, picks=picks)
    assert ids(result)[:2] == ids(picks)
    assert len(set(ids(result))) == 4  # no duplicates
    assert [page.recommendation.completeness for page in result[:2]] == [PICKED, PICKED]
    assert [page.recommendation.rank for page in result] == [1, 2, 3, 4]


def test_picks_never_include_the_context_page_and_are_cut_to_the_limit(articles):
    result = recommendation_list(
        None, limit=2, context_page=articles[1], picks=[articles[1], articles[3], articles[5]]
    )
    assert ids(result) == [articles[3].pk, articles[5].pk]


def test_personalised_picks_are_ordered_by_the_readers_profile(articles):
    reader = make_reader(axis(5))
    picks = [articles[1], articles[3], articles[5]]
    plain = recommendation_list(reader, limit=3, picks=picks)
    personal = recommendation_list(reader, limit=3, picks=picks, personalise_picks=True)
    assert ids(plain) == ids(picks)
    assert ids(personal)[0] == articles[5].pk
    assert personal[0].recommendation.similarity == pytest.approx(1.0)
    # Without a profile the editor's order stands.
    nobody = recommendation_list(None, limit=3, picks=picks, personalise_picks=True)
    assert ids(nobody) == ids(picks)


def test_picks_the_reader_may_not_see_are_left_out(articles, make_article, section):
    draft = make_article("Draft", live=False)
    members = make_article("Members only", parent=section)
    PageViewRestriction.objects.create(page=section, restriction_type="login")
    secret = make_article("Secret")
    group = Group.objects.create(name="staff")
    restriction = PageViewRestriction.objects.create(page=secret, restriction_type="groups")
    restriction.groups.add(group)
    locked = make_article("Locked")
    password = PageViewRestriction.objects.create(
        page=locked, restriction_type="password", password="pw"
    )
    picks = [draft, members, secret, locked, articles[0]]

    def picked(request) -> set[int]:
        result = recommendation_list(request, limit=5, picks=picks)
        return {p.pk for p in result if p.recommendation.completeness == PICKED}

    assert picked(None) == {articles[0].pk}
    assert picked(request_for()) == {articles[0].pk}
    user = User.objects.create_user("reader")
    assert picked(request_for(user)) == {articles[0].pk, members.pk}
    user.groups.add(group)
    assert picked(request_for(User.objects.get(pk=user.pk))) == {
        articles[0].pk,
        members.pk,
        secret.pk,
    }
    session = SessionStore()
    session[PageViewRestriction.passed_view_restrictions_session_key] = [password.pk]
    session.save()
    assert picked(request_for(session=session)) == {articles[0].pk, locked.pk}


def test_unknown_feed_and_bad_limit_raise_for_callers_to_handle(articles):
    with pytest.raises(UnknownFeed):
        recommendation_list(None, feed="nope")
    with pytest.raises(InvalidRecommendationRequest):
        recommendation_list(None, limit=0, picks=[articles[0]])


def test_similar_lists_use_the_page_and_never_contain_it(articles):
    set_embedding(articles[1], axis(0) + 0.1 * axis(1))
    result = recommendation_list(None, similar_to=articles[0], limit=2)
    assert result.kind == "similar" and result.feed == "similar"
    assert result.context_page_id == articles[0].pk
    assert ids(result)[0] == articles[1].pk
    assert articles[0].pk not in ids(result)


def test_the_cache_returns_the_same_list_until_the_profile_changes(articles, settings):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "LIST_CACHE_SECONDS": 60}
    visitor = uuid.uuid4()
    reader = Reader.objects.create(visitor_id=visitor)
    ReaderProfile.objects.create(reader=reader, feed="default", vector=axis(2), sum_vector=axis(2))
    first = recommendation_list(request_for(visitor=visitor), limit=3)
    assert first.personal
    # A ranking change the cache does not know about: the cached list is served.
    set_embedding(articles[4], axis(2))
    set_embedding(articles[2], axis(4))
    again = recommendation_list(request_for(visitor=visitor), limit=3)
    assert ids(again) == ids(first) and again.list_id != first.list_id
    # The reader reads something: the profile is rebuilt and the cache dropped.
    with TestCase.captureOnCommitCallbacks(execute=True):
        record_interaction(reader, articles[5], "like")
    assert Interaction.objects.filter(reader=reader).exists()
    after = recommendation_list(request_for(visitor=visitor), limit=3)
    assert ids(after) != ids(first)
    assert articles[5].pk not in ids(after)  # read pages leave the list


def test_anonymous_readers_share_one_entry_and_caching_can_be_turned_off(articles, settings):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "LIST_CACHE_SECONDS": 60}
    first = recommendation_list(request_for(), limit=3)
    assert not first.personal
    set_embedding(articles[0], axis(9))
    assert ids(recommendation_list(request_for(), limit=3)) == ids(first)
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "LIST_CACHE_SECONDS": 0}
    cache.clear()
    assert recommendation_list(request_for(), limit=3) is not None
    assert len(cache._cache) == 0


def test_a_list_for_a_request_marks_it_for_the_private_headers(articles):
    anonymous = request_for()
    recommendation_list(anonymous, limit=2)
    assert anonymous.neural_feed_lists and not anonymous.neural_feed_personal
    user_request = request_for(User.objects.create_user("someone"))
    recommendation_list(user_request, limit=2)
    assert user_request.neural_feed_personal


def test_a_session_that_opened_a_password_page_gets_a_private_list(articles):
    locked = PageViewRestriction.objects.create(
        page=articles[0], restriction_type="password", password="pw"
    )
    session = SessionStore()
    session[PageViewRestriction.passed_view_restrictions_session_key] = [locked.pk]
    session.save()
    result = recommendation_list(request_for(session=session), limit=6)
    assert result.personal and articles[0].pk in ids(result)
    assert articles[0].pk not in ids(recommendation_list(request_for(), limit=6))
