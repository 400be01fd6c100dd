"""Each signed-in user sees the interface in the language they chose (kept in their session)."""
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import translation

SESSION_KEY = "tierdesk_language"


class UserLanguageMiddleware:
    """Runs after LocaleMiddleware (browser language) and AuthenticationMiddleware: the user's choice wins."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        if language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


def remember_language(request, language: str) -> None:
    """Use `language` for this session and, for staff, on every later sign-in."""
    from tiers.models import StaffProfile

    request.session[SESSION_KEY] = language
    if request.user.is_authenticated:
        StaffProfile.objects.update_or_create(user=request.user, defaults={"language": language})


@receiver(user_logged_in, dispatch_uid="tiers.restore_language")
def restore_language(sender, request, user, **kwargs):
    from tiers.models import StaffProfile

    language = StaffProfile.objects.filter(user=user).values_list("language", flat=True).first()
    if language and request is not None:
        request.session[SESSION_KEY] = language
