from rest_framework.permissions import BasePermission

from ticketing.auth.services import organizers_group_name


def is_organizer(user) -> bool:
    """Superusers, and staff members of the Organizers group (realm role ``organizer``)."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.is_staff and user.groups.filter(name=organizers_group_name()).exists()


class IsOrganizer(BasePermission):
    """Organizer endpoints: 401 without credentials, 403 for a user without the role."""

    message = "This needs the organizer role."

    def has_permission(self, request, view):
        return is_organizer(request.user)
