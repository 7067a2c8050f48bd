"""Prepare the embedded demo: its .env, an admin login and the sample papers, re-dated to today."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from newsletter.demo import demo_env_write
from newsletter.recommend.neighbours import similar_papers_compute
from papers.sample_data import load_sample_papers


class Command(BaseCommand):
    help = (
        "Load the sample papers and make sure a demo admin exists. An existing admin keeps "
        "its password: a login is printed only when the admin is created, or with "
        "--reset-password."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--reset-password", action="store_true", help="give the admin a new password"
        )
        parser.add_argument(
            "--env-file",
            type=Path,
            default=None,
            help="write the demo's settings (key, DEBUG, SITE_URL) to this .env file",
        )

    def handle(
        self, *args, username: str, reset_password: bool, env_file: Path | None, **options
    ) -> None:
        if env_file is not None:
            outcome = demo_env_write(path=env_file, site_url=settings.SITE_URL)
            self.stdout.write(f"{env_file}: {outcome} (SITE_URL {settings.SITE_URL})")
        created, updated = load_sample_papers(shift_to_today=True)
        self.stdout.write(f"sample papers: {created} created, {updated} updated")
        similar = similar_papers_compute()
        self.stdout.write(f'"more like this" lists: {similar.papers} papers')
        user, is_new = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@localhost"}
        )
        admin_url = f"{settings.SITE_URL}/{settings.ADMIN_URL}"
        if not (user.is_staff and user.is_superuser):
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        if is_new or reset_password or not user.has_usable_password():
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save(update_fields=["password"])
            login = f"admin login: {admin_url}  user {username}  password {password}"
            self.stdout.write(self.style.SUCCESS(login))
        else:
            self.stdout.write(
                f"admin: {admin_url}  user {username} (password unchanged; "
                "`python manage.py setup_demo --reset-password` prints a new one)"
            )
