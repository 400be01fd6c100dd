"""The webhook API mounted as the project will mount it, for tests only."""
from django.urls import include, path

urlpatterns = [path("api/v1/", include("webhooks.urls"))]
