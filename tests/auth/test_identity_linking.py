"""One identity per person: a Keycloak login links to the local user with the same verified
email instead of creating ``<name>#<sub>``; unverified or ambiguous emails never link."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from ticketing.auth.models import KeycloakIdentity
from ticketing.auth.services import sync_user_from_claims
from ticketing.models import Event

pytestmark = pytest.mark.django_db


def _claims(email, verified=True, roles=("organizer",), username=None):
    return {
        "sub": str(uuid.uuid4()),
        "preferred_username": username or email,
        "email": email,
        "email_verified": verified,
        "realm_access": {"roles": list(roles)},
    }


def test_a_keycloak_login_with_a_verified_email_links_to_the_demo_organizer():
    call_command("load_demo")
    organizer = get_user_model().objects.get(username="organizer@example.com")
    claims = _claims("Organizer@Example.com")
    user = sync_user_from_claims(claims)
    assert user.pk == organizer.pk
    assert KeycloakIdentity.objects.get(sub=claims["sub"]).user_id == organizer.pk
    assert not get_user_model().objects.filter(username__contains="#").exists()
    assert set(Event.objects.filter(organizer=user).values_list("slug", flat=True)) >= {
        "hamlet", "stadium-tour", "open-air",
    }  # fmt: skip
    # the next login finds the same user by its subject
    assert sync_user_from_claims({**claims, "given_name": "Olga"}).pk == organizer.pk


def test_the_local_admin_keeps_the_name_it_logs_in_with(settings):
    settings.DEVELOPMENT = True
    call_command("load_demo")
    admin = get_user_model().objects.get(username="admin")
    user = sync_user_from_claims(_claims("admin@example.com", roles=("admin",)))
    admin.refresh_from_db()
    assert (user.pk, admin.username, admin.is_superuser) == (admin.pk, "admin", True)


def test_an_unverified_email_gets_its_own_user(django_user_model):
    owner = django_user_model.objects.create(username="olga", email="olga@example.com")
    user = sync_user_from_claims(_claims("olga@example.com", verified=False, username="olga"))
    assert user.pk != owner.pk
    assert user.username.startswith("olga#")
    assert not KeycloakIdentity.objects.filter(user=owner).exists()


def test_an_email_shared_by_two_local_users_links_neither(django_user_model):
    first = django_user_model.objects.create(username="a1", email="same@example.com")
    second = django_user_model.objects.create(username="a2", email="same@example.com")
    user = sync_user_from_claims(_claims("same@example.com"))
    assert user.pk not in (first.pk, second.pk)


def test_a_user_already_linked_to_another_subject_is_not_taken_over(django_user_model):
    first = sync_user_from_claims(_claims("taken@example.com"))
    second = sync_user_from_claims(_claims("taken@example.com"))  # another Keycloak account
    assert first.pk != second.pk


def test_load_demo_merges_an_earlier_duplicate_into_the_demo_user(django_user_model):
    call_command("load_demo")
    duplicate = django_user_model.objects.create(
        username="organizer@example.com#1e62dd59", email="organizer@example.com"
    )
    KeycloakIdentity.objects.create(user=duplicate, sub="kc-sub-1")
    call_command("load_demo")
    organizer = django_user_model.objects.get(username="organizer@example.com")
    assert KeycloakIdentity.objects.get(sub="kc-sub-1").user_id == organizer.pk
    assert not django_user_model.objects.filter(pk=duplicate.pk).exists()
