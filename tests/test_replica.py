"""Reads from a real streaming replica: a hot standby of the test server made with
the embedded distribution's pg_basebackup (wagtail_neural_feed/standby.py).

Lists are ranked on the replica, writes go to the primary, a reader's own
writes are never missing from their next list however far the replica lags
(replay paused on the standby makes the lag as long as a test needs), and a
replica that goes down costs a warning, not a list.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.signals import request_started
from django.db import connections, reset_queries
from django.test import TestCase
from wagtail.models import Page

from tests.helpers import axis, ids, set_embedding, unit
from tests.test_blocks import related
from tests.testapp.models import ListingPage
from wagtail_neural_feed import recommend, replicas, similar_pages
from wagtail_neural_feed.models import (
    Impression,
    Interaction,
    PageEmbedding,
    Reader,
    ReaderProfile,
)
from wagtail_neural_feed.standby import Standby, StandbyUnavailable
from wagtail_neural_feed.tracking import list_token, page_token

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

BEACON = "/neural-feed/interactions/"
#: The first ranking round trip (scope.py) names the HNSW settings; the page
#: fetch selects pages by id from Wagtail's page table.
SCOPE = "hnsw.ef_search"
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|WITH locked)", re.I | re.S)


@pytest.fixture(scope="session")
def standby(django_db_setup, django_db_blocker):
    """A hot standby of the test server, streaming, for the whole session."""
    standby = Standby(connections["default"].settings_dict, django_settings.NEURAL_FEED_REPLICA_DIR)
    try:
        standby.start()
    except StandbyUnavailable as exc:
        pytest.skip(f"no streaming replica: {exc}")
    yield standby
    with django_db_blocker.unblock():
        connections["replica"].close()
    standby.stop()


@pytest.fixture
def replica(standby, settings):
    """Rank on the replica; the standby is up and has replayed everything."""
    if not (standby.data_dir / "postmaster.pid").exists():
        standby.start(fresh=False)
    standby.resume_replay()
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, "READ_DATABASE": "replica"}
    replicas.reset()
    yield standby
    replicas.reset()


class Log:
    """The SQL one connection ran inside a ``with`` block (without connecting it)."""

    def __init__(self, alias: str) -> None:
        self.connection = connections[alias]
        self.sql: list[str] = []

    def __enter__(self) -> Log:
        self._forced = self.connection.force_debug_cursor
        self.connection.force_debug_cursor = True
        self.connection.queries_log.clear()  # a bounded deque: counting from its length fails
        return self

    def __exit__(self, *exc) -> None:
        self.connection.force_debug_cursor = self._forced
        self.sql = [q["sql"] for q in self.connection.queries_log]

    @property
    def ranked(self) -> int:
        """How many lists were ranked here (one scope round trip each)."""
        return sum(SCOPE in sql for sql in self.sql)

    @property
    def writes(self) -> list[str]:
        return [sql for sql in self.sql if WRITES.match(sql)]


@contextlib.contextmanager
def logs():
    """The SQL each database ran; requests made meanwhile do not clear the logs."""
    request_started.disconnect(reset_queries)
    try:
        with Log("default") as primary, Log("replica") as replica:
            yield primary, replica
    finally:
        request_started.connect(reset_queries)


def beacon(client, body: dict):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.generic("POST", BEACON, json.dumps(body), content_type="text/plain")
    assert response.status_code == 201, response.content
    return response


def like(client, page: Page):
    return beacon(client, {"page": page.pk, "kind": "like", "token": page_token(page.pk)})


@pytest.fixture
def articles(make_article):
    pages = [make_article(f"Story {n}", intro=f"About {n}") for n in range(6)]
    for n, page in enumerate(pages):
        set_embedding(page, axis(n) + 0.1 * axis(10))
    return pages


def api_list(client, **params) -> list[int]:
    response = client.get("/neural-feed/recommendations/", params, HTTP_USER_AGENT="Mozilla/5.0")
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_every_list_surface_is_ranked_on_the_replica(
    replica, client, articles, home, rf, make_article
):
    listing = ListingPage(title="Listing", slug="listing")
    home.add_child(instance=listing)
    host = articles[0]
    blocks = make_article(
        "Blocks", related=related(("recommended", {"count": 3}), ("similar", {"count": 3}))
    )
    replica.wait_for_replay()
    request = rf.get("/", HTTP_USER_AGENT="Mozilla/5.0")
    surfaces = {
        "recommend()": lambda: recommend(None, limit=3),
        "similar_pages()": lambda: similar_pages(host, limit=3),
        "template tags": lambda: client.get(listing.url, HTTP_USER_AGENT="Mozilla/5.0"),
        "StreamField blocks": lambda: client.get(blocks.url, HTTP_USER_AGENT="Mozilla/5.0"),
        "JSON API": lambda: api_list(client, limit=3),
        "JSON API similar": lambda: client.get(f"/neural-feed/similar/{host.pk}/"),
        "Wagtail API v2": lambda: client.get("/api/v2/recommendations/?limit=3"),
        "recommend(request)": lambda: recommend(request, limit=3, context_page=host),
    }
    for name, show in surfaces.items():
        with logs() as (primary, standby):
            result = show()
        assert getattr(result, "status_code", 200) == 200, name
        assert standby.ranked >= 1, (name, standby.sql, primary.sql, result)
        assert primary.ranked == 0, (name, primary.sql)
        assert not primary.writes and not standby.writes, name
        # The pages themselves come from the replica too.
        assert any('"wagtailcore_page"' in sql and "ANY" in sql for sql in standby.sql), name
    # Called from Python, a list asks nothing of the primary at all.
    with logs() as (primary, standby):
        recommend(request, limit=3, context_page=host)
        similar_pages(host, limit=3)
    assert primary.sql == [] and standby.ranked == 2


def test_a_list_shows_what_the_replica_has_replayed(replica, articles, make_article, settings):
    """Proof the list really is the standby's: while replay is paused, a page
    published on the primary is in the primary's list and not in the replica's."""
    replica.wait_for_replay()
    with replica.replay_paused():
        fresh = make_article("Breaking")
        set_embedding(fresh, axis(0) + 0.1 * axis(10))
        assert PageEmbedding.objects.filter(page_id=fresh.pk, status="ready").exists()
        assert replica.lag_bytes() > 0
        from_replica = ids(recommend(None, limit=10))
        with replicas.reading_from("default"):
            from_primary = ids(recommend(None, limit=10))
    assert fresh.pk not in from_replica and fresh.pk in from_primary
    replica.wait_for_replay()
    assert fresh.pk in ids(recommend(None, limit=10))


def test_writes_go_to_the_primary(replica, client, articles, make_article):
    with logs() as (primary, standby):
        page = make_article("Published now")  # the embedding (inline job)
        like(client, articles[1])  # the interaction, then the profile update (inline)
        shown = [articles[2].pk, articles[3].pk]
        token = list_token(uuid.uuid4().hex, "default", shown, None)
        beacon(client, {"kind": "impression", "list": token})
    assert standby.sql == []
    written = " ".join(primary.writes)
    for table in ("pageembedding", "interaction", "readerprofile", "impression"):
        assert f"wagtail_neural_feed_{table}" in written, table
    replica.wait_for_replay()
    # ... and reach the replica by replication.
    reader = Reader.objects.get()
    assert Interaction.objects.using("replica").filter(reader=reader).count() == 1
    assert ReaderProfile.objects.using("replica").filter(reader=reader).exists()
    assert Impression.objects.using("replica").filter(reader=reader).exists()
    assert PageEmbedding.objects.using("replica").filter(page_id=page.pk).exists()


@pytest.fixture
def regular(client, articles):
    """A visitor whose history points at Story 1; Story 1 and 2 are unread."""
    visitor = uuid.uuid4()
    reader = Reader.objects.create(visitor_id=visitor)
    ReaderProfile.objects.create(
        reader=reader, feed="default", vector=unit(axis(1)), sum_vector=unit(axis(1))
    )
    client.cookies["nf_visitor"] = str(visitor)
    return reader


def test_a_reader_reads_their_own_like_while_the_replica_lags(replica, client, articles, regular):
    replica.wait_for_replay()
    first = api_list(client, limit=3)
    assert first[0] == articles[1].pk
    with replica.replay_paused():
        like(client, articles[1])  # stored on the primary; the replica stands still
        assert replica.lag_bytes() > 0
        with logs() as (primary, standby):
            after_like = api_list(client, limit=3)
        # The liked (read) page is gone: the list was ranked on the primary ...
        assert articles[1].pk not in after_like
        assert primary.ranked == 1 and standby.ranked == 0
        # ... after one cheap look at how far the replica has replayed.
        assert standby.sql == ["SELECT pg_last_wal_replay_lsn()::text"]
        # Everyone else still reads the replica.
        with logs() as (primary, standby):
            assert recommend(None, limit=3)
            similar_pages(articles[0], limit=3)
        assert primary.ranked == 0 and standby.ranked == 2
    replica.wait_for_replay()
    with logs() as (primary, standby):
        assert articles[1].pk not in api_list(client, limit=3)
    assert primary.ranked == 0 and standby.ranked == 1


def test_a_signed_in_readers_profile_is_read_from_the_primary_until_replayed(
    replica, client, articles
):
    user = User.objects.create_user("reader")
    client.force_login(user)
    replica.wait_for_replay()
    with replica.replay_paused():
        like(client, articles[4])  # first interaction: the profile is created now
        with logs() as (primary, standby):
            pages = recommend(user, limit=3)
        assert primary.ranked == 1 and standby.ranked == 0
        # The new profile (towards Story 4) ranks Story 4's neighbours... and
        # Story 4 itself is excluded as read.
        assert articles[4].pk not in ids(pages)
        reader = Reader.objects.get(user=user)
        with logs() as (primary, standby):
            recommend(reader, limit=3)  # the same reader, by Reader row
        assert primary.ranked == 1 and standby.ranked == 0


def test_without_read_your_writes_the_list_is_as_stale_as_the_replica(
    replica, client, articles, regular, settings
):
    settings.WAGTAIL_NEURAL_FEED = {
        **settings.WAGTAIL_NEURAL_FEED,
        "READ_YOUR_WRITES_SECONDS": 0,
    }
    replica.wait_for_replay()
    with replica.replay_paused():
        like(client, articles[1])
        with logs() as (primary, standby):
            stale = api_list(client, limit=3)
        assert primary.ranked == 0 and standby.ranked == 1
        assert stale[0] == articles[1].pk  # the like is not on the replica yet
    replica.wait_for_replay()
    assert articles[1].pk not in api_list(client, limit=3)


def test_a_replica_that_goes_down_costs_a_warning_not_a_list(
    replica, client, articles, caplog, settings
):
    replica.wait_for_replay()
    expected = ids(recommend(None, limit=3))  # ranked on the replica: its connection is open
    assert connections["replica"].connection is not None
    replica.stop()
    try:
        caplog.set_level(logging.WARNING, logger="wagtail_neural_feed.replicas")
        with logs() as (primary, standby):
            assert ids(recommend(None, limit=3)) == expected  # the open connection breaks
        assert primary.ranked == 1
        assert "lists are ranked on the primary" in caplog.text
        caplog.clear()
        with logs() as (primary, standby):
            assert api_list(client, limit=3) == expected
        assert primary.ranked == 1 and standby.sql == []  # not tried again yet
        assert caplog.text == ""
        # Once REPLICA_RETRY_AFTER has passed it is tried again: a new
        # connection is refused, and the list is still served.
        settings.WAGTAIL_NEURAL_FEED = {
            **settings.WAGTAIL_NEURAL_FEED,
            "REPLICA_RETRY_AFTER": 0,
        }
        replicas.reset()
        with logs() as (primary, standby):
            assert ids(similar_pages(articles[0], limit=3))
        assert primary.ranked == 1
        assert "failed" in caplog.text
    finally:
        replica.start(fresh=False)
    replicas.reset()
    replica.wait_for_replay()
    with logs() as (primary, standby):
        assert ids(recommend(None, limit=3)) == expected
    assert standby.ranked == 1 and primary.ranked == 0


class ReadsToReplicaRouter:
    """A site's blanket router: every ORM read on the replica (Django's docs' example)."""

    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True


@pytest.mark.parametrize("ours_first", [True, False], ids=["with NeuralFeedRouter", "without"])
def test_our_router_keeps_profile_updates_off_a_lagging_replica(
    replica, client, articles, regular, settings, ours_first
):
    """A site that reads everything from the replica would make a profile
    update read the reader's interactions there: with the replica behind, the
    like it was scheduled for is not folded in. NeuralFeedRouter first keeps
    this app's own queries on the primary."""
    blanket = "tests.test_replica.ReadsToReplicaRouter"
    ours = "wagtail_neural_feed.routers.NeuralFeedRouter"
    settings.DATABASE_ROUTERS = [ours, blanket] if ours_first else [blanket]
    replica.wait_for_replay()
    with replica.replay_paused():
        like(client, articles[2])
        profile = ReaderProfile.objects.using("default").get(reader=regular)
    folded = profile.last_interaction_id == Interaction.objects.using("default").get().pk
    assert folded is ours_first
