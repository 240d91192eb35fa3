from __future__ import annotations

from typing import Any

from rest_framework import serializers

from builds.index.pages import file_url
from builds.models import Artifact


class WheelUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
    target = serializers.CharField(
        required=False, max_length=80, help_text="index target, e.g. cp311-manylinux_2_17_s390x"
    )


class YankSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ArtifactSerializer(serializers.ModelSerializer[Artifact]):
    target = serializers.StringRelatedField[Artifact]()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Artifact
        fields = (
            "id",
            "name",
            "version",
            "filename",
            "sha256",
            "size",
            "tags",
            "requires_python",
            "origin",
            "target",
            "uploaded_at",
            "yanked",
            "yanked_reason",
            "provenance",
            "download_url",
        )

    def get_download_url(self, artifact: Artifact) -> str:
        return "/" + file_url(artifact).removeprefix("../../")


class WheelUploadResultSerializer(serializers.Serializer[Any]):
    created = serializers.BooleanField(help_text="false: the same bytes were already stored")
    message = serializers.CharField()
    artifact = ArtifactSerializer()


class YankResultSerializer(serializers.Serializer[Any]):
    changed = serializers.BooleanField(help_text="false: it already was (un)yanked")
    artifact = ArtifactSerializer()
