"""Keep shared caches from serving one reader's list to another.

Add ``"wagtail_neural_feed.middleware.PrivateListsMiddleware"`` to
``MIDDLEWARE`` (anywhere after ``SessionMiddleware`` and
``AuthenticationMiddleware`` is fine: it only looks at the finished
response). A response that rendered a recommendation list gets
``Vary: Cookie`` (the list depends on the visitor cookie, the session and the
login); one that rendered a *personal* list also gets
``Cache-Control: private``, so a CDN or proxy never stores it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers


def mark_private(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Apply the headers the lists rendered for ``request`` call for."""
    if getattr(request, "neural_feed_lists", False):
        patch_vary_headers(response, ["Cookie"])
        if getattr(request, "neural_feed_personal", False):
            patch_cache_control(response, private=True)
    return response


class PrivateListsMiddleware:
    """``Vary: Cookie`` on pages with a list, ``Cache-Control: private`` on personal ones."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return mark_private(request, self.get_response(request))
