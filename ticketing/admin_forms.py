"""The event form of the admin: times are typed and shown on the venue's clock.

An organizer in Lisbon setting up a concert in Munich types "20:00" and means 20:00 in Munich.
``EventAdmin.changeform_view`` renders and parses an existing event's form in its venue's zone;
``EventAdminForm.clean`` then moves every typed time to the zone of the venue chosen in the form
(a new event, or an event moved to another venue), keeping the wall-clock time.
"""

from django import forms
from django.utils import timezone

from shared.local_time import reinterpret

EVENT_TIMES = ("starts_at", "ends_at", "sales_start", "sales_end", "refund_deadline")


class EventAdminForm(forms.ModelForm):
    """The base form of ``EventAdmin`` (the admin adds the model and the fields)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        venue = self.instance.venue if self.instance.venue_id else None
        where = f"{venue.time_zone}, the venue's time zone" if venue else "the venue's time zone"
        for name in EVENT_TIMES:
            field = self.fields.get(name)
            if field is not None:
                note = f"Local time at the venue ({where})."
                field.help_text = f"{field.help_text} {note}".strip()

    def clean(self):
        cleaned = super().clean()
        venue = cleaned.get("venue")
        if venue is not None:
            typed_in = timezone.get_current_timezone()
            for name in EVENT_TIMES:
                if cleaned.get(name) is not None:
                    cleaned[name] = reinterpret(cleaned[name], typed_in, venue.time_zone)
        return cleaned
