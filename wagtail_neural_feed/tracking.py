"""Recording what readers do: identity, consent, and the interaction itself.

An interaction is written in the request (it is the source of truth); the
profile update is handed to the dispatch layer after commit, so a broker or
worker failure never loses what was recorded (the sweep recomputes).
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.core import signing
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from . import admin_feeds, replicas, visitors
from .conf import neural_feed_settings
from .dispatch import enqueue, send
from .exceptions import InvalidInteraction
from .models import Interaction, Reader, ReaderProfile

logger = logging.getLogger(__name__)

#: Built-in kinds and their weights. ``dwell`` is scaled by the seconds read.
DEFAULT_KINDS: dict[str, float] = {
    "view": 1.0,
    "dwell": 1.0,
    "like": 3.0,
    "share": 2.0,
    "dislike": -3.0,
}
MAX_DWELL_SECONDS = 3600.0
#: Seconds of reading worth one view; dwell weight grows with the log of time read.
DWELL_UNIT_SECONDS = 30.0
TRUTHY = {"1", "true", "yes", "on"}
TOKEN_SALT = "wagtail_neural_feed.page"
LIST_TOKEN_SALT = "wagtail_neural_feed.list"
BOT_PATTERN = re.compile(
    r"bot|crawl|spider|slurp|preview|fetch|monitor|curl|wget|python-requests|headless",
    re.IGNORECASE,
)


def interaction_kinds() -> dict[str, float]:
    """Every kind readers can record, with its weight (the site's own kinds included)."""
    return {**DEFAULT_KINDS, **neural_feed_settings.INTERACTION_KINDS}


def interaction_weight(kind: str, value: float | None) -> float:
    """The signed weight of one interaction; raises InvalidInteraction for bad input."""
    kinds = interaction_kinds()
    if kind not in kinds:
        raise InvalidInteraction(f"Unknown kind {kind!r}; known kinds: {', '.join(sorted(kinds))}.")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInteraction("value must be a number.")
        if not math.isfinite(value) or value < 0 or value > MAX_DWELL_SECONDS:
            raise InvalidInteraction(
                f"value must be a finite number from 0 to {MAX_DWELL_SECONDS:g}."
            )
    weight = float(kinds[kind])
    if kind != "dwell":
        # A value on any other kind would be stored and mean nothing.
        if value is not None:
            raise InvalidInteraction(f"value is only for dwell; send {kind!r} without one.")
        return weight
    if value is None:
        raise InvalidInteraction("A dwell interaction needs value (seconds read).")
    if value <= 0:
        raise InvalidInteraction("A dwell value must be more than 0 seconds.")
    return weight * math.log1p(float(value) / DWELL_UNIT_SECONDS)


# --- consent and identity -------------------------------------------------------


def page_token(page_id: int) -> str:
    """A token proving a beacon comes from the page itself (the same for every reader,
    so it survives CDN caching)."""
    return signing.Signer(salt=TOKEN_SALT).sign(str(page_id))


def token_page_id(token: str) -> int | None:
    """The page id a :func:`page_token` was made for; None when forged or malformed."""
    try:
        return int(signing.Signer(salt=TOKEN_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def list_token(
    list_id: str, feed: str, page_ids: Sequence[int], context_page_id: int | None = None
) -> str:
    """A signed description of one rendered list (id, feed, pages in order, context page).

    Rendered with the list; the tracker sends it back when the list is shown or
    a page in it is followed, so what is recorded is what the server rendered.
    """
    payload = {"l": list_id, "f": feed, "p": [int(pk) for pk in page_ids], "c": context_page_id}
    return signing.dumps(payload, salt=LIST_TOKEN_SALT, compress=True)


def read_list_token(token: str) -> dict[str, Any] | None:
    """``{"list_id", "feed", "page_ids", "context_page_id"}`` from a :func:`list_token`;
    None when it was forged or is malformed."""
    try:
        payload = signing.loads(token, salt=LIST_TOKEN_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("p"), list):
        return None
    return {
        "list_id": payload.get("l"),
        "feed": payload.get("f"),
        "page_ids": payload["p"],
        "context_page_id": payload.get("c"),
    }


def is_bot(request: HttpRequest) -> bool:
    """Crawlers, monitors, previews and clients without a User-Agent are not readers."""
    agent = request.headers.get("User-Agent", "")
    return not agent or bool(BOT_PATTERN.search(agent))


def tracking_allowed(request: HttpRequest) -> bool:
    """May this request be recorded: Do Not Track, GPC, consent, the site's setting."""
    do_not_track = "1" in (request.headers.get("DNT"), request.headers.get("Sec-GPC"))
    if neural_feed_settings.RESPECT_DO_NOT_TRACK and do_not_track:
        return False
    cookie = neural_feed_settings.CONSENT_COOKIE_NAME
    consented = not cookie or request.COOKIES.get(cookie, "").lower() in TRUTHY
    return consented and admin_feeds.site_allows_tracking(request)


def visitor_id(request: HttpRequest) -> uuid.UUID | None:
    raw = request.COOKIES.get(neural_feed_settings.VISITOR_COOKIE_NAME)
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def reader_for(request: HttpRequest, *, create: bool, probation: bool = False) -> Reader | None:
    """The reader behind a request: the signed-in user, else the visitor cookie.

    With ``create``, a visitor without a cookie gets a new id (for
    :func:`set_visitor_cookie`); with ``probation`` too, a visitor on probation
    (``visitors.py``) gets None and ``request._neural_feed_probation``.
    """
    cached = getattr(request, "_neural_feed_reader", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    reader = None
    if user is not None and user.is_authenticated:
        reader = (
            Reader.objects.get_or_create(user=user)[0]
            if create
            else Reader.objects.filter(user=user).first()
        )
    else:
        visitor = visitor_id(request)
        if visitor is None and create:
            visitor = Reader.new_visitor_id()
            request._neural_feed_new_visitor = visitor
        if visitor is not None:
            reader = Reader.objects.filter(visitor_id=visitor).first()
            if reader is None and create:
                reader = _admit_visitor(request, visitor, probation)
    if reader is not None:
        request._neural_feed_reader = reader
    return reader


def _admit_visitor(request: HttpRequest, visitor: uuid.UUID, probation: bool) -> Reader | None:
    """A row for a visitor who came back, held interactions stored; None on probation."""
    if probation and visitors.on_probation(visitor):
        request._neural_feed_probation = visitor
        return None
    reader = Reader.objects.get_or_create(visitor_id=visitor)[0]
    for page_id, kind, value, weight, created_at in visitors.release(visitor):
        store_interaction(reader, page_id, kind, value, weight, created_at=created_at)
    return reader


def set_visitor_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """Send the visitor cookie when this request created a visitor."""
    visitor = getattr(request, "_neural_feed_new_visitor", None)
    if visitor is None:
        return
    response.set_cookie(
        neural_feed_settings.VISITOR_COOKIE_NAME,
        str(visitor),
        max_age=neural_feed_settings.VISITOR_COOKIE_AGE,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


# --- recording -----------------------------------------------------------------------


def record_interaction(
    reader: Any, page, kind: str, value: float | None = None
) -> Interaction | None:
    """Record that a reader did ``kind`` on ``page``; returns None when tracking is not allowed.

    ``reader`` is a request (identity and consent come from it), a
    :class:`Reader` or a user. Raises :class:`InvalidInteraction` for an
    unknown kind or a bad value, before anything is stored.
    """
    weight = interaction_weight(kind, value)
    page_id = page if isinstance(page, int) else page.pk
    if isinstance(reader, HttpRequest):
        if not tracking_allowed(reader):
            return None
        request, reader = reader, reader_for(reader, create=True, probation=True)
        if reader is None and hasattr(request, "_neural_feed_probation"):
            return visitors.hold_interaction(request, page_id, kind, value, weight)
    elif isinstance(reader, Reader):
        pass
    elif getattr(reader, "is_authenticated", False):
        reader = Reader.objects.get_or_create(user=reader)[0]
    else:
        raise InvalidInteraction("Pass a request, a Reader or a signed-in user.")
    if reader is None:
        return None
    return store_interaction(reader, page_id, kind, value, weight)


def store_interaction(
    reader: Reader,
    page_id: int,
    kind: str,
    value: float | None,
    weight: float,
    *,
    created_at: datetime | None = None,
) -> Interaction:
    """Store a checked interaction and queue the reader's profile update after commit.

    For callers that have validated the input and consent already (the beacon
    endpoint); everyone else uses :func:`record_interaction`.
    """
    created_at = created_at or timezone.now()
    interaction = Interaction(reader=reader, page_id=page_id, kind=kind, value=value)
    interaction.weight, interaction.created_at = weight, created_at
    if _insert_and_flag(interaction):
        transaction.on_commit(partial(send, "update_profiles", reader.pk), robust=True)
    replicas.note_write(reader.pk)  # the reader's next lists see this write (read your writes)
    return interaction


INSERTED_FIELDS = ("reader_id", "page_id", "kind", "value", "weight", "created_at")


def _insert_and_flag(interaction: Interaction) -> bool:
    """Store the interaction and set ``Reader.profile_pending`` in one statement.

    The statement first locks the reader's row, so one reader's interactions
    get their ids and commit in the same order; a profile update holding the
    same lock therefore never sees a later id before an earlier one, which is
    what makes its high-water mark safe. Returns True when this interaction
    flipped the flag, i.e. it must schedule the profile update.
    """
    table = Interaction._meta.db_table
    readers = Reader._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH locked AS (
                SELECT id, profile_pending FROM {readers} WHERE id = %s FOR UPDATE
            ), inserted AS (
                INSERT INTO {table} (reader_id, page_id, kind, value, weight, created_at)
                SELECT locked.id, %s, %s, %s, %s, %s FROM locked RETURNING id
            ), flagged AS (
                UPDATE {readers} r SET profile_pending = true
                FROM locked WHERE r.id = locked.id AND NOT locked.profile_pending
                RETURNING r.id
            )
            SELECT (SELECT id FROM inserted), EXISTS (SELECT 1 FROM flagged)
            """,
            [getattr(interaction, name) for name in INSERTED_FIELDS],
        )
        interaction.pk, flipped = cursor.fetchone()
    if interaction.pk is None:
        raise InvalidInteraction(f"Reader {interaction.reader_id} does not exist.")
    interaction._state.adding = False
    return flipped


# --- login merge ------------------------------------------------------------------------


def merge_visitor_into_user(visitor: uuid.UUID, user) -> Reader | None:
    """Move a visitor's history to the user's reader and drop the visitor."""
    with transaction.atomic():
        anonymous = Reader.objects.select_for_update().filter(visitor_id=visitor, user=None).first()
        if anonymous is None:
            return None
        reader, _ = Reader.objects.get_or_create(user=user)
        if reader.pk == anonymous.pk:
            return reader
        Interaction.objects.filter(reader=anonymous).update(reader=reader)
        anonymous.delete()  # its profiles go with it
        ReaderProfile.objects.filter(reader=reader).update(stale=True)
        enqueue("recompute_profiles", reader.pk)
    return reader


def merge_on_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver: the visitor's history becomes the user's."""
    visitor = visitor_id(request) if request is not None else None
    if visitor is None:
        return
    try:
        merge_visitor_into_user(visitor, user)
    except Exception:  # never break a login
        logger.exception("Could not merge visitor %s into user %s", visitor, user.pk)


# --- privacy ------------------------------------------------------------------------------


def forget_reader(reader: Reader) -> int:
    """Delete a reader with every interaction and profile. Returns rows deleted."""
    deleted, _ = reader.delete()
    return deleted


def purge_old_interactions(days: int | None = None) -> int:
    """Delete interactions older than the retention period; their profiles are recomputed."""
    days = neural_feed_settings.RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timezone.timedelta(days=days)
    old = Interaction.objects.filter(created_at__lt=cutoff)
    readers = list(old.values_list("reader_id", flat=True).distinct())
    deleted, _ = old.delete()
    ReaderProfile.objects.filter(reader_id__in=readers).update(stale=True)
    return deleted
