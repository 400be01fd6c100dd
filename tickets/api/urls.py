"""URLs of /api/v1/."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from tickets.api.views import CategoryViewSet, TicketViewSet, TierViewSet
from tiers.api import MeView

router = SimpleRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("tiers", TierViewSet, basename="tier")
router.register("categories", CategoryViewSet, basename="category")

app_name = "api"
urlpatterns = [
    path("", include(router.urls)),
    path("me/", MeView.as_view(), name="me"),
    path("metrics/", include("metrics.urls")),
    path("", include("webhooks.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
