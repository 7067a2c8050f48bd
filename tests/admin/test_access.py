"""Only staff reach admin; editors curate but cannot manage users or groups."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

pytestmark = pytest.mark.django_db

CURATION_PAGES = [
    "/admin/",
    "/admin/papers/paper/",
    "/admin/papers/source/",
    "/admin/papers/fetchrun/",
    "/admin/newsletter/topic/",
    "/admin/newsletter/subscriber/",
    "/admin/newsletter/digest/",
]
USER_MANAGEMENT_PAGES = [
    "/admin/auth/user/",
    "/admin/auth/user/add/",
    "/admin/auth/group/",
    "/admin/auth/group/add/",
    "/admin/django_celery_beat/periodictask/",
]


@pytest.mark.parametrize("path", CURATION_PAGES + USER_MANAGEMENT_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("path", CURATION_PAGES + USER_MANAGEMENT_PAGES)
def test_logged_in_readers_who_are_not_staff_reach_nothing(client, path):
    client.force_login(User.objects.create_user("reader", "reader@example.com", "x"))

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("path", CURATION_PAGES)
def test_editors_reach_every_curation_page(editor_client, path):
    assert editor_client.get(path).status_code == 200


@pytest.mark.parametrize("path", USER_MANAGEMENT_PAGES)
def test_editors_cannot_manage_users_groups_or_schedules(editor_client, path):
    assert editor_client.get(path).status_code == 403


def test_an_editor_cannot_make_themselves_superuser(editor_client, editor):
    response = editor_client.post(
        f"/admin/auth/user/{editor.pk}/change/",
        {"username": "editor", "is_staff": "on", "is_superuser": "on"},
    )

    assert response.status_code == 403
    editor.refresh_from_db()
    assert editor.is_superuser is False


def test_the_editors_group_holds_exactly_the_curation_permissions():
    permissions = {
        f"{app_label}.{codename}"
        for app_label, codename in Group.objects.get(name="Editors").permissions.values_list(
            "content_type__app_label", "codename"
        )
    }

    assert permissions == {
        "papers.view_paper",
        "papers.change_paper",
        "papers.view_source",
        "papers.change_source",
        "papers.view_fetchrun",
        "papers.change_fetchrun",
        "newsletter.view_topic",
        "newsletter.change_topic",
        "newsletter.view_subscriber",
        "newsletter.change_subscriber",
        "newsletter.view_digest",
        "newsletter.view_digestitem",
        "newsletter.view_synonym",
        "newsletter.add_synonym",
        "newsletter.change_synonym",
        "newsletter.delete_synonym",
    }


def test_a_staff_member_outside_the_editors_group_sees_no_models(client):
    client.force_login(User.objects.create_user("intern", "i@example.com", "x", is_staff=True))

    index = client.get("/admin/")

    assert index.status_code == 200
    assert "You don’t have permission to view or edit anything." in index.content.decode()
    assert "paperboy-dashboard" not in index.content.decode()
    assert client.get("/admin/papers/paper/").status_code == 403
