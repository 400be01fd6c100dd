"""Webhook API paths, relative: the project includes them under ``api/v1/``."""
from django.urls import path

from webhooks.api import WebhookDetailView, WebhookListView

urlpatterns = [
    path("webhooks/", WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>/", WebhookDetailView.as_view(), name="webhook-detail"),
]
