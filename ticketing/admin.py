"""The organizer's back office. Organizers see and change only their own events."""

from django.contrib import admin, messages
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils import timezone

from payments.admin import BOOKING_INLINES, EventPayoutColumns
from registration_worker.models import Booking, Ticket
from seatmaps.models import Section
from shared.access import events_visible_to, is_platform_admin, owned_visible_to
from shared.exceptions import DependencyUnavailable
from shared.local_time import format_local, zone
from ticketing.admin_forms import EventAdminForm
from ticketing.auth.services import organizers_only
from ticketing.models import Event, PriceCategory
from ticketing.services import events as event_services
from ticketing.services.event_rules import publish_event_rules


def _own_events(request, queryset, path="organizer"):
    return events_visible_to(request.user, queryset, path)


class PriceCategoryFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        seat_map_id = self.instance.seat_map_id
        for form in self.forms:
            sections = (getattr(form, "cleaned_data", None) or {}).get("sections") or []
            foreign = [s.name for s in sections if s.seat_map_id != seat_map_id]
            if foreign:
                form.add_error(
                    "sections",
                    "Not sections of this event's seat map: " + ", ".join(foreign) + ".",
                )


class PriceCategoryInline(admin.TabularInline):
    """Price categories, and which sections of the event's seat map each one sells."""

    model = PriceCategory
    formset = PriceCategoryFormSet
    extra = 1
    filter_horizontal = ["sections"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "sections":
            # Only the sections of the event's map (all maps' sections while adding an event).
            sections = owned_visible_to(
                request.user, Section.objects.select_related("seat_map"), "seat_map__owner"
            )
            # Save a new seat map choice first; general admission events have no sections.
            object_id = request.resolver_match.kwargs.get("object_id")
            if object_id and str(object_id).isdigit():
                seat_map_id = (
                    Event.objects.filter(pk=object_id).values_list("seat_map_id", flat=True).first()
                )
                sections = sections.filter(seat_map_id=seat_map_id)
            kwargs["queryset"] = sections.order_by("seat_map", "position", "code")
            field = super().formfield_for_manytomany(db_field, request, **kwargs)
            field.label_from_instance = lambda s: f"{s.seat_map.name}: {s.name} ({s.code})"
            return field
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Event)
class EventAdmin(EventPayoutColumns, admin.ModelAdmin):
    form = EventAdminForm
    list_display = ["title", "venue", "starts_local", "status", "registration_mode", "organizer"]
    list_select_related = ["venue", "organizer"]
    list_filter = ["status", "registration_mode", "listed"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [PriceCategoryInline]
    actions = ["open_sales", "close_sales", "cancel_events"]

    def view_on_site(self, obj):
        return reverse("event-page", args=[obj.pk])

    @admin.display(description="Starts (venue time)", ordering="starts_at")
    def starts_local(self, obj):
        return format_local(obj.starts_at, obj.venue.time_zone)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Show and read an event's times in its venue's zone (see ticketing/admin_forms.py)."""
        zone_name = None
        if object_id and str(object_id).isdigit():
            events = Event.objects.filter(pk=object_id)
            zone_name = events.values_list("venue__time_zone", flat=True).first()
        with timezone.override(zone(zone_name) if zone_name else None):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()  # templates render lazily: do it while the zone is active
        return response

    def get_queryset(self, request):
        return _own_events(request, super().get_queryset(request))

    def get_exclude(self, request, obj=None):
        return [] if is_platform_admin(request.user) else ["organizer"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name in ("venue", "seat_map"):
            # Own and shared venues and maps only; another organizer's are not choices.
            field.queryset = owned_visible_to(request.user, field.queryset)
        if db_field.name == "organizer":  # buyers are no choice
            field.queryset = organizers_only(field.queryset)
        return field

    def save_model(self, request, obj, form, change):
        if not change and not is_platform_admin(request.user):
            obj.organizer = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        event = form.instance
        transaction.on_commit(lambda: publish_event_rules(event))

    @admin.action(description="Open sales")
    def open_sales(self, request, queryset):
        for event in queryset.exclude(status=Event.Status.CANCELLED):
            event_services.open_sales(event=event)
        self.message_user(request, "Sales opened.")

    @admin.action(description="Close sales")
    def close_sales(self, request, queryset):
        for event in queryset:
            event_services.close_sales(event=event)
        self.message_user(request, "Sales closed.")

    @admin.action(description="Cancel events (cancels their bookings)")
    def cancel_events(self, request, queryset):
        self.cancel_with_refunds(request, queryset)

    def cancel_with_refunds(self, request, queryset, reason: str = "") -> None:
        """Cancel each event and refund its bookings; says which could not be refunded yet."""
        total = 0
        for event in queryset:
            try:
                total += event_services.cancel_event(event=event, reason=reason)
            except DependencyUnavailable as exc:
                self.message_user(
                    request,
                    f"{event}: sales stopped, but not every booking could be refunded yet "
                    f"({exc.message}). Run the action again when the payment provider is back.",
                    messages.ERROR,
                )
        self.message_user(request, f"Cancelled; {total} bookings cancelled.", messages.WARNING)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TicketInline(admin.TabularInline):
    model = Ticket
    extra = 0
    fields = ["seat", "price_category", "price", "currency", "status", "checked_in_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "event",
        "buyer",
        "status",
        "source",
        "total",
        "currency",
        "created_at",
    ]
    list_filter = ["status", "source"]
    search_fields = ["reference", "buyer__email", "buyer__username"]
    list_select_related = ["event", "buyer"]
    inlines = [TicketInline, *BOOKING_INLINES]

    def get_queryset(self, request):
        return _own_events(request, super().get_queryset(request), "event__organizer")


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ["id", "booking", "event", "seat", "price_category", "price", "status"]
    list_filter = ["status"]
    search_fields = ["booking__reference", "booking__buyer__email", "code"]
    list_select_related = ["booking", "event", "seat", "price_category"]

    def get_queryset(self, request):
        return _own_events(request, super().get_queryset(request), "event__organizer")
