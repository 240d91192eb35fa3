from django.db import migrations, models


def fill_chunk_sizes(apps, schema_editor):
    """Sizes of the chunks stored before the column existed (the per-attempt bound sums them)."""
    LogChunk = apps.get_model("builds", "LogChunk")
    for chunk in LogChunk.objects.only("id", "text").iterator(chunk_size=200):
        LogChunk.objects.filter(pk=chunk.pk).update(size=len(chunk.text.encode("utf-8", "replace")))


def one_file_per_name(apps, schema_editor):
    """Before the constraint: where earlier versions stored other bytes under a published
    name, the index served the newest; that row keeps the name and the older rows go (their
    bytes stay in the content-addressed store)."""
    Artifact = apps.get_model("builds", "Artifact")
    seen: set[str] = set()
    for artifact in Artifact.objects.order_by("-uploaded_at", "-pk").only("pk", "filename"):
        if artifact.filename in seen:
            artifact.delete()
        seen.add(artifact.filename)


class Migration(migrations.Migration):

    dependencies = [
        ('builds', '0007_artifact_yank_and_metadata_hash'),
        ('plans', '0002_plan_queue_schedule'),
    ]

    operations = [
        migrations.AddField(
            model_name='logchunk',
            name='size',
            field=models.PositiveIntegerField(default=0, help_text='UTF-8 bytes of text'),
        ),
        migrations.RunPython(fill_chunk_sizes, migrations.RunPython.noop),
        migrations.RunPython(one_file_per_name, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='artifact',
            constraint=models.UniqueConstraint(fields=('filename',), name='artifact_unique_filename'),
        ),
    ]
