"""Admin logins are throttled (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT wrong passwords
for one account, or from one IP address, even the right password is refused until the
cool-off has passed; a success under the limit clears the count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db

LOGIN = f"/{settings.ADMIN_URL}login/"
PASSWORD = "the-right-password"


@pytest.fixture
def staff():
    User.objects.create_user("ada", "ada@example.com", PASSWORD, is_staff=True)
    User.objects.create_user("grace", "grace@example.com", PASSWORD, is_staff=True)


def log_in(client, username: str, password: str, *, ip: str = "203.0.113.7"):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": f"/{settings.ADMIN_URL}"},
        REMOTE_ADDR=ip,
    )


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == f"/{settings.ADMIN_URL}"


def test_the_limit_and_cool_off_are_the_documented_defaults():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == dt.timedelta(minutes=15)


def test_the_right_password_works_under_the_limit_and_clears_the_count(client, staff):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "ada", "wrong").status_code == 200

    assert logged_in(log_in(client, "ada", PASSWORD))
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "ada", "wrong")
    assert logged_in(log_in(client, "ada", PASSWORD))


def test_thirty_wrong_passwords_lock_the_account_even_against_the_right_one(client, staff):
    for _ in range(30):
        log_in(client, "ada", "wrong")

    refused = log_in(client, "ada", PASSWORD)

    assert refused.status_code == 429
    assert "Too many failed logins" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_account_is_locked_whatever_addresses_the_guesses_come_from(client, staff):
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "ada", "wrong", ip=f"198.51.100.{n + 1}")

    assert log_in(client, "ada", PASSWORD, ip="192.0.2.99").status_code == 429
    assert logged_in(log_in(client, "grace", PASSWORD, ip="192.0.2.99"))


def test_an_address_is_locked_whatever_accounts_it_guesses(client, staff):
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"nobody{n}", "wrong", ip="203.0.113.50")

    assert log_in(client, "grace", PASSWORD, ip="203.0.113.50").status_code == 429
    assert logged_in(log_in(client, "grace", PASSWORD, ip="203.0.113.51"))


def test_after_the_cool_off_the_right_password_works_again(client, staff, pinned_clock):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "ada", "wrong")
    assert log_in(client, "ada", PASSWORD).status_code == 429

    pinned_clock.shift(settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1))

    assert logged_in(log_in(client, "ada", PASSWORD))


def test_the_ip_that_counts_is_the_one_rate_limits_use(client, staff, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            LOGIN,
            {"username": f"nobody{n}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",  # the proxy
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.60",
        )

    assert log_in(client, "grace", PASSWORD, ip="10.0.0.1").status_code != 429
