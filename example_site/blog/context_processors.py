"""Template context every page of the demo needs: the sections for the navigation."""

from __future__ import annotations

from django.http import HttpRequest

from .models import SectionPage


def sections(request: HttpRequest) -> dict:
    return {"nav_sections": SectionPage.objects.live().order_by("path")}
