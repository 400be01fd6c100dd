"""Who may use the API at all: staff (agents and managers). What they may do to a ticket is `tickets.policy`."""
from rest_framework.permissions import BasePermission

from tiers.roles import Role, staff_role


class IsStaff(BasePermission):
    message = "Only agents and managers can use the API."

    def has_permission(self, request, view):
        return staff_role(request.user) is not None


class IsManager(BasePermission):
    message = "Only managers can do this."

    def has_permission(self, request, view):
        return staff_role(request.user) == Role.MANAGER
