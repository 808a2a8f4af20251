"""An endpoint for sites that mount Wagtail's API (``wagtail.api.v2``)::

    from wagtail.api.v2.router import WagtailAPIRouter
    from wagtail.api.v2.views import PagesAPIViewSet
    from wagtail_neural_feed.api_v2 import RecommendationsAPIViewSet

    api_router = WagtailAPIRouter("wagtailapi")
    api_router.register_endpoint("pages", PagesAPIViewSet)
    api_router.register_endpoint("recommendations", RecommendationsAPIViewSet)

``/api/v2/recommendations/?feed=&limit=&context=`` and
``/api/v2/recommendations/similar/<id>/`` answer like the pages listing
(``fields=`` works as there, ``detail_url`` points at the pages endpoint),
with the same lists, validation and rate limit as :mod:`.api_views`.
Needs ``rest_framework`` and ``wagtail.api.v2`` in ``INSTALLED_APPS``.
"""

from __future__ import annotations

from django.urls import path
from rest_framework.response import Response
from wagtail.api.v2.utils import BadRequestError, parse_fields_parameter
from wagtail.api.v2.views import PagesAPIViewSet
from wagtail.models import Page

from . import api_views
from .exceptions import InvalidRecommendationRequest, PageNotAvailable, UnknownFeed


class _NoModel:
    """Stands in for ``model``: the router finds a model's endpoint by ``issubclass(model,
    endpoint.model)``, and pages must keep resolving to the pages endpoint, not this one."""


class RecommendationsAPIViewSet(PagesAPIViewSet):
    """Recommended and similar pages, serialised like ``PagesAPIViewSet``'s listing."""

    name = "recommendations"
    model = _NoModel
    #: ``fields`` and ``format`` as Wagtail's API has them, plus the list's own parameters.
    known_query_parameters = api_views.QUERY_PARAMETERS | {"fields", "format"}

    @classmethod
    def get_urlpatterns(cls):
        return [
            path("", cls.as_view({"get": "listing_view"}), name="listing"),
            path("similar/<str:pk>/", cls.as_view({"get": "similar_view"}), name="similar"),
        ]

    def listing_view(self, request):
        return self._list(request, None)

    def similar_view(self, request, pk: str):
        return self._list(request, pk)

    def _list(self, request, similar_to: str | None) -> Response:
        django_request = request._request
        if api_views.rate_limited(django_request):
            return api_views.personal(Response({"message": "Too many requests."}, status=429))
        params = {key: value for key, value in request.query_params.items() if key != "fields"}
        query = api_views.parse_query(
            django_request,
            params,
            similar_to=similar_to,
            allowed=self.known_query_parameters,
        )
        ranked = api_views.ranked_list(django_request, query)
        serializer_class = self._serializer_for_pages()
        data = serializer_class(ranked.pages, many=True, context=self.get_serializer_context()).data
        items = []
        for page, item in zip(ranked.pages, data, strict=True):
            item = dict(item)
            item["recommendation"] = api_views.recommendation_data(page)
            items.append(item)
        return api_views.personal(Response(api_views.list_data(ranked, items)))

    def _serializer_for_pages(self):
        """The pages listing's serialiser (with ``fields=``), for mixed page types."""
        try:
            fields_config = parse_fields_parameter(self.request.GET.get("fields", ""))
        except ValueError as exc:
            raise BadRequestError(f"fields error: {exc}") from exc
        return self._get_serializer_class(
            self.request.wagtailapi_router, Page, fields_config, show_details=False
        )

    def handle_exception(self, exc):
        if isinstance(exc, InvalidRecommendationRequest):
            return api_views.personal(Response({"message": str(exc)}, status=400))
        if isinstance(exc, UnknownFeed | PageNotAvailable):
            return api_views.personal(Response({"message": str(exc)}, status=404))
        return super().handle_exception(exc)
