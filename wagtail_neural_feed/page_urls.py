"""Page URLs for a rendered list without a ``reverse()`` per page.

``{% pageurl %}`` resolves Wagtail's serve URL for every page it links (a
URL reverse and, with ``WAGTAIL_I18N_ENABLED``, a language switch each): a
third of a cached list's render time. For page types that keep Wagtail's own
URL methods the URL is the serve view's prefix (reversed once per language)
followed by the page's ``url_path`` below its site root, quoted as
``reverse()`` quotes it; the site root paths are read once per list. Page
types with their own URL methods, and paths the serve pattern would not
accept, get ``page.get_url(request)``: the answer is always the same as
``{% pageurl page %}``'s.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from urllib.parse import quote

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import translation
from django.utils.http import RFC3986_SUBDELIMS
from wagtail.coreutils import WAGTAIL_APPEND_SLASH, get_supported_content_language_variant
from wagtail.models import Page, Site
from wagtail.models import pages as wagtail_pages

#: Wagtail's URL methods; a page type overriding any of them builds its own URLs.
_URL_METHODS = ("get_url_parts", "get_url", "_get_site_root_paths", "_get_relevant_site_root_paths")
_SAFE = RFC3986_SUBDELIMS + "/~:@"  # what reverse() leaves unquoted
_PROBE = "neural-feed-probe/page/"


def page_urls(pages: Sequence[Page], request: HttpRequest | None = None) -> list[str | None]:
    """What ``{% pageurl page %}`` gives for each page (None: not routable)."""
    if not pages:
        return []
    if request is not None:
        root_paths = Page._get_site_root_paths(pages[0], request)  # cached on the request
        current_site = Site.find_for_request(request)
    else:
        root_paths = Site.get_site_root_paths()
        current_site = None
    urls = _ListUrls(root_paths, current_site)
    result = []
    for page in pages:
        url = urls.url(page) if _default_urls(type(page)) else None
        result.append(page.get_url(request=request) if url is None else url)
    return result


@functools.cache
def _default_urls(model: type[Page]) -> bool:
    return all(getattr(model, name) is getattr(Page, name) for name in _URL_METHODS)


class _ListUrls:
    """Wagtail's ``Page.get_url`` with what is the same for every page read once."""

    def __init__(self, root_paths: Sequence, current_site: Site | None) -> None:
        self.root_paths = root_paths
        self.current_site_id = current_site.id if current_site is not None else None
        self.site_count = len({root.site_id for root in root_paths})
        self.i18n = getattr(settings, "WAGTAIL_I18N_ENABLED", False)
        # Read where Page.get_url_parts reads it (Wagtail reads the setting once).
        self.append_slash = getattr(wagtail_pages, "WAGTAIL_APPEND_SLASH", WAGTAIL_APPEND_SLASH)
        self.language = translation.get_language()
        self.prefixes: dict[str | None, str | None] = {}
        self.where = (settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())

    def url(self, page: Page) -> str | None:
        """The page's URL, or None to ask Wagtail (a rare case)."""
        possible = [root for root in self.root_paths if page.url_path.startswith(root.root_path)]
        if not possible or len({root.site_id for root in possible}) > 1:
            # Not routable (Wagtail says None), or in several sites (it picks by request).
            return None
        site_id, root_path, root_url, language_code = possible[0]
        relative = page.url_path[len(root_path) :]
        prefix = self.prefix(language_code)
        if prefix is None or not _SERVED.fullmatch(relative):
            return None
        page_path = prefix + quote(relative, safe=_SAFE)
        if not self.append_slash and page_path != "/":
            page_path = page_path.rstrip("/")
        if site_id == self.current_site_id or self.site_count == 1:
            return page_path
        return root_url + page_path

    def prefix(self, language_code: str) -> str | None:
        """The serve view's URL for a site root in this language (Wagtail's choice of it)."""
        if language_code not in self.prefixes:
            language = self.language
            if self.i18n:
                language = language_code
                try:
                    if get_supported_content_language_variant(self.language) == language_code:
                        language = self.language
                except LookupError:
                    pass
            self.prefixes[language_code] = _serve_prefix(*self.where, language)
        return self.prefixes[language_code]


#: Paths wagtail.urls serves whatever WAGTAIL_APPEND_SLASH says (others: ask Wagtail).
_SERVED = re.compile(r"(?:[\w\-]+/)*")


@functools.lru_cache(maxsize=64)
def _serve_prefix(
    root_urlconf: str, urlconf: str | None, script_prefix: str, language: str | None
) -> str | None:
    """The serve view's URL for the site root, if any path's URL is this plus the path.

    Checked once with a probe path; None (ask Wagtail for every page) when the
    serve view is missing or builds its URLs some other way.
    """
    try:
        with translation.override(language):
            prefix = reverse("wagtail_serve", args=("",))
            probe = reverse("wagtail_serve", args=(_PROBE,))
    except NoReverseMatch:
        return None
    return prefix if probe == prefix + _PROBE else None


@receiver(setting_changed)
def _forget_prefixes(**kwargs) -> None:
    """A test's changed URLconf, languages or Wagtail setting: reverse again."""
    _serve_prefix.cache_clear()
