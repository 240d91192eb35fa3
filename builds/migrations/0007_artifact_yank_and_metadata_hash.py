import hashlib

from django.db import migrations, models


def hash_metadata(apps, schema_editor):
    Artifact = apps.get_model("builds", "Artifact")
    for artifact in Artifact.objects.only("pk", "core_metadata").iterator():
        digest = hashlib.sha256(artifact.core_metadata.encode("utf-8")).hexdigest()
        Artifact.objects.filter(pk=artifact.pk).update(metadata_sha256=digest)


class Migration(migrations.Migration):
    dependencies = [("builds", "0006_builder_images")]

    operations = [
        migrations.AddField(
            model_name="artifact",
            name="metadata_sha256",
            field=models.CharField(
                default="",
                help_text="sha256 of the METADATA bytes (PEP 658 core-metadata hash).",
                max_length=64,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(hash_metadata, migrations.RunPython.noop),
        migrations.AddField(
            model_name="artifact", name="yanked", field=models.BooleanField(default=False)
        ),
        migrations.AddField(
            model_name="artifact", name="yanked_reason", field=models.TextField(blank=True)
        ),
        migrations.AddField(
            model_name="artifact",
            name="yanked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
