"""Server-rendered pages of the tickets app."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from tickets.selectors import open_counts_by_tier
from tickets.workflow import OPEN_STATUSES, Status
from tiers.models import Tier
from tiers.roles import staff_role, tier_ids_of


@login_required
def home(request):
    """The signed-in start page: who you are, where you work, and the open work per tier."""
    counts = {(row["tier__code"], row["status"]): row["n"] for row in open_counts_by_tier(user=request.user)}
    tiers = list(Tier.objects.all())
    my_tiers = tier_ids_of(request.user)
    rows = [
        {
            "tier": tier,
            "cells": [counts.get((tier.code, status), 0) for status in OPEN_STATUSES],
            "total": sum(counts.get((tier.code, status), 0) for status in OPEN_STATUSES),
            "mine": tier.pk in my_tiers,
        }
        for tier in tiers
    ]
    return render(
        request,
        "home.html",
        {
            "role": staff_role(request.user),
            "statuses": [Status(s) for s in OPEN_STATUSES],
            "rows": rows,
        },
    )
