from django.urls import path

from metrics.api import BreakdownView, KnowledgeView, SummaryView, TrendView

urlpatterns = [
    path("summary/", SummaryView.as_view(), name="metrics-summary"),
    path("breakdown/", BreakdownView.as_view(), name="metrics-breakdown"),
    path("trend/", TrendView.as_view(), name="metrics-trend"),
    path("knowledge/", KnowledgeView.as_view(), name="metrics-knowledge"),
]
