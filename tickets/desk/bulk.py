"""Bulk actions from a desk queue: the form's POST, and what the queue page shows afterwards.

The POST runs `tickets.bulk` and redirects back to the queue it came from
(post/redirect/get: reloading the page never applies the action twice). The
results and the selection wait in the session for that one page view, like
messages do.
"""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from tickets import tags
from tickets.bulk import BulkAction, Result, bulk_run, clean_data, clean_ids
from tickets.policy import Actor
from tiers.roles import staff_role

SESSION_KEY = "desk-bulk"


def _form_data(action: str, post) -> dict:
    """The bulk form's fields for `action`, shaped as the API's `data`."""
    if action == BulkAction.ASSIGN:
        return {"assignee": post.get("assignee", "")}
    if action == BulkAction.TAG:
        return {"add": tags.split(post.get("tags", ""))}
    if action == BulkAction.PRIORITY:
        return {"priority": post.get("priority", "")}
    if action == BulkAction.ESCALATE:
        return {"reason": post.get("reason", "")}
    return {}


def _back(request) -> str:
    """The queue the form was sent from (its filters and page included); the default queue otherwise."""
    target = request.POST.get("next", "")
    queue = reverse("desk:queue")
    if target.startswith(queue) and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return queue


def _versions(post, ids) -> dict[int, int]:
    """The version each selected row showed (`version-<id>`), so a ticket changed since is refused as stale."""
    versions = {}
    for pk in ids:
        text = post.get(f"version-{pk}", "")
        if text.isdigit():
            versions[pk] = int(text)
    return versions


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


@login_required
@require_POST
def bulk(request):
    """Apply one action to the tickets ticked in a queue, each through its service; then back to the queue."""
    # The desk's rule (`staff_required`, which this module cannot import: the queue view imports it).
    if staff_role(request.user) is None:
        raise PermissionDenied
    back = _back(request)
    raw_ids = request.POST.getlist("ids")
    action = request.POST.get("action", "")
    try:
        ids = clean_ids(raw_ids)
        data = clean_data(action, _form_data(action, request.POST))
    except ValidationError as exc:
        messages.error(request, _first_message(exc.detail))
        kept = [int(pk) for pk in raw_ids if pk.isdigit()]
        request.session[SESSION_KEY] = {"action": action, "selected": kept, "results": []}
        return redirect(back)
    results = bulk_run(actor=Actor.of_user(request.user), ids=ids, action=action, data=data,
                       versions=_versions(request.POST, ids))
    request.session[SESSION_KEY] = {"action": action, "selected": ids, "results": [r.as_json() for r in results]}
    return redirect(back)


def bulk_context(request) -> dict:
    """What the queue page needs for its bulk form: the actions, and the last bulk run's results and selection
    (shown once). The rows' own refresh (`?partial=1`) leaves them for the page."""
    stored = {} if request.GET.get("partial") else (request.session.pop(SESSION_KEY, None) or {})
    results = [
        Result(item["id"], item["ok"], version=item.get("version"),
               code=item.get("error", {}).get("code", ""), detail=item.get("error", {}).get("detail", ""))
        for item in stored.get("results", [])
    ]
    return {
        "bulk": {
            "actions": BulkAction.choices,
            "action": stored.get("action", ""),
            "selected": set(stored.get("selected", [])),
            "results": results,
            "done": sum(1 for r in results if r.ok),
            "refused": sum(1 for r in results if not r.ok),
        }
    }
