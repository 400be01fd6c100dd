from django.urls import path

from metrics.api import BreakdownView, SummaryView, TrendView

urlpatterns = [
    path("summary/", SummaryView.as_view(), name="metrics-summary"),
    path("breakdown/", BreakdownView.as_view(), name="metrics-breakdown"),
    path("trend/", TrendView.as_view(), name="metrics-trend"),
]
