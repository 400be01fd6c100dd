"""API paths of canned replies, relative: the project includes them under ``api/v1/``."""
from django.urls import path

from canned.api import CannedReplyListView, TicketCannedRepliesView

app_name = "canned-api"
urlpatterns = [
    path("canned-replies/", CannedReplyListView.as_view(), name="reply-list"),
    path("tickets/<int:pk>/canned-replies/", TicketCannedRepliesView.as_view(), name="ticket-replies"),
]
