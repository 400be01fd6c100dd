from django.urls import path

from metrics.api import SummaryView

urlpatterns = [path("summary/", SummaryView.as_view(), name="metrics-summary")]
