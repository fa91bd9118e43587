"""`/api/openapi.json`: every route described, bodies generated from the models that validate
them, so what the dashboard sends is what the description says."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from service.config.settings import Settings
from service.web import bodies
from service.web.app import create_app
from service.web.openapi import REF, build_schema


@pytest.fixture(scope="module")
def routes() -> list[Route]:
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    return [r for r in app.routes if isinstance(r, Route) and r.path.startswith("/api/")]


@pytest.fixture(scope="module")
def spec(routes: list[Route]) -> dict[str, Any]:
    return build_schema(list(routes))


def test_openapi_describes_every_api_route(signed_in: tuple[TestClient, str]) -> None:
    client, _ = signed_in
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    app_paths = {
        re.sub(r"{(\w+):\w+}", r"{\1}", r.path)
        for r in client.app.routes  # type: ignore[attr-defined]
        if getattr(r, "path", "").startswith("/api/")
    }
    assert app_paths == set(spec["paths"])
    rerun = spec["paths"]["/api/jobs/{job_id}/rerun"]["post"]
    assert rerun["summary"]
    assert "requestBody" in rerun
    assert rerun["security"]
    assert spec["components"]["securitySchemes"]["csrf"]["name"] == "X-CSRF-Token"


def test_the_edit_operations_described_are_the_ones_accepted(spec: dict[str, Any]) -> None:
    op = spec["components"]["schemas"]["Edit"]["properties"]["op"]
    assert op["enum"] == bodies.manual_ops()
    assert "keep_original" in op["enum"]  # the brush's edit, which the dashboard sends
    assert "damage_mask" in op["enum"]  # and the damage mask brush's
    params = spec["components"]["schemas"]["Edit"]["properties"]["params"]
    assert "damage_mask" in params["description"]


def test_every_body_described_is_the_schema_of_the_model_its_route_validates_with(
    routes: list[Route], spec: dict[str, Any]
) -> None:
    schemas = spec["components"]["schemas"]
    described = 0
    for route in routes:
        declared = bodies.declared(route.endpoint)
        for method, op in spec["paths"][re.sub(r"{(\w+):\w+}", r"{\1}", route.path)].items():
            if method.upper() not in (route.methods or set()):
                continue
            if declared is None:
                assert "requestBody" not in op, route.path
                continue
            media, model = declared
            ref = op["requestBody"]["content"][media]["schema"]["$ref"]
            assert ref == REF.format(model=model.__name__)
            generated = model.model_json_schema(ref_template=REF)
            generated.pop("$defs", None)
            assert schemas[model.__name__] == generated
            described += 1
    assert described == 5  # rerun, retry, queue, enqueue, upload


def test_actions_without_a_body_describe_none(spec: dict[str, Any]) -> None:
    for action in ("approve", "reject"):
        assert "requestBody" not in spec["paths"][f"/api/jobs/{{job_id}}/{action}"]["post"]


def test_a_body_with_a_required_field_is_required(spec: dict[str, Any]) -> None:
    assert spec["paths"]["/api/queue"]["post"]["requestBody"]["required"] is True
    assert spec["paths"]["/api/jobs/retry"]["post"]["requestBody"]["required"] is False


def test_what_the_dashboard_sends_for_a_rerun_is_described(spec: dict[str, Any]) -> None:
    # The body review.js builds: every key it sends is a property of the description.
    sent = {"chain": "classic", "prompt": None, "params": {}, "fidelity": None, "edits": []}
    properties = spec["components"]["schemas"]["RerunBody"]["properties"]
    assert set(sent) <= set(properties)
    keep = {"op": "keep_original", "params": {"mask": "data:image/png;base64,", "feather": 3}}
    parsed = bodies.parse(bodies.RerunBody, {**sent, "edits": [keep]})
    assert parsed.edits[0].op == "keep_original"
