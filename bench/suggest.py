"""Benchmark: suggestions for a ticket (earlier fixes and articles) on PostgreSQL with the standard workload.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tierdesk_bench_1m .venv/bin/python bench/suggest.py \\
        [--sample 20] [--seed 42] [--articles 2000] [--seed-tickets 1000000] [--jit server|on|off]

The database must hold the standard workload (`bench/seed.py`); with
`--seed-tickets N` an empty database is seeded first. The script migrates
and, if there are no articles yet, writes `--articles` of them (deterministic,
from the seeder's IT vocabulary, with tags and a first revision each;
PostgreSQL fills their search vector). It then draws `--sample` open
tickets with a fixed random generator and, after one warm-up on another open
ticket, measures each of them once, first (a) for all of them, then (b):

  (a) `search.similar_tickets(t, limit=5)` + `search.matching_articles(t.subject,
      public_only=False, limit=5, words=search.ticket_words(t))` — server time
      in this process and the SQL queries (there must be 2);
  (b) `GET /desk/kb/ticket/<pk>/suggestions/` through Django's test client as
      a signed-in L1 agent — middleware, queries, rendering.

It prints the median, p95 (nearest rank) and worst of each, the per-ticket
figures, and the EXPLAIN (ANALYZE, BUFFERS) of the slowest ticket's
similar-tickets query with a per-step summary of its UNION ALL cascade:
which steps ran, how many rows each step's index scan found and ranked, and
the time each took, followed by the same summary for every measured ticket.
`--jit off` (or `on`) sets PostgreSQL's JIT for the benchmark's connection,
to compare with the server's setting. Nothing in the database is changed
except the articles it adds once.
"""
import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
import warnings
from datetime import timedelta

import environment  # noqa: F401 — the project on the path and the bench settings, before Django starts

LIMIT = 5
# The suggestions panel links no static files; the desk's middleware only warns that none were collected.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
TARGET_MS = 150

# Article wording on top of the seeder's vocabulary (bench/seed.py).
TITLE_FORMS = ["{Item} {problem}", "{Item}: {problem}", "What to do when the {item} {problem}",
               "{Item} {problem} — fix", "Troubleshooting: {item} {problem}"]
EXTRA_TAGS = ["windows", "mac", "office", "remote", "onboarding", "known issue", "vendor", "hardware swap"]
CHECKS = ["Check that the {item} is connected and switched on.", "Sign out and sign in again.",
          "Restart the {item} and wait two minutes.", "Make sure the latest updates are installed.",
          "Check whether colleagues on the same floor see the same problem.",
          "Note the exact error message and take a screenshot."]
ESCALATE_IF = ["If it still fails, escalate to L2 with the logs attached.",
               "If several users are affected, open an incident for the {item}.",
               "If the {item} is out of warranty, order a replacement."]


def setup(seed_tickets: int | None) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tickets.models import Ticket

    if seed_tickets and not Ticket.objects.exists():
        from bench.seed import seed

        seed(seed_tickets)


# --- articles ---------------------------------------------------------------------


def create_articles(count: int, seed: int) -> int:
    """`count` articles from the seeder's vocabulary, each with tags and its first revision (bulk inserts)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.seed import CATEGORIES, CONTEXTS, FINDINGS, ITEMS, PROBLEMS, RESOLUTIONS, STEPS_BEFORE
    from knowledge import models as knowledge_models
    from knowledge.models import Article, Revision, Tag, Visibility
    from tickets.models import Category
    from tiers.roles import AGENTS_GROUP, MANAGERS_GROUP

    rng = random.Random(f"articles/{seed}")
    separator = getattr(knowledge_models, "TAG_SEPARATOR", " ")  # how `services.article_save` joins tag names
    categories = {category.slug: category for category in Category.objects.all()}
    slugs = [slug for _name, slug, _weight in CATEGORIES if slug in categories] or [None]
    weights = [weight for _name, slug, weight in CATEGORIES if slug in categories] or [1]
    writers = list(get_user_model().objects.filter(groups__name__in=(AGENTS_GROUP, MANAGERS_GROUP))
                   .order_by("pk").distinct().values_list("pk", flat=True))
    if not writers:
        sys.exit("No agent or manager to write the articles: seed the standard workload first.")
    now = timezone.now()
    articles, tag_lists = [], []
    for _ in range(count):
        slug = rng.choices(slugs, weights)[0]
        item = rng.choice(ITEMS[slug] if slug else [i for items in ITEMS.values() for i in items])
        problem = rng.choice(PROBLEMS)
        title = rng.choice(TITLE_FORMS).format(item=item, Item=item[0].upper() + item[1:], problem=problem)
        symptoms = f"The {item} {problem}. {rng.choice(CONTEXTS)} {rng.choice(STEPS_BEFORE)}"
        if rng.random() < 0.5:
            symptoms += f"\n\nTypical diagnosis: {rng.choice(FINDINGS)}"
        steps = [*rng.sample(CHECKS, 2), rng.choice(RESOLUTIONS), rng.choice(ESCALATE_IF)]
        solution = "\n".join(f"{number}. {step.format(item=item)}" for number, step in enumerate(steps, 1))
        tags = [item, slug or "general"] + ([rng.choice(EXTRA_TAGS)] if rng.random() < 0.5 else [])
        tags = list(dict.fromkeys(tags))
        created = now - timedelta(days=rng.uniform(1, 730))
        writer = rng.choice(writers)
        articles.append(Article(
            title=title[:200], problem=symptoms, solution=solution,
            category=categories.get(slug), tag_names=separator.join(tags),
            visibility=Visibility.PUBLIC if rng.random() < 0.4 else Visibility.INTERNAL,
            language=rng.choices(["", "en", "ru"], [70, 20, 10])[0],
            archived=rng.random() < 0.05,
            author_id=writer, updated_by_id=writer, created_at=created,
            updated_at=created + timedelta(days=rng.uniform(0, 60)), version=1,
        ))
        tag_lists.append(tags)
    with transaction.atomic():
        Article.objects.bulk_create(articles, batch_size=500)
        names = sorted({name for tags in tag_lists for name in tags})
        Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
        tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
        Through = Article.tags.through
        Through.objects.bulk_create(
            [Through(article_id=a.pk, tag_id=tag_ids[name]) for a, tags in zip(articles, tag_lists, strict=True)
             for name in tags],
            batch_size=2000)
        Revision.objects.bulk_create([
            Revision(article=a, version=1, title=a.title, problem=a.problem, solution=a.solution,
                     category_name=a.category.name if a.category else "", tag_names=a.tag_names,
                     visibility=a.visibility, language=a.language, archived=a.archived,
                     changed=["title", "problem", "solution", "category_name", "tag_names", "visibility",
                              "language", "archived"], editor_id=a.author_id, at=a.created_at)
            for a in articles
        ], batch_size=500)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE knowledge_article")
        cursor.execute("SELECT count(*) FROM knowledge_article WHERE search_vector IS NULL OR search_vector = ''")
        empty = cursor.fetchone()[0]
    if empty:
        sys.exit(f"{empty} articles have no search vector: is migration knowledge.0002 applied?")
    return len(articles)


# --- the database as the benchmark finds it ----------------------------------------


def check_database() -> dict:
    """The generated columns filled and the partial indexes present and valid, or exit."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*) FILTER (WHERE status IN ('resolved', 'closed')),
                   count(*) FILTER (WHERE status IN ('resolved', 'closed') AND resolution_summary <> ''),
                   count(*) FILTER (WHERE similar_vector IS NULL OR similar_vector = '')
            FROM tickets_ticket
        """)
        done, with_summary, empty = cursor.fetchone()
        cursor.execute("""
            SELECT c.relname, pg_relation_size(c.oid), x.indisvalid
            FROM pg_class c JOIN pg_index x ON x.indexrelid = c.oid
            WHERE c.relname IN ('ticket_similar_gin', 'ticket_subject_trgm', 'article_search_gin', 'article_title_trgm')
        """)
        indexes = {name: (size, valid) for name, size, valid in cursor.fetchall()}
        cursor.execute("SELECT current_setting('server_version'), current_setting('shared_buffers'), "
                       "current_setting('work_mem'), current_setting('jit')")
        server = cursor.fetchone()
    missing = [name for name in ("ticket_similar_gin", "ticket_subject_trgm", "article_search_gin",
                                 "article_title_trgm") if not indexes.get(name, (0, False))[1]]
    if empty or missing:
        sys.exit(f"not ready: {empty} tickets without similar_vector; missing or invalid indexes: {missing}")
    return {"done": done, "with_summary": with_summary, "indexes": indexes, "server": server}


def sample_tickets(count: int, seed: int) -> list[int]:
    """`count` + 1 open tickets drawn with a fixed generator: the first is the warm-up."""
    from tickets.models import Ticket
    from tickets.workflow import OPEN_STATUSES

    ids = list(Ticket.objects.filter(status__in=OPEN_STATUSES).order_by("pk").values_list("pk", flat=True))
    if len(ids) < count + 1:
        sys.exit(f"only {len(ids)} open tickets; need {count + 1}")
    return random.Random(f"suggest/{seed}").sample(ids, count + 1)


def agent_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tiers.roles import AGENTS_GROUP

    agent = (get_user_model().objects.filter(username="l1-01").first()
             or get_user_model().objects.filter(groups__name=AGENTS_GROUP).order_by("pk").first())
    if agent is None:
        sys.exit("No agent: seed the standard workload first.")
    client = Client()
    client.force_login(agent)
    return client, agent.username


# --- measuring ----------------------------------------------------------------------


def suggestions(ticket):
    from knowledge import search

    started = time.perf_counter()
    similar = search.similar_tickets(ticket, limit=LIMIT)
    middle = time.perf_counter()
    articles = search.matching_articles(ticket.subject, public_only=False, limit=LIMIT,
                                        words=search.ticket_words(ticket))
    ended = time.perf_counter()
    return similar, articles, (middle - started) * 1000, (ended - middle) * 1000


def p95(values: list[float]) -> float:
    """Nearest rank: with 20 values, the 19th smallest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "p95": p95(values), "max": max(values)}


def measure(pks: list[int]) -> tuple[list[dict], list[dict], str]:
    from django.db import DatabaseError, connection
    from django.test.utils import CaptureQueriesContext

    from knowledge import search
    from tickets.models import Ticket

    client, username = agent_client()
    warm_up, measured = pks[0], pks[1:]
    try:
        suggestions(Ticket.objects.get(pk=warm_up))
    except DatabaseError as exc:
        sys.exit(f"The suggestion queries fail on this database: {exc}\nIf a search migration was changed after the "
                 "database was seeded, `migrate` does not run it again: seed it anew (bench/seed.py --recreate).")
    response = client.get(f"/desk/kb/ticket/{warm_up}/suggestions/")
    assert response.status_code == 200, (response.status_code, response.content[:500])

    server = []
    for pk in measured:
        ticket = Ticket.objects.get(pk=pk)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            similar, articles, similar_ms, articles_ms = suggestions(ticket)
            total = (time.perf_counter() - started) * 1000
        server.append({
            "pk": pk, "status": ticket.status, "words": search.ticket_words(ticket), "ms": total,
            "similar_ms": similar_ms, "articles_ms": articles_ms, "queries": len(queries),
            "similar_sql": next((q["sql"] for q in queries.captured_queries if "similar_vector" in q["sql"]), ""),
            "tickets_found": len(similar), "articles_found": len(articles),
            "best": f"{similar[0].matched}/{similar[0].asked}" if similar else "-",
        })
    requests = []
    for pk in measured:
        url = f"/desk/kb/ticket/{pk}/suggestions/"
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            total = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (url, response.status_code)
        requests.append({"pk": pk, "ms": total, "queries": len(queries)})
    return server, requests, username


# --- the plan -----------------------------------------------------------------------


def explain(sql: str, *, text: bool = True) -> tuple[str, dict]:
    """The plan of `sql` as run: EXPLAIN (ANALYZE, BUFFERS) as text (optional) and as JSON (two executions)."""
    from django.db import connection

    plain = ""
    with connection.cursor() as cursor:
        if text:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plain = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return plain, plan[0]


def _walk(node):
    yield node
    for child in node.get("Plans", ()):
        yield from _walk(child)


def steps_of(plan: dict, words: list[str]) -> list[dict]:
    """Each branch of the UNION ALL: what it asked for, whether it ran, what its scan found, its time."""
    append = next((node for node in _walk(plan["Plan"]) if node["Node Type"] == "Append"), None)
    if append is None:
        return []
    names = [f"{size} of {len(words)} words" for size in range(len(words), 1, -1)]
    if len(append["Plans"]) == len(names) + 2:
        names.append("trigram subject")
    names.append("any 1 word (unranked)")
    # Each branch reads its rows from a MATERIALIZED CTE ("CTE stepN", an init plan of the query).
    ctes = {node["Subplan Name"][4:]: node for node in _walk(plan["Plan"])
            if node.get("Subplan Name", "").startswith("CTE ")}
    steps = []
    for name, branch in zip(names, append["Plans"], strict=True):
        nodes = list(_walk(branch))
        for cte_scan in [n for n in nodes if n["Node Type"] == "CTE Scan" and n.get("CTE Name") in ctes]:
            nodes.extend(_walk(ctes[cte_scan["CTE Name"]]))
        ran = branch.get("Actual Loops", 0) > 0
        if not ran:
            steps.append({"step": name, "ran": False})
            continue
        scan = next(n for n in nodes if n.get("Relation Name") in ("tickets_ticket", "knowledge_article"))
        index = [n for n in nodes if n["Node Type"] == "Bitmap Index Scan"]
        sort = next((n for n in nodes if n["Node Type"] == "Sort"), None)
        touched = [scan, *index]
        steps.append({
            "step": name,
            "ran": True,
            "scan": scan["Node Type"] + (f" ({index[0]['Index Name']})" if index else ""),
            "index_rows": sum(n.get("Actual Rows", 0) for n in index) if index else None,
            "found": scan.get("Actual Rows", 0) * scan.get("Actual Loops", 1),
            "removed": scan.get("Rows Removed by Index Recheck", 0) + scan.get("Rows Removed by Filter", 0),
            "blocks": (f"{scan.get('Exact Heap Blocks', 0):,}/{scan.get('Lossy Heap Blocks', 0):,}"
                       if scan["Node Type"] == "Bitmap Heap Scan" else ""),
            "sort": f"{sort.get('Sort Method', '')}" if sort else "",
            "rows_out": branch.get("Actual Rows", 0),
            "scan_ms": scan.get("Actual Total Time", 0.0),
            "ms": branch.get("Actual Total Time", 0.0),
            "hit": sum(n.get("Shared Hit Blocks", 0) for n in touched),
            "read": sum(n.get("Shared Read Blocks", 0) for n in touched),
        })
    return steps


# Problems the workload's vocabulary does not produce: rare words, one word, another language, nothing to find.
UNSEEN = [
    ("Printer toner smudges on invoices", "The toner leaves smudges on every invoice we print."),
    ("Zebra label printer offline", "Warehouse zebra printer shows offline since the firmware update."),
    ("Cannot open SAP", "SAP GUI fails with error 0x800 on launch."),
    ("VPN", "vpn"),
    ("Outlook calendar invitations vanish", "Meeting invitations disappear from my calendar after accepting."),
    ("Laptop fan loud", "Fan is very loud while idle, BIOS update pending."),
    ("Не работает принтер", "Принтер в бухгалтерии не печатает после обновления драйвера."),
    ("Wifi slow in building C", "Wireless speed drops to 1 Mbit in building C, third floor kitchen."),
    ("Teams microphone muted", "Colleagues cannot hear me in Teams although the microphone works elsewhere."),
    ("Monitor flickering docking", "The external monitor flickers when connected through the docking station."),
]


def measure_unseen() -> list[dict]:
    """(a) for problems typed by hand (unsaved tickets), each once after the sample's warm-up."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from knowledge import search
    from tickets.models import Ticket

    rows = []
    for subject, description in UNSEEN:
        ticket = Ticket(pk=0, subject=subject, description=description)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            found = search.similar_tickets(ticket, limit=LIMIT)
            articles = search.matching_articles(subject, public_only=False, limit=LIMIT,
                                                words=search.ticket_words(ticket))
            ms = (time.perf_counter() - started) * 1000
        best = found[0] if found else None
        rows.append({"subject": subject, "words": search.ticket_words(ticket), "ms": ms,
                     "queries": len(queries), "tickets_found": len(found), "articles_found": len(articles),
                     "best": f"{best.reference} ({best.matched}/{best.asked})" if best else "—"})
    return rows


# --- main ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=20, help="open tickets measured, one run each")
    parser.add_argument("--seed", type=int, default=42, help="draws the tickets and writes the articles")
    parser.add_argument("--articles", type=int, default=2000, help="articles written when there are none")
    parser.add_argument("--seed-tickets", type=int, default=None, help="seed an empty database first")
    parser.add_argument("--jit", choices=("server", "on", "off"), default="server",
                        help="PostgreSQL JIT for this session: as the server is configured (default), or forced")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database holding the standard workload.")
    setup(args.seed_tickets)

    from knowledge.models import Article
    from tickets.models import Ticket

    if not Article.objects.exists():
        started = time.perf_counter()
        made = create_articles(args.articles, args.seed)
        print(f"wrote {made:,} articles in {time.perf_counter() - started:.1f} s")
    state = check_database()
    articles = Article.objects.count()
    print(f"{Ticket.objects.count():,} tickets ({state['done']:,} resolved or closed, {state['with_summary']:,} with "
          f"a resolution summary), {articles:,} articles; {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, PostgreSQL {state['server'][0]} (shared_buffers {state['server'][1]},"
          f" work_mem {state['server'][2]}, jit {state['server'][3]})")
    sizes = sorted(state["indexes"].items())
    print("indexes: " + ", ".join(f"{name} {size / 2**20:.0f} MB" for name, (size, _valid) in sizes))

    if args.jit != "server":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"SET jit = {args.jit}")
        print(f"jit set to {args.jit} for this session")
    pks = sample_tickets(args.sample, args.seed)
    server, requests, username = measure(pks)
    if args.jit != "server":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            assert cursor.fetchone()[0] == args.jit, "the connection was replaced during the measurements"

    print(f"\n{len(server)} open tickets (seed {args.seed}), one run each after one warm-up; limit {LIMIT}; "
          f"desk requests as {username}\n")
    print("| ticket | status | key words | (a) ms | similar ms | articles ms | queries | found t/a | best "
          "| (b) ms | (b) queries |")
    print("|---|---|---|---:|---:|---:|---:|---|---|---:|---:|")
    for row, request in zip(server, requests, strict=True):
        print(f"| {row['pk']} | {row['status']} | {' '.join(row['words'])} | {row['ms']:.0f} | {row['similar_ms']:.0f} "
              f"| {row['articles_ms']:.0f} | {row['queries']} | {row['tickets_found']}/{row['articles_found']} "
              f"| {row['best']} | {request['ms']:.0f} | {request['queries']} |")

    unseen = measure_unseen()
    print("\n(c) problems worded unlike the workload (no earlier ticket shares most of their words):\n")
    print("| subject | key words | ms | queries | found t/a | best |")
    print("|---|---|---:|---:|---|---|")
    for row in unseen:
        print(f"| {row['subject']} | {' '.join(row['words'])} | {row['ms']:.0f} | {row['queries']} "
              f"| {row['tickets_found']}/{row['articles_found']} | {row['best']} |")

    figures = {
        "(a) similar_tickets + matching_articles": summary([r["ms"] for r in server]),
        "    of which similar_tickets": summary([r["similar_ms"] for r in server]),
        "    of which matching_articles": summary([r["articles_ms"] for r in server]),
        "(b) GET /desk/kb/ticket/<pk>/suggestions/": summary([r["ms"] for r in requests]),
        "(c) unseen problems, similar_tickets + matching_articles": summary([r["ms"] for r in unseen]),
    }
    queries = {
        "(a) similar_tickets + matching_articles": sorted({r["queries"] for r in server}),
        "(b) GET /desk/kb/ticket/<pk>/suggestions/": sorted({r["queries"] for r in requests}),
    }
    print("\n| measurement | median ms | p95 ms | max ms | SQL queries |")
    print("|---|---:|---:|---:|---:|")
    for name, values in figures.items():
        counted = "/".join(str(q) for q in queries.get(name, [])) if name in queries else ""
        print(f"| {name} | {values['median']:.0f} | {values['p95']:.0f} | {values['max']:.0f} | {counted} |")
    bad_counts = [r["pk"] for r in server if r["queries"] != 2]
    median = figures["(a) similar_tickets + matching_articles"]["median"]
    desk = figures["(b) GET /desk/kb/ticket/<pk>/suggestions/"]["median"]
    print(f"\ntarget: median under {TARGET_MS} ms — {'met' if median < TARGET_MS else 'NOT met'} "
          f"((a) median {median:.0f} ms, (b) median {desk:.0f} ms)")
    if bad_counts:
        print(f"QUERY COUNT: tickets {bad_counts} did not take exactly 2 queries")

    slowest = max(server, key=lambda r: r["similar_ms"])
    print(f"\nslowest similar-tickets query: ticket {slowest['pk']} ({slowest['similar_ms']:.0f} ms), "
          f"key words: {' '.join(slowest['words'])}\n")
    text, plan = explain(slowest["similar_sql"])
    print("```sql\n" + slowest["similar_sql"] + "\n```\n")
    print("```\n" + text + "\n```\n")
    steps = steps_of(plan, slowest["words"])
    if steps:
        print("| step | ran | scan | index rows | rows found (ranked) | removed by recheck/filter "
              "| heap blocks exact/lossy | sort | rows out | scan ms | step ms | buffers hit/read |")
        print("|---|---|---|---:|---:|---:|---|---|---:|---:|---:|---|")
        for s in steps:
            if not s["ran"]:
                print(f"| {s['step']} | never executed | | | | | | | | | | |")
                continue
            index_rows = "" if s["index_rows"] is None else f"{s['index_rows']:,}"
            print(f"| {s['step']} | yes | {s['scan']} | {index_rows} | {s['found']:,} | {s['removed']:,} "
                  f"| {s['blocks']} | {s['sort']} | {s['rows_out']} | {s['scan_ms']:.1f} | {s['ms']:.1f} "
                  f"| {s['hit']:,}/{s['read']:,} |")
    print(f"\nexecution {plan.get('Execution Time', 0):.1f} ms (JIT {jit_ms(plan):.1f} ms), "
          f"planning {plan.get('Planning Time', 0):.1f} ms")

    # Every measured ticket's cascade, re-run under EXPLAIN ANALYZE: which steps ran and how many rows each ranked.
    print("\nthe cascade per ticket (EXPLAIN ANALYZE, after the measurements):\n")
    print("| ticket | key words | rows found by each step that ran (most words first) | rows out | "
          "slowest step | its ms | execution ms | of which JIT ms |")
    print("|---|---:|---|---|---|---:|---:|---:|")
    for row in server:
        _text, plan = explain(row["similar_sql"], text=False)
        ran = [step for step in steps_of(plan, row["words"]) if step["ran"]]
        worst = max(ran, key=lambda step: step["ms"])
        ranked = " → ".join(f"{step['found']:,}" for step in ran)
        out = " + ".join(str(step["rows_out"]) for step in ran)
        print(f"| {row['pk']} | {len(row['words'])} | {ranked} | {out} | {worst['step']} | {worst['ms']:.0f} "
              f"| {plan.get('Execution Time', 0):.0f} | {jit_ms(plan):.0f} |")


def jit_ms(plan: dict) -> float:
    return plan.get("JIT", {}).get("Timing", {}).get("Total", 0.0)


if __name__ == "__main__":
    main()
