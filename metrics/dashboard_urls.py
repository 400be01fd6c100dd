"""URLs of the manager dashboard, mounted at /dashboard/."""
from django.urls import path

from metrics import dashboard, drilldown

app_name = "dashboard"
urlpatterns = [
    path("", dashboard.index, name="index"),
    path("export/<slug:table>.csv", dashboard.export, name="export"),
    path("tickets/", drilldown.tickets, name="tickets"),
]
