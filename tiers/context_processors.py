"""Template context: the signed-in user's staff role (for navigation)."""
from tiers.roles import staff_role


def role(request):
    user = getattr(request, "user", None)
    return {"staff_role": staff_role(user) if user is not None else None}
