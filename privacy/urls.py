"""The desk's requester pages; the project mounts them under ``desk/requesters/``."""
from django.urls import path

from privacy import views

app_name = "privacy"
urlpatterns = [
    path("<int:pk>/", views.requester_page, name="requester"),
    path("<int:pk>/export/", views.requester_export, name="export"),
    path("<int:pk>/anonymise/", views.requester_anonymise, name="anonymise"),
]
