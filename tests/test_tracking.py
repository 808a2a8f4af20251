"""Readers, interactions and profiles: recording, consent, merge, maths, privacy."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from io import StringIO

import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory, TestCase, override_settings
from django.utils import timezone

from tests.helpers import axis, set_embedding, unit
from wagtail_neural_feed.exceptions import InvalidInteraction
from wagtail_neural_feed.feeds import get_feed_config
from wagtail_neural_feed.models import Interaction, Reader, ReaderProfile
from wagtail_neural_feed.profiles import recompute_profile, update_profile
from wagtail_neural_feed.tracking import (
    merge_visitor_into_user,
    record_interaction,
    tracking_allowed,
)


def request_with(headers=None, cookies=None, user=None):
    request = RequestFactory().get("/", headers=headers or {})
    request.COOKIES.update(cookies or {})
    request.user = user or AnonymousUser()
    request.session = {}
    return request


def record(*args, **kwargs):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return record_interaction(*args, **kwargs)


def profile_vector(reader, feed="default"):
    return np.asarray(ReaderProfile.objects.get(reader=reader, feed=feed).vector)


@pytest.fixture
def pages(make_article):
    made = []
    for topic in range(3):
        page = make_article(f"Topic {topic}")
        set_embedding(page, axis(topic))
        made.append(page)
    return made


def test_an_interaction_is_stored_and_updates_the_profile(pages):
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    interaction = record(reader, pages[0], "like")
    assert interaction.weight == 3.0 and interaction.kind == "like"
    assert np.allclose(profile_vector(reader), axis(0), atol=1e-5)
    record(reader, pages[1], "view")
    vector = profile_vector(reader)
    assert vector[0] > vector[1] > 0  # the like weighs more than the view
    assert not Reader.objects.get(pk=reader.pk).profile_pending


def test_dislikes_pull_the_profile_away(pages):
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    record(reader, pages[0], "like")
    record(reader, pages[1], "dislike")
    vector = profile_vector(reader)
    assert vector[0] > 0 and vector[1] < 0


def test_bad_kind_or_value_is_rejected_and_nothing_is_stored(pages):
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    for kind, value in [
        ("teleport", None),
        ("dwell", None),
        ("dwell", float("nan")),
        ("dwell", float("inf")),
        ("dwell", -1),
        ("dwell", 10**9),
        ("view", "12"),
        ("view", True),
    ]:
        with pytest.raises(InvalidInteraction):
            record_interaction(reader, pages[0], kind, value)
    assert not Interaction.objects.exists()


def test_site_kinds_are_recorded_with_their_weight(pages, settings):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "INTERACTION_KINDS": {"bookmark": 2.5},
    }
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    assert record(reader, pages[0], "bookmark").weight == 2.5


def test_dwell_weight_grows_with_reading_time(pages):
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    short = record(reader, pages[0], "dwell", 5)
    long = record(reader, pages[0], "dwell", 300)
    assert 0 < short.weight < long.weight


def test_incremental_profile_equals_a_full_recompute(pages):
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    now = timezone.now()
    kinds = ["view", "like", "dislike", "share", "view", "like"]
    for i, kind in enumerate(kinds):
        Interaction.objects.create(
            reader=reader,
            page=pages[i % 3],
            kind=kind,
            weight={"view": 1, "like": 3, "dislike": -3, "share": 2}[kind],
            # Out of order on purpose: late-arriving beacons.
            created_at=now - timedelta(days=(i * 7) % 20),
        )
        update_profile(reader.pk, get_feed_config())
    incremental = profile_vector(reader)
    recompute_profile(reader.pk, get_feed_config())
    assert np.allclose(incremental, profile_vector(reader), atol=1e-5)
    # Older interest fades: the same page liked long ago weighs less than today.
    assert ReaderProfile.objects.get(reader=reader).interaction_count == len(kinds)


def test_a_page_without_its_embedding_yet_marks_the_profile_stale(pages, make_article):
    from wagtail_neural_feed.models import PageEmbedding

    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    waiting = make_article("Not embedded yet")
    PageEmbedding.objects.filter(page_id=waiting.pk).update(status="pending", embedding=None)
    record(reader, waiting, "like")
    profile = ReaderProfile.objects.get(reader=reader)
    assert profile.stale and profile.vector is None
    PageEmbedding.objects.filter(page_id=waiting.pk).update(status="ready", embedding=axis(7))
    call_command("neural_feed_sweep", stdout=StringIO())
    profile.refresh_from_db()
    assert not profile.stale
    assert np.allclose(profile.vector, axis(7), atol=1e-5)


# --- consent ------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{"DNT": "1"}, {"Sec-GPC": "1"}])
def test_do_not_track_and_gpc_are_respected(pages, headers):
    request = request_with(headers=headers)
    assert not tracking_allowed(request)
    assert record(request, pages[0], "view") is None
    assert not Interaction.objects.exists() and not Reader.objects.exists()


def test_consent_cookie_is_required_when_configured(pages, settings):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "CONSENT_COOKIE_NAME": "analytics",
    }
    assert record(request_with(), pages[0], "view") is None
    assert record(request_with(cookies={"analytics": "no"}), pages[0], "view") is None
    assert not Interaction.objects.exists()
    assert record(request_with(cookies={"analytics": "yes"}), pages[0], "view") is not None


# --- identity -----------------------------------------------------------------------


def test_a_new_visitor_gets_a_reader_and_a_cookie(client, pages):
    from wagtail_neural_feed.tracking import page_token

    response = client.post(
        "/neural-feed/interactions/",
        {"page": pages[0].pk, "kind": "view", "token": page_token(pages[0].pk)},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    cookie = response.cookies["nf_visitor"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    reader = Reader.objects.get()
    assert str(reader.visitor_id) == cookie.value
    # The same visitor is recognised next time.
    client.post(
        "/neural-feed/interactions/",
        {"page": pages[1].pk, "kind": "view", "token": page_token(pages[1].pk)},
        content_type="application/json",
    )
    assert Reader.objects.count() == 1 and Interaction.objects.count() == 2


def test_visitor_history_merges_into_the_user_on_login(client, pages):
    from wagtail_neural_feed.tracking import page_token

    client.post(
        "/neural-feed/interactions/",
        {"page": pages[2].pk, "kind": "like", "token": page_token(pages[2].pk)},
        content_type="application/json",
    )
    visitor = Reader.objects.get()
    User.objects.create_user("reader", password="pw")
    # A real login view, so the signal sees the request with the visitor cookie.
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post("/admin/login/", {"username": "reader", "password": "pw"})
    assert response.status_code == 302
    reader = Reader.objects.get()
    assert reader.user.username == "reader" and reader.pk != visitor.pk
    assert Interaction.objects.get().reader_id == reader.pk
    assert np.allclose(profile_vector(reader), axis(2), atol=1e-5)


def test_merge_into_a_user_who_already_has_history(pages):
    user = User.objects.create_user("both")
    own = Reader.objects.create(user=user)
    record(own, pages[0], "like")
    visitor = Reader.objects.create(visitor_id=uuid.uuid4())
    record(visitor, pages[1], "like")
    with TestCase.captureOnCommitCallbacks(execute=True):
        merged = merge_visitor_into_user(visitor.visitor_id, user)
    assert merged.pk == own.pk
    assert not Reader.objects.filter(pk=visitor.pk).exists()
    assert Interaction.objects.filter(reader=own).count() == 2
    vector = profile_vector(own)
    assert vector[0] > 0.5 and vector[1] > 0.5


# --- privacy --------------------------------------------------------------------------


def test_forgetting_a_reader_deletes_everything(pages):
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    other = Reader.objects.create(visitor_id=uuid.uuid4())
    for r in (reader, other):
        record(r, pages[0], "like")
    call_command("neural_feed_forget", visitor=str(reader.visitor_id), stdout=StringIO())
    assert not Reader.objects.filter(pk=reader.pk).exists()
    assert not Interaction.objects.filter(reader_id=reader.pk).exists()
    assert not ReaderProfile.objects.filter(reader_id=reader.pk).exists()
    assert Interaction.objects.filter(reader=other).count() == 1  # others untouched


def test_retention_purges_old_interactions_and_recomputes(pages, settings):
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    record(reader, pages[0], "like")
    record(reader, pages[1], "like")
    Interaction.objects.filter(page=pages[0]).update(
        created_at=timezone.now() - timedelta(days=400)
    )
    call_command("neural_feed_purge", stdout=StringIO())  # RETENTION_DAYS = 365
    assert list(Interaction.objects.values_list("page_id", flat=True)) == [pages[1].pk]
    call_command("neural_feed_sweep", stdout=StringIO())
    assert np.allclose(profile_vector(reader), axis(1), atol=1e-5)


# --- concurrency ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_interactions_leave_the_profile_equal_to_a_full_recompute(
    make_article, settings
):
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "DISPATCH": "inline"}
    pages = []
    for i in range(4):
        page = make_article(f"Concurrent {i}")
        set_embedding(page, unit(axis(i) + 0.3 * axis(10)))
        pages.append(page)
    reader = Reader.objects.create(visitor_id=uuid.uuid4())
    barrier = threading.Barrier(16)
    errors = []

    def worker(n):
        try:
            barrier.wait()
            record_interaction(reader, pages[n % 4], ["view", "like", "dislike"][n % 3])
            update_profile(reader.pk, get_feed_config())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert Interaction.objects.filter(reader=reader).count() == 16
    incremental = profile_vector(reader)
    profile = ReaderProfile.objects.get(reader=reader)
    assert profile.interaction_count == 16
    recompute_profile(reader.pk, get_feed_config())
    assert np.allclose(incremental, profile_vector(reader), atol=1e-5)


@override_settings()
def test_anonymous_request_without_cookie_creates_nothing_until_it_records(pages):
    request = request_with()
    from wagtail_neural_feed.tracking import reader_for

    assert reader_for(request, create=False) is None
    assert not Reader.objects.exists()
