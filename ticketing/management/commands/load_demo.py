"""Demo data: a theatre (procedural map), a stadium (SVG map), general admission, demo users.

Idempotent: everything is found by a natural key first and created only when missing.
Local demo accounts with known passwords exist only in development (``DEVELOPMENT``); elsewhere
the organizer who owns the demo events has no password (log in through Keycloak) and the other
demo accounts are not created.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from seatmaps import demo as demo_maps
from seatmaps.models import SeatMap, Venue
from seatmaps.services import create_procedural_map, import_svg_map
from ticketing.models import Event, PriceCategory
from ticketing.services.event_rules import publish_event_rules


def _user(username, email, first, last, password, **flags):
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={"email": email, "first_name": first, "last_name": last, **flags},
    )
    if not settings.DEVELOPMENT:
        if user.has_usable_password():  # a known demo password must not outlive development
            user.set_unusable_password()
            user.save()
    elif created:
        user.set_password(password)
        user.save()
    return user


def _categories(event, specs):
    for name, price, color, section_codes in specs:
        category, _ = PriceCategory.objects.get_or_create(
            event=event, name=name, defaults={"price": Decimal(price), "color": color}
        )
        if event.seat_map_id:
            category.sections.set(event.seat_map.sections.filter(code__in=section_codes))


def _event(slug, **fields):
    event, _ = Event.objects.get_or_create(slug=slug, defaults=fields)
    return event


class Command(BaseCommand):
    help = "Load the demo venues, maps, events and users (safe to run again)."

    @transaction.atomic
    def handle(self, *args, **options):
        organizer = _user(
            "organizer@example.com", "organizer@example.com", "Olga", "Organizer", "organizer",
            is_staff=True,
        )  # fmt: skip
        if settings.DEVELOPMENT:
            _user("buyer@example.com", "buyer@example.com", "Bea", "Buyer", "buyer")
            _user(
                "admin", "admin@example.com", "Ada", "Admin", "admin",
                is_staff=True, is_superuser=True,
            )  # fmt: skip
        else:  # left over from a development run: their passwords are public
            leftovers = get_user_model().objects.filter(username__in=["buyer@example.com", "admin"])
            for user in leftovers:
                user.set_unusable_password()
                user.save()
        self._organizer_group(organizer)

        now = timezone.now()
        theatre, _ = Venue.objects.get_or_create(
            name="Lindenhof Theatre",
            defaults={"owner": organizer, "city": "Berlin",
                      "address": "Lindenstraße 12, 10969 Berlin",
                      "time_zone": "Europe/Berlin"},
        )  # fmt: skip
        stadium, _ = Venue.objects.get_or_create(
            name="Elbe Arena",
            defaults={"owner": organizer, "city": "Hamburg", "address": "Arenaweg 1, 20457 Hamburg",
                      "time_zone": "Europe/Berlin"},
        )  # fmt: skip
        park, _ = Venue.objects.get_or_create(
            name="Riverside Park",
            defaults={"owner": organizer, "city": "Cologne", "address": "Rheinufer 5, 50668 Köln",
                      "time_zone": "Europe/Berlin"},
        )  # fmt: skip

        theatre_map = SeatMap.objects.filter(venue=theatre, name="Main hall").first()
        if theatre_map is None:
            theatre_map = create_procedural_map(
                theatre, "Main hall", demo_maps.theatre_params(), organizer
            )
        stadium_map = SeatMap.objects.filter(venue=stadium, name="Bowl").first()
        if stadium_map is None:
            stadium_map, _report = import_svg_map(
                stadium, "Bowl", demo_maps.stadium_svg(2400).encode(), organizer
            )

        hamlet = _event(
            "hamlet",
            organizer=organizer, title="Hamlet", venue=theatre, seat_map=theatre_map,
            description="Shakespeare's tragedy in a new production. Simple registration.",
            starts_at=now + timedelta(days=21), ends_at=now + timedelta(days=21, hours=3),
            status=Event.Status.ON_SALE, registration_mode=Event.RegistrationMode.SIMPLE,
        )  # fmt: skip
        theatre_sections = list(theatre_map.sections.order_by("position"))
        palette = ["#7c3aed", "#2563eb", "#059669"]
        _categories(
            hamlet,
            [
                (f"Category {chr(65 + i)}", price, palette[i % 3], [s.code])
                for i, (s, price) in enumerate(
                    zip(theatre_sections, ["89.00", "59.00", "35.00"], strict=False)
                )
            ],
        )

        tour = _event(
            "stadium-tour",
            organizer=organizer, title="The Big Stadium Tour", venue=stadium, seat_map=stadium_map,
            description="High-demand concert: queued registration, seats booked by the worker.",
            starts_at=now + timedelta(days=60), ends_at=now + timedelta(days=60, hours=4),
            status=Event.Status.ON_SALE, registration_mode=Event.RegistrationMode.QUEUED,
            max_seats_per_order=6,
        )  # fmt: skip
        codes = list(stadium_map.sections.order_by("position").values_list("code", flat=True))
        third = max(len(codes) // 3, 1)
        _categories(
            tour,
            [
                ("Lower tier", "120.00", "#dc2626", codes[:third]),
                ("Middle tier", "85.00", "#ea580c", codes[third : 2 * third]),
                ("Upper tier", "49.00", "#ca8a04", codes[2 * third :]),
            ],
        )

        festival = _event(
            "open-air",
            organizer=organizer, title="Open Air Festival", venue=park, capacity=5000,
            description="General admission, no seats.",
            starts_at=now + timedelta(days=90), ends_at=now + timedelta(days=90, hours=10),
            status=Event.Status.ON_SALE, registration_mode=Event.RegistrationMode.SIMPLE,
        )  # fmt: skip
        _categories(festival, [("Standing", "39.00", "#0891b2", [])])

        events = [hamlet, tour, festival]
        transaction.on_commit(lambda: [publish_event_rules(e) for e in events])
        self.stdout.write(
            "demo data ready: "
            + ", ".join(f"{e.title} (id {e.pk}, {e.registration_mode})" for e in events)
        )

    def _organizer_group(self, organizer):
        from django.contrib.auth.models import Group, Permission

        group, _ = Group.objects.get_or_create(name="Organizers")
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label__in=["ticketing", "seatmaps", "registration_worker"]
            )
        )
        organizer.groups.add(group)
