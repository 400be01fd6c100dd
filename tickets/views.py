"""Pages of the tickets app outside the desk."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from tiers.roles import staff_role


@login_required
def home(request):
    """Staff go to their queues; anyone else sees that they have no support role yet."""
    if staff_role(request.user) is not None:
        return redirect("desk:queue")
    return render(request, "home.html")
