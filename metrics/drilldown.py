"""The tickets behind a dashboard number: `/dashboard/tickets/?metric=…` with the dashboard's filters.

Each list is built from the same querysets (`metrics.facts`) the number was
counted from, and marks for every ticket whether and how it counted, so a
manager can check a rate's numerator and denominator ticket by ticket.
"""
import csv
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Q
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from knowledge.models import SuggestionUse
from metrics.dashboard import Filters, csv_value, human_duration, manager_required, parse_filters, show
from metrics.facts import (
    Scope,
    at_tier_tickets,
    created_tickets,
    defect_events,
    in_ranges,
    rated_tickets,
    reopen_events,
    resolved_tickets,
)
from metrics.rollups import midnight
from tiers.models import Tier

PAGE_SIZE = 50


@dataclass(frozen=True)
class Drill:
    title: str
    explanation: str
    source: str  # created | resolved | rated | repeats | defects | at_tier
    order: str  # the moment the list is sorted by, newest first
    counted: str = ""  # a boolean annotation: the ticket counts towards the rate's numerator
    counted_label: str = ""
    value: str = ""  # ttr | response | rating | repeat: an extra column


DRILLS = {
    "created": Drill(gettext_lazy("Tickets created"), gettext_lazy("Every ticket created in the period."),
                     "created", "created_at"),
    "resolution_rate": Drill(
        gettext_lazy("Resolution rate"),
        gettext_lazy("Tickets created in the period; those now resolved or closed count as resolved."),
        "created", "created_at", counted="is_done", counted_label=gettext_lazy("Resolved or closed")),
    "time_to_resolve": Drill(
        gettext_lazy("Time to resolve"),
        gettext_lazy("Tickets now resolved or closed whose last resolution falls in the period, with the time "
                     "from creation to that resolution."),
        "resolved", "resolved_at", value="ttr"),
    "first_response": Drill(
        gettext_lazy("First response"),
        gettext_lazy("Tickets created in the period that have had a first response, with how long it took."),
        "responded", "created_at", value="response"),
    "repeat_contacts": Drill(
        gettext_lazy("Repeat contacts"),
        gettext_lazy("Tickets created in the period as a repeat of an earlier one, and tickets reopened in the "
                     "period (each reopen counts once)."),
        "repeats", "created_at", value="repeat"),
    "flr_rate": Drill(
        gettext_lazy("First-level resolution"),
        gettext_lazy("Tickets resolved in the period; those resolved at the first tier and never escalated count."),
        "resolved", "resolved_at", counted="is_flr", counted_label=gettext_lazy("First level")),
    "fcr_rate": Drill(
        gettext_lazy("First-contact resolution"),
        gettext_lazy("Tickets resolved in the period; those resolved at the first tier with no escalation, no "
                     "waiting, no reopen and no customer reply before the resolution count."),
        "resolved", "resolved_at", counted="is_fcr", counted_label=gettext_lazy("First contact")),
    "escalation_rate": Drill(
        gettext_lazy("Escalation rate"),
        gettext_lazy("Tickets created in the period; those escalated at least once count."),
        "created", "created_at", counted="was_escalated", counted_label=gettext_lazy("Escalated")),
    "tier_escalation": Drill(
        gettext_lazy("Escalation rate of a tier"),
        gettext_lazy("Tickets created in the period that were ever at the tier; those escalated out of it count."),
        "at_tier", "created_at", counted="left_tier", counted_label=gettext_lazy("Escalated out of the tier")),
    "escalation_defects": Drill(
        gettext_lazy("Escalation defects"),
        gettext_lazy("Tickets de-escalated in the period with the escalation marked as a defect."),
        "defects", "created_at"),
    "sla_resolution": Drill(
        gettext_lazy("SLA compliance (resolution)"),
        gettext_lazy("Tickets resolved in the period that had a resolution deadline; those resolved by it count."),
        "resolved_due", "resolved_at", counted="resolved_in_time", counted_label=gettext_lazy("In time"),
        value="ttr"),
    "sla_response": Drill(
        gettext_lazy("SLA compliance (first response)"),
        gettext_lazy("Tickets created in the period with a first response and a response deadline; those "
                     "answered by it count."),
        "responded_due", "created_at", counted="answered_in_time", counted_label=gettext_lazy("In time"),
        value="response"),
    "suggestions_used": Drill(
        gettext_lazy("Suggestions used"),
        gettext_lazy("Tickets on which an agent linked or pasted an earlier fix or an article in the period."),
        "suggested", "created_at"),
    "articles_per_resolution": Drill(
        gettext_lazy("Articles used per resolution"),
        gettext_lazy("Tickets resolved in the period; those on which an article was used are marked."),
        "resolved_knowledge", "resolved_at", counted="used_article", counted_label=gettext_lazy("Used an article")),
    "ttr_with_suggestion": Drill(
        gettext_lazy("Time to resolve with a suggestion"),
        gettext_lazy("Tickets resolved in the period on which a suggestion was used, with their time to resolve."),
        "resolved_with_suggestion", "resolved_at", value="ttr"),
    "ttr_without_suggestion": Drill(
        gettext_lazy("Time to resolve without a suggestion"),
        gettext_lazy("Tickets resolved in the period on which no suggestion was used, with their time to "
                     "resolve."),
        "resolved_without_suggestion", "resolved_at", value="ttr"),
    "csat": Drill(
        gettext_lazy("Customer satisfaction"),
        gettext_lazy("Tickets closed in the period with a rating; ratings of 4 or 5 count as satisfied."),
        "rated", "closed_at", counted="satisfied", counted_label=gettext_lazy("Satisfied"), value="rating"),
}


def _bucket(params, filters: Filters):
    """The [start, end) of the list: the period, narrowed to one day or week of the trend when asked."""
    raw = (params.get("day") or "").strip()
    if not raw:
        return filters.start, filters.end
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise Http404 from None
    length = timedelta(days=7 if params.get("step") == "week" else 1)
    return max(filters.start, midnight(day)), min(filters.end, midnight(day + length))


def tickets_behind(metric: str, scope: Scope, start, end, *, at_tier=None):
    drill = DRILLS[metric]
    ranges = [(start, end)] if start < end else []
    source = drill.source
    if source == "created":
        tickets = created_tickets(scope, ranges)
    elif source == "responded":
        tickets = created_tickets(scope, ranges).filter(first_response_at__isnull=False)
    elif source == "responded_due":
        tickets = created_tickets(scope, ranges).filter(first_response_at__isnull=False,
                                                         response_due_at__isnull=False)
    elif source == "resolved":
        tickets = resolved_tickets(scope, ranges)
    elif source == "resolved_due":
        tickets = resolved_tickets(scope, ranges).filter(resolution_due_at__isnull=False)
    elif source == "rated":
        tickets = rated_tickets(scope, ranges)
    elif source == "at_tier":
        if at_tier is None:
            raise Http404
        tickets = at_tier_tickets(scope, ranges, at_tier)
    elif source == "repeats":
        repeated = created_tickets(scope, ranges).filter(repeat_of__isnull=False).values("pk")
        reopened = reopen_events(scope, ranges).values("ticket_id")
        tickets = scope.tickets().filter(Q(pk__in=repeated) | Q(pk__in=reopened))
    elif source == "suggested":
        uses = SuggestionUse.objects.filter(in_ranges("at", ranges))
        tickets = scope.tickets().filter(pk__in=uses.values("ticket_id"))
    elif source.startswith("resolved_"):
        tickets = resolved_tickets(scope, ranges).annotate(
            used_suggestion=Exists(SuggestionUse.objects.filter(ticket=OuterRef("pk"))),
            used_article=Exists(SuggestionUse.objects.filter(ticket=OuterRef("pk"), article__isnull=False)),
        )
        if source != "resolved_knowledge":
            tickets = tickets.filter(used_suggestion=source == "resolved_with_suggestion")
    else:  # defects
        tickets = scope.tickets().filter(pk__in=defect_events(scope, ranges).values("ticket_id"))
    return tickets.select_related("tier", "category", "assignee", "repeat_of").order_by(f"-{drill.order}", "-id")


def _value(drill: Drill, ticket, reopens: dict, start, end) -> str:
    if drill.value == "ttr":
        return human_duration((ticket.resolved_at - ticket.created_at).total_seconds())
    if drill.value == "response":
        return human_duration((ticket.first_response_at - ticket.created_at).total_seconds())
    if drill.value == "rating":
        return str(ticket.csat_rating)
    if drill.value == "repeat":
        parts = []
        if ticket.repeat_of_id and start <= ticket.created_at < end:
            parts.append(_("repeat of %(reference)s") % {"reference": ticket.repeat_of.reference})
        if reopens.get(ticket.pk):
            parts.append(_("reopened %(count)d× in the period") % {"count": reopens[ticket.pk]})
        return "; ".join(parts)
    return ""


def _reopens(drill: Drill, scope: Scope, start, end, ids) -> dict:
    if drill.value != "repeat" or not ids:
        return {}
    counts: dict = {}
    for ticket_id in reopen_events(scope, [(start, end)]).filter(ticket_id__in=ids).values_list("ticket_id",
                                                                                                 flat=True):
        counts[ticket_id] = counts.get(ticket_id, 0) + 1
    return counts


@manager_required
@require_GET
def tickets(request):
    metric = request.GET.get("metric", "")
    if metric not in DRILLS:
        raise Http404
    drill = DRILLS[metric]
    filters = parse_filters(request.GET)
    start, end = _bucket(request.GET, filters)
    at_tier = None
    if drill.source == "at_tier":
        at_tier = Tier.objects.filter(code=(request.GET.get("at_tier") or "")[:20]).first()
    scope = Scope(**filters.selector_filters())
    found = tickets_behind(metric, scope, start, end, at_tier=at_tier)
    if request.GET.get("format") == "csv":
        return _csv(drill, found, scope, start, end, metric, filters)
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
    offset = (page - 1) * PAGE_SIZE
    rows = list(found[offset:offset + PAGE_SIZE + 1])
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    reopens = _reopens(drill, scope, start, end, [t.pk for t in rows])
    query = request.GET.copy()
    query.pop("page", None)
    total = found.count()
    counted = found.filter(**{drill.counted: True}).count() if drill.counted else None
    context = {
        "drill": drill,
        "metric": metric,
        "filters": filters,
        "start": timezone.localtime(start),
        "end": timezone.localtime(end),
        "at_tier": at_tier,
        "total": total,
        "counted": counted,
        "share": show("rate", counted / total) if counted is not None and total else None,
        "rows": [
            {"ticket": t, "counted": getattr(t, drill.counted) if drill.counted else None,
             "value": _value(drill, t, reopens, start, end)}
            for t in rows
        ],
        "page": page,
        "has_next": has_next,
        "query_without_page": query.urlencode(),
        "dashboard_url": f"{reverse('dashboard:index')}?{urlencode(filters.params())}",
        "csv_url": f"{request.path}?{urlencode({**request.GET.dict(), 'format': 'csv'})}",
    }
    return render(request, "dashboard/tickets.html", context)


class _Echo:
    def write(self, value):
        return value


def _csv(drill: Drill, found, scope: Scope, start, end, metric: str, filters: Filters):
    """Every ticket of the list, streamed."""
    header = ["reference", "subject", "status", "tier", "category", "assignee", "created_at", "resolved_at",
              "closed_at"]
    if drill.counted:
        header.append(drill.counted)
    if drill.value:
        header.append(drill.value)

    def lines():
        writer = csv.writer(_Echo())
        yield writer.writerow(header)
        for chunk in _chunks(found.iterator(chunk_size=2000), 2000):
            reopens = _reopens(drill, scope, start, end, [t.pk for t in chunk])
            for t in chunk:
                row = [t.reference, t.subject, t.status, t.tier.code, t.category.slug if t.category else "",
                       t.assignee.get_username() if t.assignee else "", t.created_at, t.resolved_at, t.closed_at]
                if drill.counted:
                    row.append(bool(getattr(t, drill.counted)))
                if drill.value:
                    row.append(_value(drill, t, reopens, start, end))
                yield writer.writerow([csv_value(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    name = f"tierdesk-{metric}-{filters.date_from:%Y%m%d}-{filters.date_to:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _chunks(iterable, size: int):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

