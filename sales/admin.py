"""The organizer's sales in the admin: a live dashboard per event, a confirmed "Cancel events",
and an event filter with per-category totals on the bookings list.

The event and booking admins of ``ticketing`` are extended here (and registered again) because
the sales app sits above ticketing: ticketing never imports it.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from registration_worker.models import Booking
from sales import charts, selectors
from sales.access import access_event_sales
from shared.exceptions import NotFound
from ticketing.admin import BookingAdmin, EventAdmin
from ticketing.models import Event


class CancelEventsForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Sent to every buyer in the cancellation email.",
    )


class SalesEventAdmin(EventAdmin):
    change_form_template = "admin/sales/event/change_form.html"

    def get_list_display(self, request):
        return [*super().get_list_display(request), "sales_dashboard"]

    @admin.display(description="Sales")
    def sales_dashboard(self, event):
        url = reverse("admin:sales_event_dashboard", args=[event.pk])
        return format_html('<a href="{}">Dashboard</a>', url)

    def get_urls(self):
        dashboard = self.admin_site.admin_view(self.dashboard_view)
        return [
            path("<int:event_id>/sales/", dashboard, name="sales_event_dashboard"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request, event_id):
        """The figures, a sales-over-time chart and seats per section; with ``?fragment=1``
        only the figures (what the page's script fetches every few seconds)."""
        try:
            event = access_event_sales(request.user, event_id)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        figures = selectors.event_sales(event, request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Sales: {event.title}",
            "event": event,
            "figures": figures,
            "over_time": charts.sales_over_time(figures["hourly"]),
            "by_section": charts.seats_by_section(figures["sections"]),
            "refresh_seconds": settings.SALES_DASHBOARD_REFRESH_SECONDS,
            "fragment_url": f"{request.path}?fragment=1",
        }
        fragment = request.GET.get("fragment") == "1"
        template = "figures.html" if fragment else "dashboard.html"
        return TemplateResponse(request, f"admin/sales/event/{template}", context)

    @admin.action(description="Cancel events (asks for a reason first)")
    def cancel_events(self, request, queryset):
        """A confirmation page with the bookings and the refund total; cancels once confirmed."""
        form = CancelEventsForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            self.cancel_with_refunds(request, queryset, form.cleaned_data["reason"])
            return None  # back to the list
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Cancel events?",
            "events": list(queryset),
            "preview": selectors.cancellation_preview(queryset),
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/sales/event/cancel_confirmation.html", context)


class SalesBookingAdmin(BookingAdmin):
    change_list_template = "admin/sales/booking/change_list.html"

    def get_list_filter(self, request):
        # Only events the user may see are offered (the filter reads get_queryset's bookings).
        return [*super().get_list_filter(request), ("event", RelatedOnlyFieldListFilter)]

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            response.context_data["category_totals"] = selectors.category_totals(
                changelist.queryset
            )
        return response


admin.site.unregister(Event)
admin.site.register(Event, SalesEventAdmin)
admin.site.unregister(Booking)
admin.site.register(Booking, SalesBookingAdmin)
