"""The buyer pages: translate the request, read through selectors, render a template."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.csrf import ensure_csrf_cookie

from payments.selectors import refund_policy
from shared.access import EventAction
from shared.enums import FailureReason
from shared.exceptions import NotFound, PermissionDenied
from shared.realtime import current_sequence
from ticketing.access import access_event
from ticketing.api.serializers import CATALOG_PAGE_SIZE, CatalogQuerySerializer, MyHoldSerializer
from ticketing.catalog import catalog_events
from ticketing.models import Event
from ticketing.pages.seat_map import category_css, event_map, safe_color
from ticketing.selectors import (
    buyer_bookings,
    buyer_live_holds,
    general_admission_availability,
    seat_pricing,
    seat_statuses,
)
from ticketing.services.event_rules import get_event_rules

ORDERING_LABELS = [
    ("starts_at", "Date, soonest first"),
    ("-starts_at", "Date, latest first"),
    ("price", "Price, lowest first"),
    ("-price", "Price, highest first"),
    ("title", "Title, A to Z"),
    ("relevance", "Best match (with search words)"),
]


def access_event_page(user, event_id: int) -> Event:
    """The event if ``user`` may see its page (drafts: a preview for their organizer and
    admins); raises Http404 otherwise."""
    try:
        return access_event(
            user,
            event_id,
            EventAction.VIEW,
            Event.objects.select_related("venue", "seat_map").defer("seat_map__source"),
        )
    except (NotFound, PermissionDenied) as exc:
        raise Http404("No such event.") from exc


def event_list(request):
    """The catalog as a GET form: the same parameters and rules as ``/api/v1/events/``, so a
    search is a link that can be shared."""
    query = CatalogQuerySerializer(data=request.GET)
    valid = query.is_valid()
    events = catalog_events(**query.filters()) if valid else Event.objects.none()
    page_size = query.validated_data.get("page_size", CATALOG_PAGE_SIZE) if valid else 1
    page = Paginator(events, page_size).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "page": page,
        "form": request.GET,
        "errors": {} if valid else query.errors,
        "orderings": ORDERING_LABELS,
        "query_string": params.urlencode(),
        "searched": any(params.values()),
    }
    return render(request, "ticketing/event_list.html", context, status=200 if valid else 400)


def payment_form() -> dict:
    """Where the buyer's browser finds the provider's hosted card form, and its origin."""
    public = urlsplit(settings.PAYMENT_PROVIDER_PUBLIC_URL)
    origin = f"{public.scheme}://{public.netloc}"
    return {"url": f"{origin}{public.path.rstrip('/')}/elements/card.html", "origin": origin}


def _login_url(request) -> str:
    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.get_full_path()})}"


@ensure_csrf_cookie
def event_detail(request, event_id: int):
    event = access_event_page(request.user, event_id)
    rules = get_event_rules(event.pk)
    pricing = seat_pricing(event.pk)
    categories = [
        {
            "id": c.id,
            "name": c.name,
            "price": c.price,
            "currency": c.currency,
            "color": safe_color(c.color),
        }
        for c in pricing.categories.values()
    ]
    config = {
        "event": {
            "id": event.pk,
            "title": event.title,
            "mode": rules.registration_mode,
            "generalAdmission": rules.is_general_admission,
            "maxSeats": rules.max_seats_per_order,
            "holdTtl": rules.hold_ttl_seconds,
            "salesOpen": rules.sales_open(),
            "status": event.status,
            "requiresPayment": rules.requires_payment,
        },
        "categories": categories,
        "user": {
            "authenticated": request.user.is_authenticated,
            "id": request.user.pk if request.user.is_authenticated else None,
        },
        "loginUrl": _login_url(request),
        # The buyer's own live holds (Redis only): a reload picks them up again.
        "myHolds": [
            MyHoldSerializer.represent(h)
            for h in buyer_live_holds(user_id=request.user.pk, event_id=event.pk)
        ]
        if request.user.is_authenticated
        else [],
        "myBookingsUrl": reverse("my-bookings"),
        "serverTime": int(time.time() * 1000),
        "api": {
            "holds": reverse("hold-create", args=[event.pk]),
            "hold": reverse("hold-detail", args=["HOLD"]),
            "extend": reverse("hold-extend", args=["HOLD"]),
            "registrationStatus": reverse(
                "registration-status", args=["00000000-0000-0000-0000-000000000000"]
            ),
            "registrations": reverse("registration-create"),
            "ticketsPdf": reverse(
                "booking-tickets-pdf", args=["00000000-0000-0000-0000-000000000000"]
            ),
        },
        "ws": {"event": f"/ws/events/{event.pk}/", "me": "/ws/me/"},
    }
    context = {
        "event": event,
        "categories": categories,
        "config": config,
        "quantities": range(1, rules.max_seats_per_order + 1),
    }
    if rules.is_general_admission:
        config["availability"] = general_admission_availability(event.pk)
        context["availability"] = config["availability"]
        context["category_css"] = category_css(pricing.categories.values())
    else:
        page_map = event_map(event)
        seq = current_sequence(event.pk)  # before the statuses, as the WebSocket snapshot does
        config["initial"] = {"seq": seq, **seat_statuses(event.pk)}
        context.update(
            svg=page_map.svg,
            geometry_script=page_map.geometry_script,
            category_css=page_map.css,
            seat_count=page_map.seat_count,
            map_ratio=f"{event.seat_map.width or 4:g} / {event.seat_map.height or 3:g}",
        )
    if rules.requires_payment:
        config["payment"] = payment_form()
    response = render(request, "ticketing/event_detail.html", context)
    if rules.requires_payment:
        # Only a paid event's page may frame the provider's card form.
        response._csp_update = {"frame-src": [config["payment"]["origin"]]}
    return response


@login_required
@ensure_csrf_cookie
def my_bookings(request):
    """The buyer's bookings: seats, live status, tickets, and cancelling with the refund shown."""
    bookings = [
        {
            "booking": booking,
            "refund": refund_policy(booking=booking),
            "reason": FailureReason(booking.failure_reason).label
            if booking.failure_reason in FailureReason.values
            else booking.failure_reason.replace("_", " "),
        }
        for booking in buyer_bookings(buyer=request.user)
    ]
    config = {
        "ws": "/ws/me/",
        "api": {
            "cancel": reverse("booking-cancel", args=["00000000-0000-0000-0000-000000000000"]),
        },
    }
    return render(request, "ticketing/my_bookings.html", {"bookings": bookings, "config": config})
