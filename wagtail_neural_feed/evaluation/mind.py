"""Importing MIND-format data (Microsoft News Dataset): pages, readers and their reads.

``news.tsv``: one article a line, tab-separated: id, category, subcategory,
title, abstract, URL, title entities, abstract entities. ``behaviors.tsv``:
one shown list a line: impression id, user id, time (``11/15/2019 8:55:22
AM``), the user's click history before the period (space-separated news ids)
and the list shown (``N123-1 N456-0``: clicked or not).

Articles become live pages of the chosen type in one section page per
category (the subcategory is not kept); users become readers (visitor ids
derived from the user id, so a second import finds them); clicks become
"view" interactions at the list's time, and the history, which has no
times, "view" interactions just before the user's first list, in order;
each shown list becomes an :class:`~wagtail_neural_feed.models.Impression`
(feed ``"mind"``, list id ``mind-<impression id>``) with its clicked pages.
A page counts as published when it was first shown, or (seen only in
histories) a day before the period.
"""

from __future__ import annotations

import csv
import html
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import models, transaction
from django.utils.text import slugify
from wagtail.fields import RichTextField
from wagtail.models import Page

from ..models import Impression, Interaction, Reader
from ..signals import disable_neural_feed_updates
from ..tracking import interaction_weight

MIND_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
#: Readers made by the importer have visitor ids in this namespace (uuid5 of the user id).
MIND_NAMESPACE = uuid.UUID("5b0f5f0e-3c4b-4d0c-9c1e-6d2f7a1b9e01")
#: Articles seen only in histories were published this long before the first list.
HISTORY_LEAD = timedelta(days=1)
TEXT_FIELD_CANDIDATES = ("summary", "intro", "abstract", "body")
#: The feed name imported impressions are stored under.
MIND_FEED = "mind"
BATCH_SIZE = 5000


@dataclass(frozen=True)
class NewsItem:
    news_id: str
    category: str
    subcategory: str
    title: str
    abstract: str


@dataclass(frozen=True)
class Behaviour:
    impression_id: str
    user: str
    time: datetime
    history: tuple[str, ...]
    shown: tuple[tuple[str, bool], ...]


@dataclass
class MindImport:
    sections: int = 0
    pages: int = 0
    readers: int = 0
    interactions: int = 0
    #: Shown lists stored as Impression rows (new ones).
    impressions: int = 0
    #: Items shown (clicked or not) in the behaviours file.
    shown: int = 0
    page_ids: dict[str, int] = field(default_factory=dict)


def read_news(path: Path | str) -> Iterator[NewsItem]:
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 5:
                yield NewsItem(*(value.strip() for value in row[:5]))


def read_behaviours(path: Path | str) -> Iterator[Behaviour]:
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 5:
                continue
            when = datetime.strptime(row[2].strip(), MIND_TIME_FORMAT).replace(tzinfo=UTC)
            shown = tuple(
                (item.rsplit("-", 1)[0], item.rsplit("-", 1)[1] == "1")
                for item in row[4].split()
                if "-" in item
            )
            yield Behaviour(row[0], row[1], when, tuple(row[3].split()), shown)


def reader_visitor_id(user: str) -> uuid.UUID:
    return uuid.uuid5(MIND_NAMESPACE, user)


def text_field_for(page_model: type[Page], name: str | None = None) -> str | None:
    """The page type's field for the abstract: ``name``, else the first usual text field."""
    names = [name] if name else TEXT_FIELD_CANDIDATES
    for candidate in names:
        try:
            found = page_model._meta.get_field(candidate)
        except Exception:  # FieldDoesNotExist
            continue
        if isinstance(found, models.TextField | models.CharField | RichTextField):
            return candidate
    return None


def import_mind(
    news_path: Path | str,
    behaviours_path: Path | str,
    *,
    parent: Page,
    page_model: type[Page],
    section_model: type[Page] = Page,
    text_field: str | None = None,
) -> MindImport:
    """Create (or find) the sections, pages, readers and interactions. Idempotent."""
    result = MindImport()
    published, first_lists = _first_times(behaviours_path)
    period_start = min(published.values(), default=datetime.now(tz=UTC))
    field_name = text_field_for(page_model, text_field)
    with transaction.atomic(), disable_neural_feed_updates():
        sections: dict[str, Page] = {}
        for item in read_news(news_path):
            section = sections.get(item.category)
            if section is None:
                section, created = _section(parent, section_model, item.category)
                sections[item.category] = section
                result.sections += created
            when = published.get(item.news_id, period_start - HISTORY_LEAD)
            page_id, created = _page(section, page_model, field_name, item, when)
            result.page_ids[item.news_id] = page_id
            result.pages += created
        _import_reads(behaviours_path, first_lists, result)
    return result


def _first_times(behaviours_path) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """When each article was first shown, and each user's first list (files are not sorted)."""
    shown: dict[str, datetime] = {}
    users: dict[str, datetime] = {}
    for behaviour in read_behaviours(behaviours_path):
        if behaviour.user not in users or behaviour.time < users[behaviour.user]:
            users[behaviour.user] = behaviour.time
        for news_id, _ in behaviour.shown:
            if news_id not in shown or behaviour.time < shown[news_id]:
                shown[news_id] = behaviour.time
    return shown, users


def _section(parent: Page, section_model: type[Page], category: str) -> tuple[Page, bool]:
    slug = slugify(category) or "uncategorised"
    existing = parent.get_children().filter(slug=slug).first()
    if existing is not None:
        return existing, False
    section = section_model(title=category.replace("_", " ").capitalize(), slug=slug, live=True)
    parent.add_child(instance=section)
    parent.refresh_from_db()
    return section, True


def _page(section, page_model, field_name, item: NewsItem, when: datetime) -> tuple[int, bool]:
    slug = slugify(item.news_id)
    existing = section.get_children().filter(slug=slug).values_list("pk", flat=True).first()
    if existing is not None:
        return existing, False
    values = {}
    if field_name:
        text = item.abstract
        if isinstance(page_model._meta.get_field(field_name), RichTextField):
            text = f"<p>{html.escape(text)}</p>"
        values[field_name] = text
    page = page_model(
        title=(item.title or item.news_id)[:255],
        slug=slug,
        live=True,
        has_unpublished_changes=False,
        first_published_at=when,
        last_published_at=when,
        **values,
    )
    section.add_child(instance=page)
    section.refresh_from_db()
    return page.pk, True


def _import_reads(behaviours_path, first_lists: dict[str, datetime], result: MindImport) -> None:
    """Readers, and their clicks and histories as views, in batches (skipping any already
    imported, so a second import adds nothing)."""
    weight = interaction_weight("view", None)
    readers: dict[str, int] = {}
    histories_done: set[str] = set()
    batch: list[Interaction] = []
    impressions: list[Impression] = []
    for behaviour in read_behaviours(behaviours_path):
        reader_id = readers.get(behaviour.user)
        if reader_id is None:
            reader, created = Reader.objects.get_or_create(
                visitor_id=reader_visitor_id(behaviour.user)
            )
            reader_id = readers[behaviour.user] = reader.pk
            result.readers += created
        views = []
        if behaviour.user not in histories_done:
            histories_done.add(behaviour.user)
            start = first_lists[behaviour.user] - HISTORY_LEAD
            views += [
                (news_id, start + timedelta(seconds=i))
                for i, news_id in enumerate(behaviour.history)
            ]
        for news_id, clicked in behaviour.shown:
            result.shown += 1
            if clicked:
                views.append((news_id, behaviour.time))
        impression = _impression(reader_id, behaviour, result.page_ids)
        if impression is not None:
            impressions.append(impression)
        for news_id, when in views:
            page_id = result.page_ids.get(news_id)
            if page_id is not None:  # else not in news.tsv
                batch.append(
                    Interaction(
                        reader_id=reader_id,
                        page_id=page_id,
                        kind="view",
                        weight=weight,
                        created_at=when,
                    )
                )
        if len(batch) >= BATCH_SIZE or len(impressions) >= BATCH_SIZE:
            result.interactions += _store_new(batch)
            result.impressions += _store_impressions(impressions)
            batch, impressions = [], []
    result.interactions += _store_new(batch)
    result.impressions += _store_impressions(impressions)


def _store_new(batch: list[Interaction]) -> int:
    known = set(
        Interaction.objects.filter(reader_id__in={row.reader_id for row in batch}).values_list(
            "reader_id", "page_id", "created_at"
        )
    )
    new = [row for row in batch if (row.reader_id, row.page_id, row.created_at) not in known]
    Interaction.objects.bulk_create(new)
    return len(new)


def _impression(reader_id: int, behaviour: Behaviour, page_ids: dict[str, int]):
    """The shown list as an Impression (pages not in news.tsv left out), or None if empty."""
    shown = [(page_ids[n], clicked) for n, clicked in behaviour.shown if n in page_ids]
    if not shown:
        return None
    clicked = [page_id for page_id, was_clicked in shown if was_clicked]
    return Impression(
        list_id=f"mind-{behaviour.impression_id}",
        reader_id=reader_id,
        feed=MIND_FEED,
        page_ids=[page_id for page_id, _ in shown],
        shown_at=behaviour.time,
        clicked_page_ids=clicked,
        clicked_at=behaviour.time if clicked else None,
    )


def _store_impressions(impressions: list[Impression]) -> int:
    """Insert the lists not stored yet (unique per list id and reader); returns how many."""
    if not impressions:
        return 0
    before = Impression.objects.filter(feed=MIND_FEED).count()
    Impression.objects.bulk_create(impressions, ignore_conflicts=True)
    return Impression.objects.filter(feed=MIND_FEED).count() - before
