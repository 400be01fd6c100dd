from django.urls import path

from presence import views

app_name = "presence"
urlpatterns = [
    path("t/<int:pk>/presence/", views.heartbeat, name="heartbeat"),
]
