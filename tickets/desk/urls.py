from django.urls import path

from tickets.desk import bulk, organise, views
from tiers import views as tiers_views

app_name = "desk"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.log_call, name="new"),
    path("requesters/", views.requesters, name="requesters"),
    path("language/", views.set_language, name="language"),
    path("bulk/", bulk.bulk, name="bulk"),
    path("away/", tiers_views.away, name="away"),
    path("t/<int:pk>/", views.ticket_page, name="ticket"),
    path("t/<int:pk>/attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    # Merge, links and tags (before the workflow actions' catch-all).
    path("tags/", organise.tag_suggestions, name="tags"),
    path("t/<int:pk>/merge/", organise.merge, name="merge"),
    path("t/<int:pk>/links/", organise.link, name="link"),
    path("t/<int:pk>/links/<int:other>/delete/", organise.unlink, name="unlink"),
    path("t/<int:pk>/tags/", organise.tag, name="tag"),
    path("t/<int:pk>/<slug:action>/", views.ticket_action, name="action"),
]
