from django.urls import path

from knowledge import portal

app_name = "kb"
urlpatterns = [
    path("", portal.index, name="index"),
    path("suggest/", portal.suggest, name="suggest"),
    path("<int:pk>/", portal.article, name="article"),
    path("<int:pk>/solved/", portal.solved, name="solved"),
]
