"""Template context every page of the demo needs: the sections for the navigation."""

from __future__ import annotations

from django.http import HttpRequest


def sections(request: HttpRequest) -> dict:
    from .models import SectionPage

    return {"nav_sections": SectionPage.objects.live().order_by("path")}
