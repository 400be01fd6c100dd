"""API paths of the privacy endpoints, relative: the project includes them under ``api/v1/``."""
from django.urls import path

from privacy.api import RequesterAnonymiseView, RequesterExportView

app_name = "privacy-api"
urlpatterns = [
    path("requesters/<int:pk>/export/", RequesterExportView.as_view(), name="requester-export"),
    path("requesters/<int:pk>/anonymise/", RequesterAnonymiseView.as_view(), name="requester-anonymise"),
]
