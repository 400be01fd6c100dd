from django.urls import path

from tickets.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.report, name="report"),
    path("t/<str:token>/", views.track, name="track"),
    path("t/<str:token>/<slug:action>/", views.track_action, name="track-action"),
    path("mine/", views.my_tickets, name="mine"),
    path("mine/link/", views.my_tickets_request, name="mine-request"),
    path("mine/<str:token>/", views.my_tickets_signin, name="mine-signin"),
]
