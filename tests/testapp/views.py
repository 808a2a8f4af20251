"""A page with a recommendation list rendered by the shared HTML contract, for browser tests
of impressions, clicks and client-side placeholders."""

from __future__ import annotations

import uuid

from django.shortcuts import get_object_or_404, render
from wagtail.models import Page

from wagtail_neural_feed import recommend
from wagtail_neural_feed.tracking import list_token


def list_page(request, page_id: int):
    page = get_object_or_404(Page, pk=page_id).specific
    pages = recommend(request, context_page=page, limit=4)
    token = list_token(uuid.uuid4().hex, "default", [p.pk for p in pages], page.pk)
    return render(
        request,
        "testapp/list_page.html",
        {"page": page, "pages": pages, "list_token": token, "client_side": "client" in request.GET},
    )
