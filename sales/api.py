"""The organizer API: their events and each event's sales figures (read model + Redis)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from sales import selectors
from sales.access import access_event_sales
from sales.serializers import EventSalesSerializer, OrganizerEventSerializer


class OrganizerEventListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["organizer"],
        summary="The caller's events (admins: every event) with headline sales figures",
        responses=OrganizerEventSerializer(many=True),
    )
    def get(self, request):
        events = selectors.organizer_events(request.user).order_by("starts_at")
        rows = [selectors.event_summary(event) for event in events]
        return Response(OrganizerEventSerializer(rows, many=True).data)


class OrganizerEventSalesView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["organizer"],
        summary="Sales figures of one of the caller's events",
        description=(
            "Sold, held (live from Redis), available and checked-in per event, section and "
            "price category; gross, refunds, commission and payout for the event and its "
            "venue; sales per hour. Another organizer's event is 404."
        ),
        responses={
            200: EventSalesSerializer,
            404: OpenApiResponse(description="No such event among the caller's events"),
        },
    )
    def get(self, request, event_id):
        event = access_event_sales(request.user, event_id)
        return Response(EventSalesSerializer(selectors.event_sales(event, request.user)).data)
