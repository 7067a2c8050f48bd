"""The "Editors" group: exactly what curation needs, and no user or group management."""

from django.db import migrations

EDITORS = "Editors"
EDITOR_PERMISSIONS = {
    ("papers", "paper"): ["view", "change"],
    ("papers", "source"): ["view", "change"],
    ("papers", "fetchrun"): ["view", "change"],
    ("newsletter", "topic"): ["view", "change"],
    ("newsletter", "subscriber"): ["view", "change"],
    ("newsletter", "digest"): ["view"],
    ("newsletter", "digestitem"): ["view"],
}


def create_editors(apps, schema_editor):
    # On a fresh database permissions are only created after all migrations (post_migrate),
    # so create the few needed here; post_migrate later finds them and leaves them be.
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    permissions = []
    for (app_label, model_name), actions in EDITOR_PERMISSIONS.items():
        model = apps.get_model(app_label, model_name)
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model_name)
        for action in actions:
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type,
                codename=f"{action}_{model_name}",
                defaults={"name": f"Can {action} {model._meta.verbose_name}"},
            )
            permissions.append(permission)
    group, _ = Group.objects.get_or_create(name=EDITORS)
    group.permissions.set(permissions)


def remove_editors(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=EDITORS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("newsletter", "0002_starting_topics"),
        ("papers", "0002_default_sources"),
    ]

    operations = [migrations.RunPython(create_editors, remove_editors)]
