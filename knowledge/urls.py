from django.urls import path

from knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("", views.article_list, name="list"),
    path("new/", views.article_edit, name="new"),
    path("<int:pk>/", views.article_detail, name="article"),
    path("<int:pk>/edit/", views.article_edit, name="edit"),
    path("<int:pk>/history/", views.article_history, name="history"),
    path("ticket/<int:pk>/suggestions/", views.ticket_suggestions, name="suggestions"),
    path("ticket/<int:pk>/suggestions/use/", views.use_suggestion, name="use"),
    path("ticket/<int:pk>/publish/", views.publish_from_ticket, name="publish"),
]
