"""Schedule the build drain loop with django-q2: every minute, build what has become due."""

from django.db import migrations

DRAIN = "drain builds"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=DRAIN,
        defaults={
            "func": "builds.tasks.drain_builds",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=DRAIN).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("builds", "0004_build_dependencies"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
