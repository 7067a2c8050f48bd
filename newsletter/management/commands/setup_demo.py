"""Prepare the embedded demo: an admin login and the sample papers, re-dated to today."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from papers.sample_data import load_sample_papers


class Command(BaseCommand):
    help = "Create (or reset) the demo admin login and load sample papers. Prints the login."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        created, updated = load_sample_papers(shift_to_today=True)
        self.stdout.write(f"sample papers: {created} created, {updated} updated")
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@localhost"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"admin login: {settings.SITE_URL}/{settings.ADMIN_URL}  "
                f"user {username}  password {password}"
            )
        )
