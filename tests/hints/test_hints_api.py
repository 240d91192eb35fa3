"""The hint catalog over HTTP: reads for all, edits for staff, and every pattern and recipe
checked before it is stored."""

from __future__ import annotations

import pytest

from hints.models import Hint
from tests.factories import HintFactory

pytestmark = pytest.mark.django_db

FFI = {
    "name": "libffi headers",
    "pattern": r"ffi\.h: No such file",
    "recipes": [{"type": "system_packages", "packages": ["libffi-dev"]}],
}


def test_any_signed_in_caller_reads_the_catalog_and_staff_adds_to_it(
    client, automation_api, staff_api
):
    HintFactory(name="existing")
    assert client.get("/api/hints").status_code == 401
    listed = automation_api.get("/api/hints?source=manual").json()["results"]
    assert [h["name"] for h in listed] == ["existing"]
    created = staff_api.post("/api/hints", FFI, format="json")
    assert created.status_code == 201
    assert created.json()["source"] == "manual"
    assert Hint.objects.get(name="libffi headers").recipes == FFI["recipes"]


def test_staff_change_and_delete_a_hint(staff_api):
    hint = HintFactory()
    changed = staff_api.patch(f"/api/hints/{hint.pk}", {"enabled": False}, format="json")
    assert changed.json()["enabled"] is False
    assert staff_api.delete(f"/api/hints/{hint.pk}").status_code == 204
    assert not Hint.objects.exclude(source=Hint.Source.SEEDED).exists()


def test_only_staff_edit_the_catalog(automation_api, worker_api):
    hint = HintFactory()
    assert automation_api.post("/api/hints", FFI, format="json").status_code == 403
    assert worker_api.delete(f"/api/hints/{hint.pk}").status_code == 403
    assert Hint.objects.exclude(source=Hint.Source.SEEDED).count() == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"pattern": "ffi.h: (unclosed"}, "pattern: pattern is not a valid regular expression"),
        ({"recipes": [{"type": "curl_bash", "url": "x"}]}, "recipes: "),
        (
            {"recipes": [{"type": "pip_args", "args": ["--index-url=https://evil.example"]}]},
            "recipes: ",
        ),
        ({"scope": "package"}, "package: a package-scoped hint needs one"),
        ({"scope": "global", "package": "cffi"}, "package: a global hint must not name one"),
    ],
)
def test_a_bad_hint_is_refused_by_field_and_nothing_is_stored(staff_api, change, error):
    response = staff_api.post("/api/hints", {**FFI, **change}, format="json")
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert not Hint.objects.exclude(source=Hint.Source.SEEDED).exists()


def test_a_package_scoped_hint_stores_the_normalized_name(staff_api):
    response = staff_api.post(
        "/api/hints", {**FFI, "scope": "package", "package": "CFFI_Backend"}, format="json"
    )
    assert response.json()["package"] == "cffi-backend"
