"""REST endpoints: each view translates HTTP to a service or selector call and back."""

import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.services import refund_and_cancel_booking
from shared.access import EventAction
from shared.logs import current_trace_id
from ticketing.access import check_event_access_by_rules
from ticketing.api.errors import as_ticketing_error, ticketing_error_body
from ticketing.api.serializers import (
    CATALOG_MAX_PAGE_SIZE,
    CATALOG_PAGE_SIZE,
    BookingSerializer,
    CatalogEventSerializer,
    CatalogQuerySerializer,
    EventSerializer,
    HoldRequestSerializer,
    HoldSerializer,
    MyHoldSerializer,
    RegistrationRequestSerializer,
    RegistrationStatusSerializer,
)
from ticketing.api.throttles import RegistrationRateThrottle
from ticketing.auth.authentication import token_users
from ticketing.catalog import catalog_events
from ticketing.models import Event
from ticketing.selectors import (
    bookings_of,
    buyer_live_holds,
    general_admission_availability,
    seat_pricing,
    seat_statuses,
)
from ticketing.services.best_available import hold_best_available
from ticketing.services.holds import create_hold, extend_hold, release_hold
from ticketing.services.registrations import (
    Registration,
    check_registration_booked,
    register_hold,
)

PUBLIC_STATUSES = [Event.Status.ON_SALE, Event.Status.CLOSED, Event.Status.CANCELLED]


def json_response(body, http_status: int, headers=None) -> HttpResponse:
    """JSON without DRF's content negotiation and renderer: the hot path answers only JSON."""
    return HttpResponse(
        orjson.dumps(body), status=http_status, content_type="application/json", headers=headers
    )


class JSONOnly(DefaultContentNegotiation):
    """The hot path's negotiation: the API speaks JSON only, so skip parsing Accept."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _events():
    return (
        Event.objects.filter(status__in=PUBLIC_STATUSES)
        .select_related("venue")
        .prefetch_related("price_categories")
    )


class CatalogPagination(PageNumberPagination):
    page_size = CATALOG_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = CATALOG_MAX_PAGE_SIZE


class EventListView(ListAPIView):
    """The catalog: listed events, searched, filtered, ordered and paginated."""

    permission_classes = [AllowAny]
    serializer_class = CatalogEventSerializer
    pagination_class = CatalogPagination

    @extend_schema(parameters=[CatalogQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = CatalogQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return catalog_events(**query.filters())


class EventDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=EventSerializer)
    def get(self, request, event_id):
        return Response(EventSerializer(get_object_or_404(_events(), pk=event_id)).data)


class EventSeatsView(APIView):
    """Every seat with its category and live status: one Redis round trip, cached map."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiResponse(description="Seats and their status")})
    def get(self, request, event_id):
        rules = check_event_access_by_rules(request.user, event_id, EventAction.VIEW)
        pricing = seat_pricing(event_id)
        categories = [c.__dict__ for c in pricing.categories.values()]
        if rules.is_general_admission:
            return Response(
                {
                    "event": event_id,
                    "general_admission": True,
                    "categories": categories,
                    "availability": general_admission_availability(event_id),
                }
            )
        statuses = seat_statuses(event_id)
        held, sold = set(statuses["held"]), set(statuses["sold"])
        seats = [
            {
                **seat,
                "status": "sold"
                if seat["id"] in sold
                else "held"
                if seat["id"] in held
                else "available"
                if seat["category"] is not None
                else "unavailable",
            }
            for seat in pricing.seats
        ]
        return Response(
            {
                "event": event_id,
                "general_admission": False,
                "categories": categories,
                "seats": seats,
            }
        )


class HoldCreateView(APIView):
    permission_classes = [IsAuthenticated]
    content_negotiation_class = JSONOnly
    # Rate-limited inside the hold script (THROTTLE_HOLDS per buyer and event): no extra
    # Redis round trip.

    def dispatch(self, request, *args, **kwargs):
        answer = _everyday_hold(request, kwargs["event_id"])
        return answer if answer is not None else super().dispatch(request, *args, **kwargs)

    @extend_schema(
        request=HoldRequestSerializer,
        responses={
            201: HoldSerializer,
            409: OpenApiResponse(description="Seats taken, or no adjacent seats (best available)"),
        },
    )
    def post(self, request, event_id):
        body = HoldRequestSerializer.parse_everyday(request.data)
        if body is None:
            serializer = HoldRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            body = serializer.validated_data
        best = body.get("best_available")
        if best is not None:
            hold = hold_best_available(
                user_id=request.user.pk,
                event_id=event_id,
                quantity=best["quantity"],
                category=best.get("category"),
            )
        else:
            hold = create_hold(
                user_id=request.user.pk,
                event_id=event_id,
                seat_ids=body.get("seats"),
                quantity=body.get("quantity"),
            )
        return json_response(HoldSerializer.represent(hold), status.HTTP_201_CREATED)


def _everyday_hold(request, event_id: int) -> HttpResponse | None:
    """The flash sale's request, answered without DRF's request, authentication loop,
    permissions and rendering (half of a hold's CPU): a POST with a bearer token this process
    already validated (``token_users``) and an everyday body. Anything else returns None and
    takes the full DRF path, which gives the same answers (tests/ticketing/test_hot_path.py).
    """
    if request.method != "POST" or request.content_type != "application/json":
        return None
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    seen = token_users.get(token) if scheme == "Bearer" else None
    if seen is None:
        return None
    try:
        body = HoldRequestSerializer.parse_everyday(orjson.loads(request.body))
    except (orjson.JSONDecodeError, RequestDataTooBig):
        return None
    if body is None:
        return None
    user, _claims = seen
    try:
        hold = create_hold(
            user_id=user.pk,
            event_id=event_id,
            seat_ids=body.get("seats"),
            quantity=body.get("quantity"),
        )
    except Exception as exc:
        business = as_ticketing_error(exc)
        if business is None:
            raise
        error, headers = ticketing_error_body(business)
        return json_response(error, business.http_status, headers)
    return json_response(HoldSerializer.represent(hold), status.HTTP_201_CREATED)


class MyHoldsView(APIView):
    """The caller's live holds of an event, so a reloaded page can pick them up again."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MyHoldSerializer(many=True))
    def get(self, request, event_id):
        check_event_access_by_rules(request.user, event_id, EventAction.VIEW)
        holds = buyer_live_holds(user_id=request.user.pk, event_id=event_id)
        return json_response([MyHoldSerializer.represent(h) for h in holds], status.HTTP_200_OK)


class HoldExtendView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: MyHoldSerializer,
            404: OpenApiResponse(description="hold_not_found: not yours, or it ended"),
            422: OpenApiResponse(description="hold_already_extended"),
        },
    )
    def post(self, request, hold_id):
        hold = extend_hold(user_id=request.user.pk, hold_id=hold_id)
        return json_response(MyHoldSerializer.represent(hold), status.HTTP_200_OK)


class HoldDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request, hold_id):
        release_hold(user_id=request.user.pk, hold_id=hold_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _registration_response(request, registration: Registration) -> Response:
    booking = registration.booking
    if registration.tracked:
        url = reverse("registration-status", args=[booking.tracking_id])
        return Response(
            {
                "tracking_id": str(booking.tracking_id),
                "status_url": request.build_absolute_uri(url),
            },
            status=status.HTTP_202_ACCEPTED,
        )
    booking = bookings_of(buyer=request.user).get(pk=booking.pk)
    # A paid event's booking is 201 in ``pending_payment``: the payment is charged after.
    check_registration_booked(booking)
    return Response(BookingSerializer(booking).data, status=status.HTTP_201_CREATED)


class RegistrationCreateView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [RegistrationRateThrottle]

    @extend_schema(
        request=RegistrationRequestSerializer,
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)
        ],
        responses={
            201: OpenApiResponse(
                BookingSerializer,
                description="Simple flow: the booking, confirmed; for a paid event it is "
                "pending_payment until the payment worker charged the payment_token.",
            ),
            202: OpenApiResponse(description="Queued: tracking_id and status_url"),
            422: OpenApiResponse(description="payment_token_required for a paid event, ..."),
        },
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 100:
            raise ValidationError(
                {"Idempotency-Key": ["A header of 1 to 100 characters is required."]}
            )
        body = RegistrationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        registration = register_hold(
            user_id=request.user.pk,
            hold_id=body.validated_data["hold"],
            idempotency_key=key,
            trace_id=current_trace_id(),  # bound by ticketing.tracing.RequestIdMiddleware
            payment_token=body.validated_data.get("payment_token", ""),
        )
        return _registration_response(request, registration)


class RegistrationStatusView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=RegistrationStatusSerializer)
    def get(self, request, tracking_id):
        booking = get_object_or_404(bookings_of(buyer=request.user), tracking_id=tracking_id)
        return Response(RegistrationStatusSerializer.from_booking(booking))


class BookingListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=BookingSerializer(many=True))
    def get(self, request):
        return Response(BookingSerializer(bookings_of(buyer=request.user), many=True).data)


class BookingDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=BookingSerializer)
    def get(self, request, booking_id):
        return Response(
            BookingSerializer(
                get_object_or_404(bookings_of(buyer=request.user), pk=booking_id)
            ).data
        )


class BookingCancelView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: BookingSerializer,
            422: OpenApiResponse(
                description="not_cancellable, ticket_used, refund_deadline_passed"
            ),
            503: OpenApiResponse(description="The payment provider did not confirm the refund"),
        },
    )
    def post(self, request, booking_id):
        booking = get_object_or_404(bookings_of(buyer=request.user), pk=booking_id)
        refund_and_cancel_booking(
            booking_id=booking.pk
        )  # the buyer's rules: deadline, unused tickets
        return Response(BookingSerializer(bookings_of(buyer=request.user).get(pk=booking.pk)).data)
