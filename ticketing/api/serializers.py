"""Input validation and output shapes of the REST API."""

from datetime import UTC

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registration_worker.models import Booking, Ticket
from shared.enums import BookingStatus, RegistrationStatus
from shared.local_time import format_local
from ticketing.catalog import ORDERINGS
from ticketing.models import Event

MAX_SEATS_IN_REQUEST = 100


class BestAvailableSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_SEATS_IN_REQUEST)
    category = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class HoldRequestSerializer(serializers.Serializer):
    seats = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=MAX_SEATS_IN_REQUEST,
    )
    quantity = serializers.IntegerField(required=False, min_value=1, max_value=MAX_SEATS_IN_REQUEST)
    best_available = BestAvailableSerializer(required=False)

    def validate(self, attrs):
        if sum(key in attrs for key in ("seats", "quantity", "best_available")) != 1:
            raise serializers.ValidationError(
                "Give exactly one of 'seats', 'quantity' or 'best_available'."
            )
        return attrs

    @staticmethod
    def parse_everyday(data) -> dict | None:
        """``{"seats": [ids]}`` or ``{"quantity": n}`` read without building the fields above
        (their deep copies were a third of a hold's CPU); None for any other body, which then
        goes through full validation. Accepts only what the fields accept: JSON integers in the
        same bounds."""
        if type(data) is not dict or len(data) != 1:
            return None
        seats = data.get("seats")
        if (
            type(seats) is list
            and 0 < len(seats) <= MAX_SEATS_IN_REQUEST
            and all(type(seat) is int and seat >= 1 for seat in seats)
        ):
            return {"seats": seats}
        quantity = data.get("quantity")
        if type(quantity) is int and 1 <= quantity <= MAX_SEATS_IN_REQUEST:
            return {"quantity": quantity}
        return None


class HoldSerializer(serializers.Serializer):
    id = serializers.CharField()
    event = serializers.IntegerField(source="event_id")
    seats = serializers.ListField(child=serializers.IntegerField())
    quantity = serializers.IntegerField()
    expires_at = serializers.DateTimeField()

    @staticmethod
    def represent(hold) -> dict:
        """What ``HoldSerializer(hold).data`` gives, built directly (the hot path's answer)."""
        return {
            "id": hold.id,
            "event": hold.event_id,
            "seats": list(hold.seats),
            "quantity": hold.quantity,
            # DateTimeField's ISO 8601 for an aware UTC time, without building the field.
            "expires_at": hold.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }


class MyHoldSerializer(HoldSerializer):
    extended = serializers.BooleanField(help_text="The one extension was used.")

    @staticmethod
    def represent(hold) -> dict:
        return {**HoldSerializer.represent(hold), "extended": hold.extended}


class RegistrationRequestSerializer(serializers.Serializer):
    hold = serializers.CharField(max_length=64)
    # Paid events: a token the buyer's client got from the payment provider (never card data).
    payment_token = serializers.CharField(max_length=100, required=False, allow_blank=True)


# Shapes of the method fields below, for the OpenAPI schema (the methods build plain dicts).
class VenueSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    city = serializers.CharField()
    address = serializers.CharField(allow_blank=True)
    time_zone = serializers.CharField()


class PriceCategorySummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    color = serializers.CharField()


class TicketSeatSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    section = serializers.CharField()
    row = serializers.CharField()
    number = serializers.CharField()


class BookingEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class EventSerializer(serializers.ModelSerializer):
    venue = serializers.SerializerMethodField()
    price_categories = serializers.SerializerMethodField()
    general_admission = serializers.BooleanField(source="is_general_admission")
    currency = serializers.SerializerMethodField()
    min_price = serializers.SerializerMethodField()
    max_price = serializers.SerializerMethodField()
    starts_local = serializers.SerializerMethodField(
        help_text="The start on the venue's clock, labelled: 'Sat 5 Dec 2026, 20:00 CET "
        "(Europe/Berlin)'."
    )

    class Meta:
        model = Event
        fields = [
            "id", "title", "slug", "description", "venue", "starts_at", "ends_at",
            "starts_local", "sales_start", "sales_end", "status", "registration_mode",
            "general_admission", "capacity", "max_seats_per_order", "hold_ttl_seconds",
            "price_categories", "requires_payment", "currency", "min_price", "max_price",
        ]  # fmt: skip

    def get_starts_local(self, event) -> str:
        return format_local(event.starts_at, event.venue.time_zone)

    # From the prefetched categories: no query of their own.
    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_currency(self, event):
        categories = event.price_categories.all()
        return categories[0].currency if categories else None

    @extend_schema_field(serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True))
    def get_min_price(self, event):
        prices = [c.price for c in event.price_categories.all()]
        return str(min(prices)) if prices else None

    @extend_schema_field(serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True))
    def get_max_price(self, event):
        prices = [c.price for c in event.price_categories.all()]
        return str(max(prices)) if prices else None

    @extend_schema_field(VenueSummarySerializer)
    def get_venue(self, event):
        venue = event.venue
        return {
            "name": venue.name,
            "city": venue.city,
            "address": venue.address,
            "time_zone": venue.time_zone,
        }

    @extend_schema_field(PriceCategorySummarySerializer(many=True))
    def get_price_categories(self, event):
        return [
            {"id": c.pk, "name": c.name, "price": str(c.price), "currency": c.currency,
             "color": c.color}
            for c in event.price_categories.all()
        ]  # fmt: skip


class TicketSerializer(serializers.ModelSerializer):
    seat = serializers.SerializerMethodField()
    category = serializers.CharField(source="price_category.name")

    class Meta:
        model = Ticket
        fields = ["id", "seat", "category", "price", "currency", "status", "code", "checked_in_at"]

    @extend_schema_field(TicketSeatSerializer(allow_null=True))
    def get_seat(self, ticket):
        seat = ticket.seat
        if seat is None:
            return None
        return {
            "id": seat.pk,
            "label": seat.label,
            "section": seat.section.name,
            "row": seat.row_label,
            "number": seat.number,
        }


class BookingSerializer(serializers.ModelSerializer):
    event = serializers.SerializerMethodField()
    tickets = TicketSerializer(many=True, read_only=True)

    class Meta:
        model = Booking
        fields = [
            "id", "reference", "event", "status", "failure_reason", "source", "tracking_id",
            "total", "currency", "created_at", "confirmed_at", "cancelled_at", "tickets",
        ]  # fmt: skip

    @extend_schema_field(BookingEventSerializer)
    def get_event(self, booking):
        return {"id": booking.event_id, "title": booking.event.title}


def registration_status(booking: Booking) -> str:
    if booking.status == BookingStatus.PENDING:
        if booking.processing_started_at:
            return RegistrationStatus.PROCESSING
        return RegistrationStatus.QUEUED
    if booking.status == BookingStatus.CONFIRMED:
        return RegistrationStatus.CONFIRMED
    if booking.status == BookingStatus.PENDING_PAYMENT:
        return RegistrationStatus.PENDING_PAYMENT
    if booking.status == BookingStatus.CANCELLED:
        return RegistrationStatus.CANCELLED
    return RegistrationStatus.FAILED


class RegistrationStatusSerializer(serializers.Serializer):
    tracking_id = serializers.UUIDField()
    status = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    booking = BookingSerializer(allow_null=True)

    @staticmethod
    def from_booking(booking: Booking) -> dict:
        status = registration_status(booking)
        show = status in (
            RegistrationStatus.CONFIRMED,
            RegistrationStatus.PENDING_PAYMENT,
            RegistrationStatus.CANCELLED,
        )
        return RegistrationStatusSerializer(
            {
                "tracking_id": booking.tracking_id,
                "status": status,
                "reason": booking.failure_reason,
                "booking": booking if show else None,
            }
        ).data


class CatalogEventSerializer(EventSerializer):
    """An event in the catalog: the event and what is left of it."""

    seats_left = serializers.IntegerField(
        help_text="Tickets not sold yet (seats on hold count as unsold: holds expire)."
    )
    url = serializers.SerializerMethodField(help_text="The event's page for buyers.")

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "seats_left", "url"]

    def get_url(self, event) -> str:
        request = self.context.get("request")
        path = f"/events/{event.pk}/"
        return request.build_absolute_uri(path) if request is not None else path


CATALOG_PAGE_SIZE = 20
CATALOG_MAX_PAGE_SIZE = 100


class CatalogQuerySerializer(serializers.Serializer):
    """The catalog's query parameters (the API's and the /events/ page's), all optional."""

    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Words to search for."
    )
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    date_from = serializers.DateField(
        required=False, allow_null=True, help_text="First day (venue-local), YYYY-MM-DD."
    )
    date_to = serializers.DateField(
        required=False, allow_null=True, help_text="Last day (venue-local), YYYY-MM-DD."
    )
    category = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="A price category's name."
    )
    price_min = serializers.DecimalField(
        required=False, allow_null=True, max_digits=10, decimal_places=2, min_value=0
    )
    price_max = serializers.DecimalField(
        required=False, allow_null=True, max_digits=10, decimal_places=2, min_value=0
    )
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$", required=False, allow_blank=True, help_text="ISO 4217, e.g. EUR."
    )
    available = serializers.BooleanField(
        required=False, help_text="true: only events with tickets left."
    )
    ordering = serializers.ChoiceField(choices=list(ORDERINGS), required=False, default="starts_at")
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=CATALOG_MAX_PAGE_SIZE
    )

    def to_internal_value(self, data):
        # Empty fields of a submitted GET form mean "no filter", not "invalid".
        if hasattr(data, "getlist"):
            data = {key: data.get(key) for key in data if data.get(key) not in ("", None)}
        return super().to_internal_value(data)

    def validate(self, attrs):
        errors = {}
        if (
            attrs.get("date_from")
            and attrs.get("date_to")
            and attrs["date_to"] < attrs["date_from"]
        ):
            errors["date_to"] = ["Must not be before date_from."]
        low, high = attrs.get("price_min"), attrs.get("price_max")
        if low is not None and high is not None and high < low:
            errors["price_max"] = ["Must not be below price_min."]
        if attrs.get("ordering") == "relevance" and not attrs.get("q"):
            errors["ordering"] = ["relevance needs a search text (q)."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def filters(self) -> dict:
        """The validated values as ``ticketing.catalog.catalog_events`` keywords."""
        return {
            key: value
            for key, value in self.validated_data.items()
            if key not in ("page", "page_size") and value is not None
        }
