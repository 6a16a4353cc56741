"""Payments in the organizer's back office: saga steps on the booking, payouts on the event.

``ticketing/admin.py`` adds ``BOOKING_INLINES`` to its BookingAdmin and ``EventPayoutColumns``
to its EventAdmin; organizers see only their own events' payments.
"""

from django.contrib import admin

from payments.models import OrganizerCommission, Payment, PaymentAttempt
from payments.selectors import with_payouts
from shared.access import events_visible_to


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PaymentInline(_ReadOnlyInline):
    model = Payment
    fields = [
        "status", "amount", "currency", "commission", "organizer_share", "attempts",
        "provider", "provider_reference", "refund_reference", "deadline_at", "approved_at",
        "refunded_at",
    ]  # fmt: skip
    readonly_fields = fields


class PaymentAttemptInline(_ReadOnlyInline):
    """The saga's steps and their outcomes, oldest first."""

    model = PaymentAttempt
    fk_name = "booking"
    verbose_name = "payment step"
    verbose_name_plural = "payment saga"
    fields = ["created_at", "step", "outcome", "detail", "provider_reference", "duration_ms"]
    readonly_fields = fields


class PaymentStepInline(PaymentAttemptInline):
    fk_name = "payment"


BOOKING_INLINES = [PaymentInline, PaymentAttemptInline]


class EventPayoutColumns:
    """Gross, platform commission and organizer payout per event (approved payments)."""

    payout_columns = ["paid_gross", "paid_commission", "paid_payout"]

    def get_queryset(self, request):
        return with_payouts(super().get_queryset(request))

    def get_list_display(self, request):
        return [*super().get_list_display(request), *self.payout_columns]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self.payout_columns]

    @admin.display(description="Gross", ordering="paid_gross")
    def paid_gross(self, event):
        return getattr(event, "paid_gross", None)

    @admin.display(description="Commission", ordering="paid_commission")
    def paid_commission(self, event):
        return getattr(event, "paid_commission", None)

    @admin.display(description="Payout", ordering="paid_payout")
    def paid_payout(self, event):
        return getattr(event, "paid_payout", None)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "booking", "status", "amount", "commission", "organizer_share", "currency",
        "attempts", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "currency"]
    search_fields = ["booking__reference", "provider_reference", "idempotency_key"]
    list_select_related = ["booking"]
    inlines = [PaymentStepInline]

    def get_queryset(self, request):
        return events_visible_to(
            request.user, super().get_queryset(request), "booking__event__organizer"
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OrganizerCommission)
class OrganizerCommissionAdmin(admin.ModelAdmin):
    list_display = ["user", "percent", "fixed_fee"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
