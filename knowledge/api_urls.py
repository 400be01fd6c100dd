from django.urls import include, path
from rest_framework.routers import SimpleRouter

from knowledge.api import ArticleViewSet, SuggestionsView, SuggestionUseView

router = SimpleRouter()
router.register("articles", ArticleViewSet, basename="article")

app_name = "knowledge-api"
urlpatterns = [
    path("", include(router.urls)),
    path("tickets/<int:pk>/suggestions/", SuggestionsView.as_view(), name="suggestions"),
    path("tickets/<int:pk>/suggestions/use/", SuggestionUseView.as_view(), name="suggestion-use"),
]
