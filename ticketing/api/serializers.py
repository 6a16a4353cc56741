"""Input validation and output shapes of the REST API."""

from datetime import UTC

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registration_worker.models import Booking, Ticket
from shared.enums import BookingStatus, RegistrationStatus
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

    class Meta:
        model = Event
        fields = [
            "id", "title", "slug", "description", "venue", "starts_at", "ends_at",
            "sales_start", "sales_end", "status", "registration_mode", "general_admission",
            "capacity", "max_seats_per_order", "hold_ttl_seconds", "price_categories",
            "requires_payment", "currency", "min_price", "max_price",
        ]  # fmt: skip

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
