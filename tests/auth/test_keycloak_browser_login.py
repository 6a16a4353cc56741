"""Browser login through the real Keycloak login page into the Django admin, then logout.

Playwright drives Debian's chromium. Django runs on http://localhost:8765, a redirect URI the
realm registers for ticketing-web for this test (pytest-django's live_server picks a random port,
which Keycloak's redirect URI check cannot match).
"""

import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model

from ticketing.auth.models import KeycloakIdentity

pytestmark = [pytest.mark.keycloak, pytest.mark.browser]

LIVE_ADDRESS = "localhost:8765"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "auth"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def keycloak_live_server(django_db_setup, django_db_blocker):
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        server = LiveServer(LIVE_ADDRESS)
    yield server
    server.stop()


@contextmanager
def chromium_page(name):
    """A Playwright page in Debian's chromium; a screenshot in test-artifacts/ on failure.

    The ORM is not used inside: Playwright's sync API runs an event loop in this thread, and
    Django would then hand out a separate, never-closed database connection."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        except BaseException:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"), full_page=True)
            raise
        finally:
            context.close()
            browser.close()


def _keycloak_login(page, username, password):
    page.wait_for_url(re.compile(r"^http://localhost:8180/realms/ticketing/"))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#kc-login")


def test_organizer_logs_in_through_keycloak_into_the_admin_and_out(
    keycloak, keycloak_live_server, transactional_db
):
    base = keycloak_live_server.url
    assert base == f"http://{LIVE_ADDRESS}"
    with chromium_page("organizer-login") as page:
        page.goto(f"{base}/admin/login/?next=/admin/")
        link = page.locator("#keycloak-login")
        assert link.inner_text().strip() == "Log in with Keycloak"
        link.click()

        _keycloak_login(page, "organizer@example.com", "organizer")

        page.wait_for_url(f"{base}/admin/")
        content = page.content()
        assert "Site administration" in content
        assert "Olivia" in page.locator("#user-tools").text_content()
        # The organizer's view: the ticketing and seat-map models, not user management.
        for model in admin.site._registry:
            if model._meta.app_label in ("ticketing", "seatmaps"):
                assert str(model._meta.verbose_name_plural).capitalize() in content
        assert 'href="/admin/auth/user/"' not in content

        # Log out from the admin: Django and the Keycloak session both end.
        page.locator("#logout-form button").click()
        page.wait_for_url(re.compile(rf"^{re.escape(base)}/admin/login/"))
        page.goto(f"{base}/admin/")
        page.wait_for_url(re.compile(rf"^{re.escape(base)}/admin/login/"))

        page.goto(f"{base}/oidc/authenticate/?next=/admin/")
        page.wait_for_url(re.compile(r"^http://localhost:8180/realms/ticketing/"))
        assert page.locator("#username").is_visible()  # Keycloak asks again: its session ended

    user = get_user_model().objects.get(username="organizer@example.com")
    assert user.is_staff and not user.is_superuser
    assert user.groups.filter(name="Organizers").exists()
    assert KeycloakIdentity.objects.get(user=user).roles == ["customer", "organizer"]


def test_buyer_login_gets_no_admin(keycloak, keycloak_live_server, transactional_db):
    base = keycloak_live_server.url
    with chromium_page("buyer-login") as page:
        page.goto(f"{base}/admin/login/?next=/admin/")
        page.click("#keycloak-login")
        _keycloak_login(page, "buyer@example.com", "buyer")
        page.wait_for_url(re.compile(rf"^{re.escape(base)}/admin/login/"))
        assert "not authorized to access this page" in page.content()
    user = get_user_model().objects.get(username="buyer@example.com")
    assert not user.is_staff
    assert KeycloakIdentity.objects.get(user=user).roles == ["customer"]
