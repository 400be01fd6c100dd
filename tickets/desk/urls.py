from django.urls import path

from tickets.desk import views

app_name = "desk"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.log_call, name="new"),
    path("requesters/", views.requesters, name="requesters"),
    path("language/", views.set_language, name="language"),
    path("t/<int:pk>/", views.ticket_page, name="ticket"),
    path("t/<int:pk>/attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("t/<int:pk>/<slug:action>/", views.ticket_action, name="action"),
]
