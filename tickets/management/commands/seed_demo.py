"""Demo data: four staff users, categories, and tickets with real histories."""
import random
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from tickets import services
from tickets.models import Category, Channel, Priority, Ticket
from tickets.policy import Actor
from tiers.models import Tier, TierMembership
from tiers.roles import AGENTS_GROUP, MANAGERS_GROUP

# The documented demo sign-in; the command refuses to run with DEBUG off.
PASSWORD = "demo"  # noqa: S105 - a known demo password on purpose  # nosec B105
CATEGORIES = ["Hardware", "Software", "Network", "Access", "Security", "Other"]
CUSTOMERS = [
    ("Anna Petrova", "anna.petrova@example.com"),
    ("Ben Okafor", "ben.okafor@example.com"),
    ("Chloe Martin", "chloe.martin@example.com"),
    ("Dmitri Volkov", "dmitri.volkov@example.com"),
    ("Emma Schultz", "emma.schultz@example.com"),
    ("Farid Haddad", "farid.haddad@example.com"),
    ("Grace Lee", "grace.lee@example.com"),
    ("Hugo Moreau", "hugo.moreau@example.com"),
]
PROBLEMS = {
    "Hardware": [
        ("Laptop does not power on", "My laptop shows no lights after charging overnight.", "Laptop T14 #4411"),
        ("Monitor flickers on the docking station", "The second monitor flickers every few seconds.", "Dell U2720Q"),
        ("Printer on floor 3 jams every page", "Every page jams in tray 2 since this morning.", "HP M607 floor 3"),
    ],
    "Software": [
        ("Outlook crashes when opening attachments", "Outlook closes as soon as I open a PDF attachment.",
         "Outlook 365"),
        ("Licence expired for the CAD suite", "The CAD program says the licence expired.", "CAD suite 2026"),
        ("Excel macros blocked", "Our monthly report macros stopped running.", "Excel 365"),
    ],
    "Network": [
        ("VPN disconnects every ten minutes", "The VPN drops about every ten minutes from home.", "VPN client 5.2"),
        ("Wi-Fi in meeting room B is very slow", "Video calls freeze in meeting room B.", "AP meeting room B"),
        ("Cannot reach the file server", "The S: drive is unreachable since the weekend.", "File server fs01"),
    ],
    "Access": [
        ("Password reset does not arrive", "I requested a reset twice and got no e-mail.", "Directory account"),
        ("Need access to the finance share", "Please grant me read access to the finance share.", "Finance share"),
    ],
    "Security": [
        ("Suspicious e-mail asking for my password", "I received a message that looks like phishing.", "Mailbox"),
        ("Certificate warning on the intranet", "The browser warns that the intranet certificate is invalid.",
         "intranet"),
    ],
    "Other": [
        ("Desk phone shows no dial tone", "My desk phone has no dial tone.", "Desk phone ext. 2231"),
    ],
}

# What fixed each problem: the resolution summaries the knowledge base suggests for similar tickets.
FIXES = {
    "Laptop does not power on": "Held the power button for 30 seconds with the charger off, then charged with "
    "a known-good 65 W adapter; the old adapter was faulty and was replaced.",
    "Monitor flickers on the docking station": "Replaced the DisplayPort cable and updated the dock firmware.",
    "Printer on floor 3 jams every page": "Cleaned the pickup roller of tray 2 and removed a torn sheet behind it.",
    "Outlook crashes when opening attachments": "Disabled the faulty PDF preview add-in and repaired Office.",
    "Licence expired for the CAD suite": "Renewed the seat in the licence portal and refreshed the licence on the "
    "workstation.",
    "Excel macros blocked": "Added the reports share to the trusted locations by group policy.",
    "VPN disconnects every ten minutes": "Updated the VPN client to 5.3 and turned off Wi-Fi power saving.",
    "Wi-Fi in meeting room B is very slow": "Moved the access point to a free 5 GHz channel.",
    "Cannot reach the file server": "Re-mapped the S: drive to the new file server name.",
    "Password reset does not arrive": "The reset mails were in quarantine; released them and allowed the sender.",
    "Need access to the finance share": "Added the user to the finance readers group after the owner approved.",
    "Suspicious e-mail asking for my password": "Confirmed phishing, purged it from all mailboxes, blocked the sender.",
    "Certificate warning on the intranet": "Renewed the intranet certificate and deployed the new chain.",
    "Desk phone shows no dial tone": "Re-seated the network cable; the phone registered again.",
}

# Each path is a list of steps applied in order, hours apart.
PATHS = [
    ["new"],
    ["take"],
    ["take", "diagnose"],
    ["take", "reply", "diagnose", "start"],
    ["take", "diagnose", "wait"],
    ["take", "diagnose", "wait", "customer_reply"],
    ["take", "quick_fix"],
    ["take", "quick_fix", "confirm"],
    ["take", "diagnose", "start", "resolve", "confirm"],
    ["take", "diagnose", "start", "resolve", "auto_close"],
    ["take", "diagnose", "escalate"],
    ["take", "diagnose", "escalate", "take", "start", "note"],
    ["take", "diagnose", "escalate", "take", "start", "resolve", "confirm"],
    ["take", "diagnose", "escalate", "take", "escalate"],
    ["take", "diagnose", "escalate", "take", "escalate", "take", "start", "resolve"],
    ["take", "diagnose", "start", "resolve", "reopen", "start", "resolve", "confirm"],
    ["take", "diagnose", "escalate", "de_escalate"],
    ["assign"],
]


class Command(BaseCommand):
    help = ("Create demo users (l1, l2, l3, manager; password 'demo'), categories and tickets. "
            "Refused when DEBUG is off.")

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=36, help="How many tickets to create (default 36).")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed, for repeatable data.")

    def handle(self, *args, tickets, seed, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo creates users with a known password; it refuses to run with DEBUG off.")
        if get_user_model().objects.filter(username="manager").exists() and Ticket.objects.exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        rng = random.Random(seed)  # noqa: S311 - repeatable demo data, not secrets  # nosec B311
        with transaction.atomic():
            staff = self._staff()
            categories = self._categories()
        now = timezone.now()
        for number in range(tickets):
            path = PATHS[number % len(PATHS)]
            start = now - timedelta(days=rng.uniform(0.2, 21), hours=rng.randint(0, 8))
            self._play(rng, path, start, staff, categories)
        # One urgent ticket opened now: P1 allows 30 minutes per tier around
        # the clock, so in a running app it visibly climbs L1 → L2 → L3.
        services.ticket_create(
            subject="VPN down for the whole sales office",
            description="Nobody in the sales office can connect to the VPN since 10 minutes ago.",
            requester_email="sales.lead@example.com",
            requester_name="Sales lead",
            priority=Priority.P1,
            category=categories["Network"],
            channel=Channel.PHONE,
        )
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {tickets + 1} tickets. Sign in as l1, l2, l3 or manager, password '{PASSWORD}'."
        ))

    def _staff(self):
        User = get_user_model()
        agents, managers = Group.objects.get(name=AGENTS_GROUP), Group.objects.get(name=MANAGERS_GROUP)
        tiers = {tier.code: tier for tier in Tier.objects.all()}
        staff = {}
        for username, first, last, group, tier_code in [
            ("l1", "Lena", "First", agents, "L1"),
            ("l2", "Liam", "Second", agents, "L2"),
            ("l3", "Lara", "Third", agents, "L3"),
            ("manager", "Max", "Manager", managers, None),
        ]:
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@tierdesk.example"},
            )
            user.set_password(PASSWORD)
            user.is_staff = group == managers
            user.save()
            user.groups.add(group)
            if tier_code:
                TierMembership.objects.get_or_create(user=user, tier=tiers[tier_code])
            staff[username] = user
        return staff

    def _categories(self):
        return {
            name: Category.objects.get_or_create(slug=slugify(name), defaults={"name": name})[0] for name in CATEGORIES
        }

    def _play(self, rng, path, start, staff, categories):
        category_name = rng.choice(list(PROBLEMS))
        subject, description, item = rng.choice(PROBLEMS[category_name])
        name, email = rng.choice(CUSTOMERS)
        clock = [start]

        def tick():
            clock[0] += timedelta(hours=rng.uniform(0.2, 6))
            return at(min(clock[0], timezone.now()))

        with at(start):
            ticket = services.ticket_create(
                subject=subject,
                description=description,
                requester_email=email,
                requester_name=name,
                priority=rng.choices(Priority.values, weights=[5, 15, 60, 20])[0],
                category=categories[category_name],
                channel=rng.choice([Channel.WEB, Channel.WEB, Channel.EMAIL, Channel.PHONE]),
            )
        customer = Actor.customer(ticket.requester)
        agent_for = {"L1": staff["l1"], "L2": staff["l2"], "L3": staff["l3"]}

        def agent():
            ticket.refresh_from_db()
            return Actor.of_user(agent_for[ticket.tier.code])

        for step in path:
            with tick():
                tid = ticket.pk
                if step == "take":
                    services.ticket_take(actor=agent(), ticket_id=tid)
                elif step == "assign":
                    services.ticket_assign(actor=Actor.of_user(staff["manager"]), ticket_id=tid, assignee=staff["l1"])
                elif step == "diagnose":
                    services.ticket_diagnose(
                        actor=agent(),
                        ticket_id=tid,
                        affected_item=item,
                        steps_before="The customer restarted the device and signed in again.",
                        findings="Reproduced the fault; the logs show the same error at every attempt.",
                    )
                elif step == "start":
                    services.ticket_start_resolving(actor=agent(), ticket_id=tid)
                elif step == "reply":
                    services.comment_add(actor=agent(), ticket_id=tid, body="Thanks, we are looking into it.")
                elif step == "note":
                    services.comment_add(
                        actor=agent(), ticket_id=tid, body="Checked the server logs; see findings.", internal=True
                    )
                elif step == "wait":
                    services.comment_add(actor=agent(), ticket_id=tid, body="Could you send a screenshot of the error?")
                    services.ticket_wait(actor=agent(), ticket_id=tid, reason="Screenshot requested")
                elif step == "customer_reply":
                    services.comment_add(actor=customer, ticket_id=tid, body="Here it is — the error says code 0x80.")
                elif step == "quick_fix":
                    services.ticket_resolve(
                        actor=agent(),
                        ticket_id=tid,
                        affected_item=item,
                        steps_before="Nothing unusual before the fault.",
                        findings="Known issue with a one-step fix.",
                        summary=FIXES[subject],
                    )
                elif step == "resolve":
                    services.ticket_resolve(actor=agent(), ticket_id=tid, summary=FIXES[subject])
                elif step == "confirm":
                    services.ticket_close(
                        actor=customer, ticket_id=tid, csat=rng.choice([5, 5, 4, 4, 3, 2]), comment="Works now, thanks."
                    )
                elif step == "auto_close":
                    services.ticket_close(actor=Actor.system(), ticket_id=tid)
                elif step == "escalate":
                    services.ticket_escalate(
                        actor=agent(), ticket_id=tid, reason="Needs access and knowledge beyond this tier."
                    )
                elif step == "de_escalate":
                    services.ticket_de_escalate(
                        actor=agent(), ticket_id=tid, reason="A first-line fix applies.", defect=True
                    )
                elif step == "reopen":
                    services.ticket_reopen(actor=customer, ticket_id=tid, reason="It failed again this morning.")
                elif step == "new":
                    pass
                else:
                    raise CommandError(f"Unknown step {step!r}")


@contextmanager
def at(moment):
    """Run the services as if it were `moment`, so demo histories spread over past days."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield
