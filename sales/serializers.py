"""Shapes of the organizer API's answers (for the OpenAPI schema and the JSON output)."""

from rest_framework import serializers


class VenueRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    city = serializers.CharField()


class RevenueSerializer(serializers.Serializer):
    currency = serializers.CharField()
    gross = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Value of every booking ever confirmed."
    )
    refunds = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Value of confirmed bookings cancelled since."
    )
    net = serializers.DecimalField(max_digits=14, decimal_places=2)
    commission = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="The platform's share of paid bookings."
    )
    payout = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="What the organizer receives: net - commission."
    )


class OrganizerEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField()
    starts_at = serializers.DateTimeField()
    venue = VenueRefSerializer()
    tickets_sold = serializers.IntegerField()
    revenue = RevenueSerializer()


class CountsSerializer(serializers.Serializer):
    capacity = serializers.IntegerField(allow_null=True)
    sold = serializers.IntegerField(help_text="Tickets of confirmed bookings.")
    held = serializers.IntegerField(help_text="Held in Redis right now (not yet registered).")
    available = serializers.IntegerField(required=False, help_text="Neither held nor sold.")
    awaiting_payment = serializers.IntegerField(required=False)
    checked_in = serializers.IntegerField()


class TotalsSerializer(CountsSerializer):
    bookings_confirmed = serializers.IntegerField()
    bookings_cancelled = serializers.IntegerField()
    bookings_failed = serializers.IntegerField()
    payments_declined = serializers.IntegerField()


class SectionSalesSerializer(CountsSerializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class CategorySalesSerializer(CountsSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    color = serializers.CharField()
    value = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Value of the sold tickets."
    )


class HourSerializer(serializers.Serializer):
    hour = serializers.DateTimeField(help_text="Start of the hour (UTC).")
    tickets_sold = serializers.IntegerField()
    tickets_cancelled = serializers.IntegerField()
    gross = serializers.DecimalField(max_digits=14, decimal_places=2)
    refunds = serializers.DecimalField(max_digits=14, decimal_places=2)


class VenueRevenueSerializer(serializers.Serializer):
    venue_id = serializers.IntegerField()
    events = serializers.IntegerField(help_text="Events of yours at this venue with sales.")
    gross = serializers.DecimalField(max_digits=14, decimal_places=2)
    refunds = serializers.DecimalField(max_digits=14, decimal_places=2)
    commission = serializers.DecimalField(max_digits=14, decimal_places=2)
    payout = serializers.DecimalField(max_digits=14, decimal_places=2)


class EventSalesSerializer(serializers.Serializer):
    event = OrganizerEventSerializer()
    totals = TotalsSerializer()
    revenue = RevenueSerializer()
    venue_revenue = VenueRevenueSerializer()
    sections = SectionSalesSerializer(many=True)
    categories = CategorySalesSerializer(many=True)
    hourly = HourSerializer(many=True)
