"""Logged-in clients for the admin tests: an editor (the Editors group) and plain staff."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Logins are not under test here; the default hasher costs ~0.3 s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def editor(db) -> User:
    user = User.objects.create_user(
        "editor", "editor@example.com", "not-used", is_staff=True, first_name="Eda"
    )
    user.groups.add(Group.objects.get(name="Editors"))
    return user


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client
