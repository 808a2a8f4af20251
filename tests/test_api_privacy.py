"""The JSON API never shows a page the reader may not see, over a randomised world of
drafts, unpublished pages, login / group / password restrictions, other sites and locales."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import TestCase
from wagtail.models import Locale, Page, PageViewRestriction, Site

from tests.factories import HomePageFactory
from tests.testapp.models import ArticlePage

URL = "/neural-feed/recommendations/"
KINDS = ["visible", "draft", "unpublished", "login", "group", "password", "other_site", "french"]
#: What each reader may see, besides public live pages of their own site and language.
READERS = {
    "anonymous": {"visible"},
    "member": {"visible", "login"},
    "grouped": {"visible", "login", "group"},
    "password": {"visible", "password"},
}


def _add(parent: Page, title: str, *, live: bool = True) -> Page:
    page = ArticlePage(title=title, live=False)
    parent.add_child(instance=page)
    if live:
        with TestCase.captureOnCommitCallbacks(execute=True):
            page.save_revision().publish()
        page.refresh_from_db()
    return page


def build_world(home: Page, seed: int) -> dict[str, list[Page]]:
    """One page of every kind, then random kinds, in a random order."""
    rng = random.Random(seed)
    kinds = KINDS + [rng.choice(KINDS) for _ in range(10)]
    rng.shuffle(kinds)
    other_home = HomePageFactory(parent=Page.get_first_root_node(), title="Other", slug="other")
    Site.objects.create(hostname="other.example", root_page=other_home)
    french = Locale.objects.get_or_create(language_code="fr")[0]
    group = Group.objects.create(name="Club")
    world: dict[str, list[Page]] = {kind: [] for kind in KINDS}
    for i, kind in enumerate(kinds):
        title = f"{kind} {i}"
        if kind == "other_site":
            page = _add(other_home, title)
        elif kind == "french":
            source = _add(home, f"source {i}", live=False)  # a draft: only the copy is live
            page = source.copy_for_translation(french, copy_parents=True)
            with TestCase.captureOnCommitCallbacks(execute=True):
                page.save_revision().publish()
            page.refresh_from_db()
        else:
            page = _add(home, title, live=kind != "draft")
        if kind == "unpublished":
            with TestCase.captureOnCommitCallbacks(execute=True):
                page.unpublish()
        elif kind in ("login", "group", "password"):
            restriction = PageViewRestriction.objects.create(
                page=page,
                restriction_type={"login": "login", "group": "groups", "password": "password"}[
                    kind
                ],
                password="secret",
            )
            if kind == "group":
                restriction.groups.add(group)
        world[kind].append(page)
    world["group_obj"] = group
    return world


def sign_in(client, reader: str, world) -> None:
    if reader in ("member", "grouped"):
        user = User.objects.create_user(reader)
        if reader == "grouped":
            user.groups.add(world["group_obj"])
        client.force_login(user)
    elif reader == "password":
        session = client.session
        session[PageViewRestriction.passed_view_restrictions_session_key] = [
            restriction.pk
            for restriction in PageViewRestriction.objects.filter(restriction_type="password")
        ]
        session.save()


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("reader", sorted(READERS))
def test_no_page_a_reader_may_not_see(client, home, seed, reader):
    cache.clear()
    world = build_world(home, seed)
    sign_in(client, reader, world)
    rng = random.Random(seed * 31 + len(reader))
    allowed = {page.pk for kind in READERS[reader] for page in world[kind]}
    label = f"seed {seed}, reader {reader}"
    assert ids(client.get(URL, {"limit": "50"})) == allowed, label

    context = rng.choice(world["visible"])
    listed = ids(client.get(URL, {"limit": "50", "context": str(context.pk)}))
    assert listed == allowed - {context.pk}, label
    similar = ids(client.get(f"/neural-feed/similar/{context.pk}/", {"limit": "50"}))
    assert similar == allowed - {context.pk}, label

    # Every page the reader may not see is a 404 as a context or a similar page.
    for kind in set(KINDS) - READERS[reader] - {"french"}:
        for page in world[kind]:
            status = client.get(URL, {"context": str(page.pk)}).status_code
            assert status == 404, (label, kind)
            assert client.get(f"/neural-feed/similar/{page.pk}/").status_code == 404, label
    for page in world["visible"]:
        assert client.get(f"/neural-feed/similar/{page.pk}/").status_code == 200, label

    # Another language's page may be a context (it is public); its list is in its language.
    french = {page.pk for page in world["french"]}
    here = rng.choice(world["french"])
    assert ids(client.get(URL, {"limit": "50", "context": str(here.pk)})) == french - {here.pk}
    # Another site's reader gets that site's pages only.
    assert ids(client.get(URL, {"limit": "50"}, HTTP_HOST="other.example")) == {
        page.pk for page in world["other_site"]
    }, label
