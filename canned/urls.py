"""The desk's canned-reply URLs; the project mounts them under ``desk/``, ahead of the desk's own."""
from django.urls import path

from canned import views

app_name = "canned"
urlpatterns = [
    path("canned/", views.reply_list, name="list"),
    path("canned/new/", views.reply_edit, name="new"),
    path("canned/<int:pk>/edit/", views.reply_edit, name="edit"),
    path("canned/<int:pk>/delete/", views.reply_delete, name="delete"),
    # Before the desk's `t/<id>/<action>/`, which would take "canned" for an action name.
    path("t/<int:pk>/canned/", views.ticket_replies, name="ticket"),
]
