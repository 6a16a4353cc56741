"""Admin behaviour for rows with an owner (venues, seat maps), decided by ``shared.access``."""

from __future__ import annotations

import copy

from django.contrib import admin

from shared.access import is_platform_admin, may_change_owned, owned_visible_to


class OwnedModelAdmin(admin.ModelAdmin):
    """Organizers see their own rows and the shared ones, and change only their own.

    A row an organizer adds is theirs; admins see everything and may set the owner.
    ``owned_choices`` names foreign keys whose choices are limited the same way.
    """

    owned_choices: tuple[str, ...] = ()

    def get_queryset(self, request):
        return owned_visible_to(request.user, super().get_queryset(request))

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_change_owned(request.user, obj.owner_id))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or may_change_owned(request.user, obj.owner_id))

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        return exclude if is_platform_admin(request.user) else [*exclude, "owner"]

    def save_model(self, request, obj, form, change):
        if not change and not is_platform_admin(request.user):
            obj.owner = request.user
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and db_field.name in self.owned_choices:
            field.queryset = owned_visible_to(request.user, field.queryset)
        return field


def limit_owned_choices(form_class, request, names):
    """A subclass of ``form_class`` whose foreign-key fields ``names`` offer only the rows the
    user may use (for admins that hand-pick their form class instead of letting the
    ModelAdmin build it)."""
    fields = dict(form_class.base_fields)
    for name in names:
        field = copy.deepcopy(fields[name])
        field.queryset = owned_visible_to(request.user, field.queryset)
        fields[name] = field
    limited = type(form_class.__name__, (form_class,), {})
    limited.base_fields = fields
    return limited
