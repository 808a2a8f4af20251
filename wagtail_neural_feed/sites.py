"""The request's Wagtail site without a query per request.

``Site.find_for_request`` runs one query per request (Wagtail caches the
answer on the request only). Profiling a JSON API list showed that query and
its ORM compilation as the largest share of a list's time after the ranking
itself. Sites change rarely, so each process keeps ``(hostname, port) -> Site``
and forgets it when the feed registry is reset: the admin feeds' shared
version stamp (:mod:`.admin_feeds`) is bumped whenever any process saves or
deletes a ``Site`` or moves a site's root page, and every list reads that
stamp anyway, so no extra cache read is needed to notice.
"""

from __future__ import annotations

import threading

from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest
from django.http.request import split_domain_port
from wagtail.models import Site
from wagtail.signals import post_page_move

from .admin_feeds import feeds_changed
from .feeds import on_registry_reset, registered_feeds

_sites: dict[tuple[str, int | str], Site | None] = {}
_lock = threading.Lock()


def site_for_request(request: HttpRequest) -> Site | None:
    """``Site.find_for_request(request)``, answered from this process's map when it can.

    Sets ``request._wagtail_site`` as Wagtail does, so Wagtail's own lookups
    later in the request reuse it.
    """
    if hasattr(request, "_wagtail_site"):
        return request._wagtail_site
    registered_feeds()  # reads the shared version stamp: a site saved anywhere resets the map
    key = (split_domain_port(request._get_raw_host())[0], request.get_port())
    try:
        site = _sites[key]
    except KeyError:
        site = Site.find_for_request(request)
        with _lock:
            _sites[key] = site
    request._wagtail_site = site
    return site


def forget_sites() -> None:
    with _lock:
        _sites.clear()


def _on_site_change(sender, **kwargs) -> None:
    if not kwargs.get("raw"):
        feeds_changed()


def _on_page_move(sender, instance, **kwargs) -> None:
    """A moved site root changes its site's tree path: sites are read again."""
    if Site.objects.filter(root_page_id=instance.pk).exists():
        feeds_changed()


def connect_site_receivers() -> None:
    """Forget the resolved sites in every process when a site or a site's root moves."""
    on_registry_reset(forget_sites)
    for signal in (post_save, post_delete):
        signal.connect(
            _on_site_change, sender=Site, dispatch_uid=f"neural_feed_site_{signal is post_save}"
        )
    post_page_move.connect(_on_page_move, dispatch_uid="neural_feed_site_root_moved")
