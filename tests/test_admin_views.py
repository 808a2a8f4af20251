"""The admin, through the Django test client with real signed-in users: feeds in Settings,
permissions, the dashboard, the retry action, the preview, the editor panel."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import RequestFactory, TestCase
from django.urls import reverse
from django.utils import timezone
from wagtail.models import ModelLogEntry, Site

from tests.test_admin_feeds import form_data
from tests.testapp.models import ArticlePage
from wagtail_neural_feed import recommend
from wagtail_neural_feed.admin.panels import SimilarPagesPanel
from wagtail_neural_feed.exceptions import UnknownFeed
from wagtail_neural_feed.models import (
    AdminFeed,
    EmbeddingStatus,
    Interaction,
    PageEmbedding,
    Reader,
    ReaderProfile,
)

DASHBOARD = "/admin/neural-feed/"
PREVIEW = "/admin/neural-feed/preview/"
RETRY = "/admin/neural-feed/retry/"


def feed_url(name, *args):
    return reverse(AdminFeed.snippet_viewset.get_url_name(name), args=args)


def post(client, url, data):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, data)


@pytest.fixture
def site(home):
    return Site.objects.get(is_default_site=True)


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def editor(username, *codenames):
    """A Wagtail admin user in a group with the given permissions."""
    group = Group.objects.create(name=f"group of {username}")
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        *Permission.objects.filter(
            content_type__app_label="wagtail_neural_feed", codename__in=codenames
        ),
    )
    user = User.objects.create_user(username, password="pw")
    user.groups.add(group)
    return user


@pytest.fixture
def articles(make_article):
    return [
        make_article("Jazz festival", "Saxophones and trumpets at the summer jazz festival"),
        make_article("Cell biology", "Mitochondria, membranes and the cell cycle"),
        make_article("Telescopes", "Astronomy with small telescopes on dark nights"),
    ]


def test_create_edit_delete_a_feed_through_the_admin(admin_client, site, articles):
    response = post(admin_client, feed_url("add"), form_data(site, slug="fresh-first"))
    assert response.status_code == 302, response.content.decode()[:2000]
    feed = AdminFeed.objects.get(slug="fresh-first")
    assert [p.recommendation.feed for p in recommend(None, feed="fresh-first")] == [
        "fresh-first"
    ] * 3

    # Only freshness counts now: every score is the page's freshness.
    data = form_data(
        site, slug="fresh-first", similarity_weight="0", freshness_weight="1", popularity_weight="0"
    )
    assert post(admin_client, feed_url("edit", feed.pk), data).status_code == 302
    pages = recommend(None, feed="fresh-first")
    assert pages and all(
        p.recommendation.score == pytest.approx(p.recommendation.freshness, abs=1e-6) for p in pages
    )

    # Who changed which weight when, in the history.
    entry = ModelLogEntry.objects.filter(object_id=str(feed.pk)).latest("timestamp")
    assert entry.user.username == "admin"
    history = admin_client.get(feed_url("history", feed.pk)).content.decode()
    assert "Similarity weight: 1.0 → 0.0" in history
    assert "Freshness weight: 0.2 → 1.0" in history

    assert post(admin_client, feed_url("delete", feed.pk), {}).status_code == 302
    assert not AdminFeed.objects.exists()
    with pytest.raises(UnknownFeed):
        recommend(None, feed="fresh-first")


def test_validation_errors_are_shown_on_the_form(admin_client, site):
    data = form_data(site, freshness_half_life_days="0", mmr_lambda="3", slug="default")
    response = post(admin_client, feed_url("add"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Must be a number of days &gt; 0, not 0.0." in html
    assert "Must be between 0 and 1." in html
    assert "A feed declared in code already uses the slug" in html
    assert not AdminFeed.objects.exists()


def test_feed_listing_shows_admin_and_code_feeds(admin_client, site):
    AdminFeed.objects.create(site=site, title="Science desk", slug="science")
    html = admin_client.get(feed_url("list")).content.decode()
    assert "Science desk" in html
    assert "Feeds declared in code" in html and "<code>default</code>" in html


def test_settings_menu_has_recommendations(admin_client, site):
    html = admin_client.get("/admin/").content.decode()
    assert feed_url("list") in html and DASHBOARD in html


def test_user_without_permission_gets_403_and_no_menu_item(client, site):
    client.force_login(editor("plain"))
    assert client.get(DASHBOARD).status_code == 403
    assert client.get(PREVIEW).status_code == 403
    assert client.post(RETRY).status_code == 403
    assert client.get(feed_url("add")).status_code in (302, 403)
    home = client.get("/admin/").content.decode()
    assert DASHBOARD not in home and feed_url("list") not in home
    assert "pages embedded" not in home


def test_permissions_open_the_dashboard_and_feeds(client, site):
    client.force_login(editor("runner", "view_dashboard", "add_adminfeed", "change_adminfeed"))
    assert client.get(DASHBOARD).status_code == 200
    assert client.get(feed_url("add")).status_code == 200
    home = client.get("/admin/").content.decode()
    assert DASHBOARD in home and feed_url("list") in home


def test_permissions_are_assignable_in_the_group_editor(admin_client):
    html = admin_client.get("/admin/groups/new/").content.decode()
    view = Permission.objects.get(codename="view_dashboard")
    change = Permission.objects.get(codename="change_adminfeed")
    assert f'value="{view.pk}"' in html and f'value="{change.pk}"' in html


def test_dashboard_with_an_empty_database(admin_client, db):
    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No recommendable page is published yet" in html
    assert "No interactions in the last 30 days" in html
    assert "No lists shown yet" in html  # click-through empty state until impressions exist
    assert "inline" in html  # the dispatch backend


def test_dashboard_with_data(admin_client, articles):
    failed = articles[2]
    PageEmbedding.objects.filter(page_id=failed.pk).update(
        status=EmbeddingStatus.FAILED, error="encoder exploded", attempts=5
    )
    reader = Reader.objects.create(visitor_id=uuid.uuid4(), profile_pending=True)
    now = timezone.now()
    for days, kind in [(0, "view"), (0, "view"), (1, "like"), (3, "view")]:
        Interaction.objects.create(
            reader=reader,
            page=articles[0],
            kind=kind,
            weight=1,
            created_at=now - timedelta(days=days),
        )
    html = admin_client.get(DASHBOARD).content.decode()
    assert "2 of 3 pages embedded" in html
    assert "encoder exploded" in html
    assert "<svg" in html and "<polyline" in html
    assert "view (3)" in html and "like (1)" in html
    assert "Readers waiting for a profile update</dt><dd>1</dd>" in html
    home = admin_client.get("/admin/").content.decode()
    assert "2 of 3 pages embedded" in home and "1 failed" in home


def test_retry_queues_failed_pages(admin_client, articles, monkeypatch):
    failed = articles[1]
    PageEmbedding.objects.filter(page_id=failed.pk).update(
        status=EmbeddingStatus.FAILED, error="timeout", attempts=5
    )
    from wagtail_neural_feed import dispatch

    queued = []
    real_enqueue = dispatch.enqueue
    monkeypatch.setattr(
        dispatch,
        "enqueue",
        lambda name, *args: (queued.append((name, args)), real_enqueue(name, *args)),
    )
    response = post(admin_client, RETRY, {})
    assert response.status_code == 302
    assert queued == [("embed_pages", ([failed.pk],))]
    row = PageEmbedding.objects.get(page_id=failed.pk)
    assert (row.status, row.error) == (EmbeddingStatus.READY, "")  # inline dispatch ran the job


def test_preview_renders_with_an_empty_database(admin_client, db):
    response = admin_client.get(PREVIEW, {"feed": "default", "kind": "anonymous", "limit": 5})
    assert response.status_code == 200
    assert "This feed has no page for this reader" in response.content.decode()


def test_preview_a_new_reader_interested_in_typed_words(admin_client, articles):
    response = admin_client.get(
        PREVIEW,
        {
            "feed": "default",
            "kind": "interests",
            "interests": "jazz festival saxophones",
            "limit": 3,
        },
    )
    html = response.content.decode()
    assert "a new reader interested in" in html
    assert html.index("Jazz festival") < html.index("Cell biology")
    assert "exact" in html or "hot tier" in html or "fallback" in html  # the ranking path
    assert not Reader.objects.exists() and not ReaderProfile.objects.exists()  # rolled back


def test_preview_a_user_a_visitor_and_a_context_page(admin_client, articles):
    User.objects.create_user("reader1")
    html = admin_client.get(
        PREVIEW,
        {
            "feed": "default",
            "kind": "user",
            "username": "reader1",
            "limit": 3,
            "context_page": articles[0].pk,
        },
    ).content.decode()
    assert "What user reader1 is shown" in html and "Cell biology" in html
    visitor = Reader.objects.create(visitor_id=uuid.uuid4())
    html = admin_client.get(
        PREVIEW,
        {"feed": "default", "kind": "visitor", "visitor_id": str(visitor.visitor_id), "limit": 3},
    ).content.decode()
    assert f"What visitor {visitor.visitor_id} is shown" in html
    html = admin_client.get(
        PREVIEW, {"feed": "default", "kind": "user", "username": "nobody", "limit": 3}
    ).content.decode()
    assert "No user with the username" in html


def test_similar_pages_panel_shows_status_and_list(admin_client, articles, make_article):
    page = ArticlePage.objects.get(pk=articles[0].pk)
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(username="admin")
    panel = SimilarPagesPanel(limit=2).bind_to_model(ArticlePage)
    html = panel.get_bound_panel(instance=page, request=request, form=None).render_html()
    assert "Embedded" in html and html.count("<li>") == 2
    draft = make_article("Unpublished draft", live=False)
    html = panel.get_bound_panel(instance=draft, request=request, form=None).render_html()
    assert "Not embedded" in html


def test_site_settings_are_edited_in_settings(admin_client, site):
    from wagtail_neural_feed.models import RecommendationSettings

    url = f"/admin/settings/wagtail_neural_feed/recommendationsettings/{site.pk}/"
    assert admin_client.get(url).status_code == 200
    response = post(admin_client, url, {"default_feed": "no-such-feed", "tracking_enabled": ""})
    assert "No feed has the slug" in response.content.decode()
    assert (
        post(admin_client, url, {"default_feed": "default", "tracking_enabled": ""}).status_code
        == 302
    )
    assert not RecommendationSettings.objects.get(site=site).tracking_enabled


def test_dashboard_click_through_from_impressions(admin_client, articles):
    from wagtail_neural_feed.models import Impression

    now = timezone.now()
    for n in range(4):
        reader = Reader.objects.create(visitor_id=uuid.uuid4())
        Impression.objects.create(
            list_id=uuid.uuid4().hex,
            reader=reader,
            feed="default",
            page_ids=[articles[0].pk, articles[1].pk],
            shown_at=now - timedelta(days=n % 2),
            clicked_page_ids=[articles[0].pk] if n == 0 else [],
        )
    html = admin_client.get(DASHBOARD).content.decode()
    assert "No lists shown yet" not in html
    assert (
        "Recommended for you <code>default</code></td><td>4</td><td>1</td><td>1</td><td>25.0 %"
        in html
    )
    assert "Jazz festival</a> — 4, 25.0 %" in html and "Cell biology</a> — 4, 0.0 %" in html
    home = admin_client.get("/admin/").content.decode()
    assert "CTR 25.0 % this week" in home
