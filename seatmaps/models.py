"""Venue geometry: venues, their seat maps, the maps' sections and seats.

A map is either generated from parameters (``procedural``) or imported from an organizer's SVG
(``svg``). Seats keep their coordinates and, for SVG maps, the id of the element that draws them.
"""

import zoneinfo

from django.conf import settings
from django.db import models

TIME_ZONES = sorted((tz, tz) for tz in zoneinfo.available_timezones())


class Venue(models.Model):
    # Who may change the venue; empty for a shared venue that only admins change and every
    # organizer may use (shared/access.py).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="venues",
        help_text="Empty: a shared venue, changed by admins only.",
    )
    name = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    address = models.CharField(max_length=300, blank=True)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONES, default="Europe/Berlin")

    class Meta:
        # Moved from the ticketing app (seatmaps/migrations/0005): the table kept its name.
        db_table = "ticketing_venue"
        ordering = ["name"]

    def __str__(self):
        return f"{self.name}, {self.city}"


class SeatMap(models.Model):
    class Kind(models.TextChoices):
        PROCEDURAL = "procedural", "Procedural (rows and columns)"
        SVG = "svg", "SVG (stadium, concert hall)"

    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="seat_maps")
    # Who may change the map; empty for a shared map (shared/access.py).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="seat_maps",
        help_text="Empty: a shared map, changed by admins only.",
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Generator parameters (JSON) for procedural maps; the sanitized SVG for SVG maps.
    source = models.TextField(blank=True)
    width = models.FloatField(default=0)
    height = models.FloatField(default=0)
    # What the SVG importer removed or could not read, shown to the organizer after an upload.
    report = models.JSONField(default=dict, blank=True)
    # Bumped whenever seats or sections change, so cached renderings and payloads go stale.
    revision = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["venue", "name"]

    def __str__(self):
        return f"{self.venue}: {self.name}"

    def bump_revision(self) -> None:
        """Invalidate cached renderings; call it after any change to the map's seats or
        sections made outside ``seatmaps.services`` (which call it themselves)."""
        SeatMap.objects.filter(pk=self.pk).update(revision=models.F("revision") + 1)
        self.refresh_from_db(fields=["revision"])


class Section(models.Model):
    seat_map = models.ForeignKey(SeatMap, on_delete=models.CASCADE, related_name="sections")
    code = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(
        default=0, help_text="Lower is better when choosing seats."
    )

    class Meta:
        ordering = ["seat_map", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["seat_map", "code"], name="section_code_unique_per_map")
        ]

    def __str__(self):
        return self.name


class Seat(models.Model):
    seat_map = models.ForeignKey(SeatMap, on_delete=models.CASCADE, related_name="seats")
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="seats")
    row_label = models.CharField(max_length=20)
    number = models.CharField(max_length=20)
    label = models.CharField(max_length=100)
    x = models.FloatField(default=0)
    y = models.FloatField(default=0)
    svg_id = models.CharField(max_length=100, blank=True)
    accessible = models.BooleanField(default=False)

    class Meta:
        ordering = ["seat_map", "section", "row_label", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["section", "row_label", "number"], name="seat_position_unique_per_section"
            )
        ]

    def __str__(self):
        return self.label
