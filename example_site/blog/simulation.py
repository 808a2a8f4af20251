"""Simulated readers: a month of views, reading time, likes and dislikes, played fast.

Each reader has interests (one to three sections, weighted); some drift to a
new section halfway through. On active days they read a few articles, mostly
from their sections and sometimes elsewhere, newer and more appealing
articles more often, and react the way people do: long reads and the odd
like where they are interested, short visits and the odd dislike where not.
Everything is drawn from one ``random.Random(seed)``, so a seed gives the same
month every time, and written with bulk inserts through the real models.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from wagtail.models import Page

from wagtail_neural_feed.co_reads import rebuild_co_reads
from wagtail_neural_feed.models import Impression, Interaction, Reader
from wagtail_neural_feed.popularity import refresh_popularity
from wagtail_neural_feed.profiles import recompute_profiles
from wagtail_neural_feed.tracking import interaction_weight

from .models import ArticlePage
from .recommendations import FOR_YOU
from .sections import SECTIONS

#: Chances per article read, for a reader interested in its section and not.
RATES = {
    True: {"dwell": 0.9, "like": 0.18, "dislike": 0.004},
    False: {"dwell": 0.5, "like": 0.02, "dislike": 0.07},
}
#: Median seconds read, interested and not.
DWELL_MEDIAN = {True: 95.0, False: 18.0}
#: Share of reads outside a reader's interests.
EXPLORE = 0.15
DRIFT_SHARE = 0.3
#: Newer articles are read more: weight halves every this many days of age.
RECENCY_HALF_LIFE_DAYS = 10.0
#: Share of visits that start from a click in the home page's "Recommended for you"
#: list, and of reads after which the "More like this" list is scrolled into view.
FROM_LIST = 0.35
SIMILAR_SEEN = 0.35
HOME_LIST_LENGTH = 6
SIMILAR_LIST_LENGTH = 4

Progress = Callable[[int, int], None]


@dataclass
class Persona:
    interests: dict[str, float]
    activity: float
    #: (day, interests from that day on) for readers whose taste changes.
    drift: tuple[int, dict[str, float]] | None = None
    read: set[int] = field(default_factory=set)

    def interests_on(self, day: int) -> dict[str, float]:
        if self.drift and day >= self.drift[0]:
            return self.drift[1]
        return self.interests


@dataclass(frozen=True)
class Article:
    page_id: int
    section: str
    published: datetime
    appeal: float


@dataclass
class SimulationResult:
    readers: int
    interactions: int
    impressions: int = 0


def _articles(rng: random.Random) -> list[Article]:
    pages = list(
        ArticlePage.objects.live().order_by("slug").values_list("pk", "path", "first_published_at")
    )
    steplen = Page.steplen
    sections = dict(Page.objects.filter(depth=3).values_list("path", "slug"))
    return [
        Article(pk, sections.get(path[:-steplen], ""), published, rng.lognormvariate(0, 0.6))
        for pk, path, published in pages
    ]


def _interests(rng: random.Random, sections: list[str]) -> dict[str, float]:
    count = rng.choices((1, 2, 3), weights=(0.45, 0.4, 0.15))[0]
    chosen = rng.sample(sections, count)
    weights = [rng.uniform(0.5, 1.0) for _ in chosen]
    total = sum(weights)
    return {slug: weight / total for slug, weight in zip(chosen, weights, strict=True)}


def _persona(rng: random.Random, sections: list[str], days: int) -> Persona:
    interests = _interests(rng, sections)
    persona = Persona(interests=interests, activity=rng.uniform(0.15, 0.6))
    if rng.random() < DRIFT_SHARE:
        new = rng.choice([slug for slug in sections if slug not in interests])
        drifted = dict(interests)
        drifted.pop(rng.choice(list(interests)))
        drifted[new] = 1.0
        total = sum(drifted.values())
        persona.drift = (
            rng.randint(days // 3, 2 * days // 3),
            {k: v / total for k, v in drifted.items()},
        )
    return persona


def _pick(rng, persona, articles, section, when) -> Article | None:
    candidates = [
        a
        for a in articles
        if a.section == section and a.published < when and a.page_id not in persona.read
    ]
    if not candidates:
        return None
    weights = [
        a.appeal
        * math.pow(2, -(when - a.published).total_seconds() / 86400 / RECENCY_HALF_LIFE_DAYS)
        for a in candidates
    ]
    return rng.choices(candidates, weights=weights)[0]


def _session(
    rng, persona, by_section, sections, day, start
) -> list[tuple[int, str, float | None, datetime]]:
    """One visit: a few articles read in a row, with what the reader did on each."""
    events = []
    interests = persona.interests_on(day)
    when = start
    for _ in range(1 + min(int(rng.expovariate(0.7)), 6)):
        if rng.random() < EXPLORE:
            section = rng.choice(sections)
        else:
            section = rng.choices(list(interests), weights=list(interests.values()))[0]
        article = _pick(rng, persona, by_section.get(section, []), section, when)
        if article is None:
            continue
        persona.read.add(article.page_id)
        interested = section in interests
        rates = RATES[interested]
        events.append((article.page_id, "view", None, when))
        seconds = 0.0
        if rng.random() < rates["dwell"]:
            seconds = min(900.0, rng.lognormvariate(math.log(DWELL_MEDIAN[interested]), 0.6))
            events.append(
                (article.page_id, "dwell", round(seconds), when + timedelta(seconds=seconds))
            )
        for kind in ("like", "dislike"):
            if rng.random() < rates[kind]:
                events.append(
                    (article.page_id, kind, None, when + timedelta(seconds=seconds * 0.9))
                )
        when += timedelta(seconds=seconds + rng.uniform(10, 60))
    return events


def _lists(rng, articles, by_section, events, start) -> list[tuple]:
    """The lists a visit showed and what was clicked in them.

    Each visit sees the home page's "Recommended for you" a few times and sometimes
    starts by clicking its first article there; under an article, "More like this"
    is sometimes scrolled into view, and the next article read may come from it.
    """
    views = [(page_id, when) for page_id, kind, _, when in events if kind == "view"]
    if not views:
        return []
    section_of = {article.page_id: article.section for article in articles}
    others = [a.page_id for a in articles if a.published < start]
    shown = []
    for number in range(1 + min(int(rng.expovariate(0.6)), 5)):
        first, clicked_at = views[0]
        clicked = number == 0 and rng.random() < FROM_LIST
        pool = [p for p in others if p != first]
        pages = rng.sample(pool, min(len(pool), HOME_LIST_LENGTH - int(clicked)))
        if clicked:
            pages.insert(rng.randrange(len(pages) + 1), first)
        when = start + timedelta(minutes=5 * number)
        shown.append((FOR_YOU, None, pages, when, [first] if clicked else [], clicked_at))
    for (page_id, when), following in zip(views, [*views[1:], (None, None)], strict=True):
        if rng.random() >= SIMILAR_SEEN:
            continue
        near = [a.page_id for a in by_section[section_of[page_id]] if a.page_id != page_id]
        pages = rng.sample(near, min(SIMILAR_LIST_LENGTH, len(near)))
        next_id, next_at = following
        clicked = next_id in near and rng.random() < 0.5
        if clicked and next_id not in pages:
            pages[rng.randrange(len(pages))] = next_id
        shown.append(
            (
                "similar",
                page_id,
                pages,
                when + timedelta(seconds=30),
                [next_id] if clicked else [],
                next_at if clicked else None,
            )
        )
    return shown


def visitor_ids(seed: int, readers: int) -> list[uuid.UUID]:
    """The simulated readers' visitor ids: the same for a seed, so a rerun replaces them."""
    rng = random.Random(f"visitors-{seed}")
    return [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(readers)]


def simulate(
    *,
    readers: int,
    days: int = 30,
    seed: int = 1,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Play ``days`` of reading by ``readers`` simulated visitors, then rebuild profiles,
    popularity and co-reads. Rerunning with the same seed replaces the earlier run's readers."""
    now = now or timezone.now()
    rng = random.Random(seed)
    articles = _articles(rng)
    by_section: dict[str, list[Article]] = {}
    for article in articles:
        by_section.setdefault(article.section, []).append(article)
    sections = [section.slug for section in SECTIONS]
    ids = visitor_ids(seed, readers)
    plays, shown = [], []
    for _ in ids:
        persona = _persona(rng, sections, days)
        events, lists = [], []
        for day in range(days):
            if rng.random() < persona.activity:
                start = now - timedelta(days=days - day) + timedelta(hours=rng.uniform(6, 23))
                visit = _session(rng, persona, by_section, sections, day, start)
                events.extend(visit)
                lists.extend(_lists(rng, articles, by_section, visit, start))
        plays.append(events)
        shown.append(lists)
    with transaction.atomic():
        Reader.objects.filter(visitor_id__in=ids).delete()
        created = Reader.objects.bulk_create(
            [Reader(visitor_id=visitor) for visitor in ids], batch_size=1000
        )
        written = _write_interactions(created, plays)
        impressions = _write_impressions(rng, created, shown)
    for done, reader in enumerate(created, start=1):
        recompute_profiles(reader.pk)
        if progress:
            progress(done, len(created))
    refresh_popularity()
    rebuild_co_reads()  # bulk-written history: count its co-reads once
    return SimulationResult(readers=len(created), interactions=written, impressions=impressions)


def _write_interactions(readers: list[Reader], plays: list[list[tuple]]) -> int:
    """Store every reader's events as ``Interaction`` rows, in time order, in bulk."""
    rows = [
        Interaction(
            reader_id=reader.pk,
            page_id=page_id,
            kind=kind,
            value=value,
            weight=interaction_weight(kind, value),
            created_at=when,
        )
        for reader, events in zip(readers, plays, strict=True)
        for page_id, kind, value, when in sorted(events, key=lambda event: event[3])
    ]
    Interaction.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def _write_impressions(rng: random.Random, readers: list[Reader], shown: list[list[tuple]]) -> int:
    """Store the lists each reader was shown, with the page they clicked, in bulk."""
    rows = [
        Impression(
            list_id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
            reader_id=reader.pk,
            feed=feed,
            context_page_id=context_page_id,
            page_ids=page_ids,
            shown_at=shown_at,
            clicked_page_ids=clicked,
            clicked_at=clicked_at,
        )
        for reader, lists in zip(readers, shown, strict=True)
        for feed, context_page_id, page_ids, shown_at, clicked, clicked_at in lists
    ]
    Impression.objects.bulk_create(rows, batch_size=5000)
    return len(rows)
