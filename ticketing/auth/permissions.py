from ticketing.auth.services import organizers_group_name


def is_organizer(user) -> bool:
    """Superusers, and staff members of the Organizers group (realm role ``organizer``)."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.is_staff and user.groups.filter(name=organizers_group_name()).exists()
