from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.views import PagesAPIViewSet

from tests.testapp.views import list_page
from wagtail_neural_feed.api_v2 import RecommendationsAPIViewSet

api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", PagesAPIViewSet)
api_router.register_endpoint("recommendations", RecommendationsAPIViewSet)

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("api/v2/", api_router.urls),
    path("neural-feed/", include("wagtail_neural_feed.urls")),
    path("test-lists/<int:page_id>/", list_page),  # browser tests of rendered lists
    path("", include(wagtail_urls)),
]
