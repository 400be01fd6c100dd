"""/api/v1/me/: the calling staff member's own settings (for now: away from automatic assignment)."""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets.api.errors import error_responses
from tiers.models import StaffProfile
from tiers.views import set_away


class MeSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    away = serializers.BooleanField(help_text=_("Automatic assignment skips an agent who is away."))


class MeView(APIView):
    """Who the caller is and whether they are away; PATCH ``{"away": true}`` to step away, false to come back."""

    serializer_class = MeSerializer

    @extend_schema(summary="Me", responses={200: MeSerializer, **error_responses(401, 403, 429)}, tags=["me"])
    def get(self, request):
        away = StaffProfile.objects.filter(user=request.user).values_list("away", flat=True).first() or False
        return Response(MeSerializer({"username": request.user.get_username(), "away": away}).data)

    @extend_schema(summary="Step away or come back", request=MeSerializer,
                   responses={200: MeSerializer, **error_responses(400, 401, 403, 429)}, tags=["me"])
    def patch(self, request):
        incoming = MeSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        if "away" in incoming.validated_data:
            set_away(request.user, incoming.validated_data["away"])
        return self.get(request)
