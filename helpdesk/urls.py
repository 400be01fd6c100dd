"""Project URLs."""
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from helpdesk import health, monitoring
from inbound.webhook import inbound_urlpatterns
from tickets import views as ticket_views

urlpatterns = [
    path("", ticket_views.home, name="home"),
    path("desk/kb/", include("knowledge.urls")),
    path("desk/requesters/", include("privacy.urls")),
    path("desk/", include("presence.urls")),
    path("desk/", include("canned.urls")),
    path("desk/", include("tickets.desk.urls")),
    path("dashboard/", include("metrics.dashboard_urls")),
    path("support/kb/", include("knowledge.portal_urls")),
    path("support/", include("tickets.portal.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("knowledge.api_urls")),
    path("api/v1/", include("privacy.api_urls")),
    path("api/v1/", include("canned.api_urls")),
    path("api/v1/", include("tickets.api.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Prometheus; a 404 unless METRICS_TOKEN or METRICS_ALLOWED_IPS is set.
    path("metrics", monitoring.metrics, name="metrics"),
]

if settings.INBOUND_WEBHOOK_SECRET:
    urlpatterns.append(path("inbound/", include((inbound_urlpatterns(), "anymail"))))

handler404 = "helpdesk.errors.not_found"
handler500 = "helpdesk.errors.server_error"
