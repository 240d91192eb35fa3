"""Remote plan workers: pop inputs over HTTP, plan them elsewhere, post the plan back."""

from __future__ import annotations

import pytest

from inputs.models import PendingInput
from inputs.services import upload_requirements
from plans.index_client import IndexClient
from plans.models import Plan
from plans.planner import PlanRequest, compute_plan

pytestmark = [pytest.mark.django_db]
TOKEN = "worker-secret"


@pytest.fixture(autouse=True)
def _setup(settings, storage_dir):
    settings.WORKER_TOKEN = TOKEN
    settings.AUTO_PLAN = True
    settings.AUTO_BUILD = False
    settings.LOCAL_PLANNING = False


def _pop(client, query="max=5&worker=ibmz-1"):
    return client.post(f"/api/pending-inputs/pop?{query}", HTTP_X_WORKER_TOKEN=TOKEN)


@pytest.mark.network
def test_a_remote_worker_pops_plans_and_posts_a_plan(client, tmp_path):
    pending = upload_requirements(
        b"six==1.16.0\n", "r.txt", platform_tag="manylinux_2_17_s390x"
    ).pending

    popped = _pop(client).json()["inputs"]
    assert [(i["id"], i["worker"], i["platform_tag"]) for i in popped] == [
        (pending.pk, "worker/ibmz-1", "manylinux_2_17_s390x")
    ]
    assert _pop(client).json()["inputs"] == []  # leased: nobody else gets it

    item = popped[0]
    request = PlanRequest(
        requirements=item["requirements"],
        python_version=item["python_version"],
        platform_tag=item["platform_tag"],
        strategy=item["strategy"],
        overrides=item["overrides"],
    )
    with IndexClient([item["index_url"]], tmp_path / "cache") as index:
        dag, snapshot = compute_plan(request, index)
    response = client.post(
        "/api/plans",
        {"input_id": pending.pk, "worker": "ibmz-1", "dag": dag, "snapshot": snapshot},
        content_type="application/json",
        HTTP_X_WORKER_TOKEN=TOKEN,
    )

    assert response.status_code == 201, response.content
    assert response.json()["target"] == "cp311-manylinux_2_17_s390x"
    pending.refresh_from_db()
    assert pending.status == PendingInput.Status.PLANNED
    assert Plan.objects.get().dag == dag


def _dag(*nodes, edges=()):
    return {
        "nodes": [
            {"name": n, "version": "1.0", "action": a, "source": {"sha256": "a" * 64}}
            for n, a in nodes
        ],
        "edges": [{"from": f, "to": t, "kind": k} for f, t, k in edges],
    }


def _versioned(version):
    dag = _dag(("six", "build"))
    dag["nodes"][0]["version"] = version
    return dag


@pytest.mark.parametrize(
    ("dag", "message"),
    [
        (_dag(), "dag.nodes: This list may not be empty."),
        (_dag(("six", "compile")), 'dag.nodes[0].action: "compile" is not a valid choice.'),
        (_dag(("Six", "build")), "dag.nodes[0].name:"),
        (
            _dag(("six", "build"), edges=[("six==1.0", "nope==1", "install")]),
            "dag: edges[0].to: 'nope==1' is not a node",
        ),
        (
            _dag(("six", "build"), edges=[("six==1.0", "six==1.0", "runtime")]),
            'dag.edges[0].kind: "runtime" is not a valid choice.',
        ),
        (
            _versioned("1.0\n--index-url http://evil.example/simple"),
            "dag.nodes[0].version: '1.0\\n--index-url http://ev",
        ),
        (_versioned(" 1.0"), "dag.nodes[0].version: ' 1.0' is not a PEP 440 version"),
        (_versioned("latest"), "dag.nodes[0].version: 'latest' is not a PEP 440 version"),
        (
            {
                **_dag(("six", "build")),
                "nodes": [{**_dag(("six", "build"))["nodes"][0], "name": "six\n"}],
            },
            "dag.nodes[0].name:",
        ),
        (
            {
                "nodes": [
                    {**_dag(("six", "build"))["nodes"][0], "build_requires": ["--index-url=x"]}
                ],
                "edges": [],
            },
            "dag.nodes[0].build_requires[0]: not a requirement",
        ),
    ],
)
def test_a_malformed_plan_is_refused_with_the_field_named(client, dag, message):
    pending = upload_requirements(b"six\n", "r.txt").pending
    _pop(client)
    response = client.post(
        "/api/plans",
        {"input_id": pending.pk, "worker": "ibmz-1", "dag": dag},
        content_type="application/json",
        HTTP_X_WORKER_TOKEN=TOKEN,
    )
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Plan.objects.exists()


def test_a_plan_from_a_worker_without_the_lease_is_a_conflict(client):
    pending = upload_requirements(b"six\n", "r.txt").pending
    _pop(client)
    response = client.post(
        "/api/plans",
        {"input_id": pending.pk, "worker": "someone-else", "dag": _dag(("six", "reuse"))},
        content_type="application/json",
        HTTP_X_WORKER_TOKEN=TOKEN,
    )
    assert response.status_code == 409
    assert "leased to worker/ibmz-1, not worker/someone-else" in response.json()["error"]


@pytest.mark.parametrize("query", ["max=0", "max=abc", "max=1000"])
def test_pop_refuses_a_bad_max(client, query):
    response = _pop(client, query)
    assert response.status_code == 400
    assert response.json()["error"].startswith("max:")


def test_pop_needs_the_worker_token(client):
    assert client.post("/api/pending-inputs/pop?max=1").status_code == 401
    assert client.post("/api/pending-inputs/pop", HTTP_X_WORKER_TOKEN="nope").status_code == 401
