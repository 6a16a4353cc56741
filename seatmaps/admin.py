"""Organizer tools for venues and seat maps: procedural maps with a live preview, SVG uploads
with the importer's report, and sections (names, order for best available).

Organizers see their own maps and the shared ones, and change only their own
(``shared.access``). All writes go through ``seatmaps.services`` (which keeps seats, sections
and the map's revision consistent).
Price categories map to sections on the event's page (``ticketing.admin``).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from shared.access import is_platform_admin, may_change_owned, owned_visible_to
from shared.exceptions import BusinessRuleViolation
from shared.owned_admin import OwnedModelAdmin, limit_owned_choices

from .forms import LayoutPreviewForm, ProceduralMapForm, SvgMapChangeForm, SvgMapForm
from .models import SeatMap, Section, Venue
from .render import render_preview, render_seat_map
from .services import create_procedural_map, create_svg_map, regenerate_procedural_map

PREVIEW_SEAT_LIMIT = 30_000


@admin.register(Venue)
class VenueAdmin(OwnedModelAdmin):
    list_display = ["name", "city", "time_zone", "owner"]
    search_fields = ["name", "city"]


class SectionInline(admin.TabularInline):
    model = Section
    fields = ["code", "name", "position", "seat_count"]
    readonly_fields = ["code", "seat_count"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # sections come from the generator or the SVG

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_seats=Count("seats"))

    @admin.display(description="Seats")
    def seat_count(self, section):
        return getattr(section, "n_seats", None)


@admin.register(SeatMap)
class SeatMapAdmin(OwnedModelAdmin):
    list_display = ["name", "venue", "kind", "seat_count", "revision", "created_at"]
    list_filter = ["kind", "venue"]
    search_fields = ["name", "venue__name"]
    list_select_related = ["venue"]
    inlines = [SectionInline]
    change_form_template = "admin/seatmaps/seatmap/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_seats=Count("seats"))

    @admin.display(description="Seats", ordering="n_seats")
    def seat_count(self, seat_map):
        return getattr(seat_map, "n_seats", None)

    # --- which form ------------------------------------------------------------------------

    def _kind(self, request, obj):
        if obj is not None:
            return obj.kind
        return SeatMap.Kind.SVG if request.GET.get("kind") == "svg" else SeatMap.Kind.PROCEDURAL

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self._kind(request, obj) == SeatMap.Kind.SVG:
            form = SvgMapForm if obj is None else SvgMapChangeForm
        else:
            form = ProceduralMapForm
        return limit_owned_choices(form, request, ["venue"])

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fields = ["kind", "seat_total", "map_preview"]
        if obj.kind == SeatMap.Kind.SVG:
            fields.append("import_report")
        return fields

    def get_fieldsets(self, request, obj=None):
        form = self.get_form(request, obj)
        names = list(form.base_fields)
        if obj is None:
            return [(None, {"fields": names})]
        main = ["venue", "name", "kind", "seat_total"]
        fieldsets = [(None, {"fields": main})]
        layout = [n for n in names if n not in ("venue", "name")]
        if layout:
            fieldsets.append(
                (
                    "Layout (saving a changed layout regenerates the seats)",
                    {"fields": layout},
                )
            )
        fieldsets.append(("Map", {"fields": ["map_preview"]}))
        if obj.kind == SeatMap.Kind.SVG:
            fieldsets.append(("Import report", {"fields": ["import_report"]}))
        return fieldsets

    # --- read-only views of a saved map ------------------------------------------------------

    @admin.display(description="Seats")
    def seat_total(self, seat_map):
        return seat_map.seats.count()

    @admin.display(description="Preview")
    def map_preview(self, seat_map):
        if seat_map.seats.count() > PREVIEW_SEAT_LIMIT:
            return "Too many seats to preview here; open an event using this map."
        # Our own renderer's output: generated markup, or the sanitizer's output for SVG maps.
        return format_html(
            '<div class="seatmap-admin-preview">{}</div>',
            mark_safe(render_seat_map(seat_map)),  # noqa: S308
        )

    @admin.display(description="Report")
    def import_report(self, seat_map):
        return format_report(seat_map.report)

    # --- saving through the services ----------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if not change:
            owner = None if is_platform_admin(request.user) else request.user
            if isinstance(form, SvgMapForm):
                created, report = create_svg_map(
                    form.cleaned_data["venue"], form.cleaned_data["name"], form.svg_import, owner
                )
                self.message_user(
                    request,
                    f"Imported {report.get('seats', 0)} seats in {report.get('sections', 0)} "
                    f"sections; {report.get('problem_count', 0)} elements could not be read.",
                    messages.WARNING if report.get("problem_count") else messages.SUCCESS,
                )
            else:
                created = create_procedural_map(
                    form.cleaned_data["venue"], form.cleaned_data["name"], form.layout, owner
                )
            obj.pk = created.pk
            obj._state.adding = False
            obj.refresh_from_db()
            return
        obj.save(update_fields=["venue", "name"])
        if isinstance(form, ProceduralMapForm) and form.layout_changed:
            try:
                regenerate_procedural_map(obj, form.layout)
            except BusinessRuleViolation as exc:  # an event went on sale since the form's check
                self.message_user(request, exc.message, messages.ERROR)
                return
            self.message_user(request, "The seats were regenerated from the new layout.")

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is Section and formset.has_changed():
            form.instance.bump_revision()

    def response_add(self, request, obj, post_url_continue=None):
        # Straight to the saved map: its preview, sections and (for an SVG) the report.
        if "_addanother" not in request.POST and "_popup" not in request.POST:
            return HttpResponseRedirect(reverse("admin:seatmaps_seatmap_change", args=[obj.pk]))
        return super().response_add(request, obj, post_url_continue)

    # --- the live preview ----------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="seatmaps_seatmap_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        """POST the layout fields of the form: the SVG of that layout, or 400 and why not."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponse(status=405)
        form = LayoutPreviewForm(request.POST)
        if not form.is_valid():
            errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
            return HttpResponse(
                " ".join(errors), status=400, content_type="text/plain; charset=utf-8"
            )
        return HttpResponse(render_preview(form.layout), content_type="image/svg+xml")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, object_id) if object_id else None
        kind = self._kind(request, obj)
        extra_context.update(
            seatmap_kind=kind,
            live_preview_url=(
                reverse("admin:seatmaps_seatmap_preview") if kind == SeatMap.Kind.PROCEDURAL else ""
            ),
        )
        return super().changeform_view(request, object_id, form_url, extra_context)


def format_report(report: dict):
    """The importer's report as HTML: counts, what the sanitizer removed, unreadable seats."""
    if not report:
        return "-"
    counts = format_html(
        "<p>{} seats in {} sections; {} elements could not be read.</p>",
        report.get("seats", 0),
        report.get("sections", 0),
        report.get("problem_count", 0),
    )
    removed = [
        (label, ", ".join(f"{name} ({count})" for name, count in report.get(key, {}).items()))
        for key, label in (
            ("removed_elements", "Elements removed"),
            ("removed_attributes", "Attributes removed"),
        )
        if report.get(key)
    ]
    removed_html = (
        format_html(
            "<p>The sanitizer removed what a seat map must not contain:</p><ul>{}</ul>",
            format_html_join("", "<li>{}: {}</li>", removed),
        )
        if removed
        else format_html("<p>The sanitizer removed nothing.</p>")
    )
    problems = report.get("problems") or []
    problems_html = (
        format_html(
            "<table><thead><tr><th>Element</th><th>id</th><th>data-seat</th><th>Problem</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (p.get("element"), p.get("id"), p.get("data_seat"), p.get("reason"))
                    for p in problems
                ),
            ),
        )
        if problems
        else ""
    )
    return format_html("{}{}{}", counts, removed_html, problems_html)


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    """Sections of the maps the user may see; renaming and reordering only on their own."""

    list_display = ["name", "code", "seat_map", "position", "seat_count"]
    list_filter = ["seat_map__venue", "seat_map"]
    search_fields = ["name", "code", "seat_map__name"]
    list_select_related = ["seat_map", "seat_map__venue"]
    fields = ["seat_map", "code", "name", "position"]
    readonly_fields = ["seat_map", "code"]
    ordering = ["seat_map", "position", "code"]

    def has_add_permission(self, request):
        return False  # sections come from the generator or the SVG

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_change_owned(request.user, obj.seat_map.owner_id))

    def has_delete_permission(self, request, obj=None):
        return False  # sections come from the generator or the SVG

    def get_queryset(self, request):
        queryset = owned_visible_to(request.user, super().get_queryset(request), "seat_map__owner")
        return queryset.annotate(n_seats=Count("seats"))

    @admin.display(description="Seats", ordering="n_seats")
    def seat_count(self, section):
        return getattr(section, "n_seats", None)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        obj.seat_map.bump_revision()
