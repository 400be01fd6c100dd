"""Demo knowledge base articles (run after `seed_demo`, whose staff users write them)."""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from knowledge.models import Article, Visibility
from knowledge.services import ArticleInput, article_save, parse_tags
from tickets.models import Category

# (title, problem, solution, category slug, tags, visibility, language)
ARTICLES = [
    ("VPN disconnects every few minutes", "The VPN connection drops after a few minutes, mostly on Wi-Fi at home.",
     "1. Update the VPN client to **5.3** or later (Software Center → *VPN client*).\n"
     "2. Turn off Wi-Fi power saving: *Device Manager → Network adapters → Power management*.\n"
     "3. Reconnect. If it still drops, report it and attach the client log.",
     "network", "vpn, wifi", Visibility.PUBLIC, ""),
    ("Printer jams on every page", "Every page jams, usually in tray 2.",
     "Open tray 2 and the rear door, remove any torn paper, and fan the stack before putting it back. "
     "Agents: if it keeps jamming, clean the pickup roller (see the service manual).",
     "hardware", "printer", Visibility.PUBLIC, ""),
    ("Password reset e-mail does not arrive", "The password reset message never reaches the mailbox.",
     "Check the *Junk* folder first. Agents: look in the mail quarantine for `noreply@` messages and release "
     "them; add the sender to the allow list.", "access", "password, e-mail", Visibility.PUBLIC, ""),
    ("Outlook crashes when opening a PDF", "Outlook closes as soon as a PDF attachment is opened or previewed.",
     "Start Outlook with `outlook.exe /safe`, disable the PDF preview add-in under *File → Options → Add-ins*, "
     "then run *Quick Repair* of Office.", "software", "outlook, pdf", Visibility.PUBLIC, ""),
    ("Renewing a CAD licence", "The CAD suite reports an expired licence.",
     "Renew the seat in the vendor's licence portal (finance approval needed), then run *Refresh licence* on "
     "the workstation as an administrator.", "software", "licence, cad", Visibility.INTERNAL, ""),
    ("Reporting a phishing e-mail", "A message asks for your password or to open an unexpected attachment.",
     "Do not click anything. Use **Report phishing** in Outlook, or forward the message as an attachment to "
     "security@example.com, then delete it.", "security", "phishing, e-mail", Visibility.PUBLIC, ""),
    ("VPN отключается каждые несколько минут", "Соединение VPN обрывается через несколько минут, чаще по Wi-Fi.",
     "1. Обновите VPN-клиент до версии **5.3**.\n2. Отключите энергосбережение Wi-Fi-адаптера.\n"
     "3. Подключитесь снова; если не помогло — сообщите о проблеме и приложите журнал клиента.",
     "network", "vpn", Visibility.PUBLIC, "ru"),
]


class Command(BaseCommand):
    help = "Create demo knowledge base articles (needs the staff of seed_demo)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo_articles is for the demo; it refuses to run with DEBUG off.")
        if Article.objects.exists():
            self.stdout.write("Articles already present; nothing to do.")
            return
        author = get_user_model().objects.filter(username="l1").first()
        if author is None:
            raise CommandError("Run seed_demo first: its agent l1 writes the demo articles.")
        categories = {c.slug: c for c in Category.objects.all()}
        with transaction.atomic():
            for title, problem, solution, slug, tags, visibility, language in ARTICLES:
                article_save(user=author, data=ArticleInput(
                    title=title, problem=problem, solution=solution, category=categories.get(slug),
                    tags=parse_tags(tags), visibility=visibility, language=language))
        self.stdout.write(self.style.SUCCESS(f"Seeded {len(ARTICLES)} articles."))
