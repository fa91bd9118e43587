"""Lint, render and schema-check the Helm chart; runs inside `.venv-deploy`, not the test venv.

Why a separate interpreter: the real Helm library (`helm-python-sdk`, Helm's Go SDK behind a C
ABI) and `kubernetes-validate` are deploy tooling, installed by `scripts/setup-deploy-tools`
into `.venv-deploy` so the service's own environment stays free of a 250 MB native library.
The tests call this script once per session with every case on stdin and read one JSON report.

Input (stdin):  {"chart": PATH, "release": NAME, "namespace": NS, "kube_versions": [...],
                 "cases": {CASE: VALUES-OR-NULL}}
Output (stdout): {"helm": VERSION, "cases": {CASE: {"lint": {...}, "error": STR|null,
                 "templates": {PATH: TEXT}, "objects": [...], "invalid": [STR]}}}
"""

from __future__ import annotations

import json
import sys
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

# Kinds from CRDs have no schema among Kubernetes' own; they are checked by their own tests.
CRD_GROUPS = ("monitoring.coreos.com/",)


def _validate(objects: list[dict[str, Any]], kube_versions: list[str]) -> list[str]:
    """Every object against the strict Kubernetes OpenAPI schemas of each version."""
    problems: list[str] = []
    for obj in objects:
        if str(obj.get("apiVersion", "")).startswith(CRD_GROUPS):
            continue
        name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        for version in kube_versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = "/".join(str(p) for p in exc.path)
                problems.append(f"{version} {name} {path}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                problems.append(f"{version} {name}: no schema ({exc})")
    return problems


def _run_case(request: dict[str, Any], values: dict[str, Any] | None) -> dict[str, Any]:
    chart_path = request["chart"]
    # strict=True: Helm's own linter treats warnings as errors, like `helm lint --strict`.
    lint = helm.lint(chart_path, values, strict=True, namespace=request["namespace"])
    result: dict[str, Any] = {"lint": lint, "error": None, "templates": {}, "objects": []}
    try:
        with helm.Chart.load(chart_path) as chart:
            templates = chart.render(
                values,
                name=request["release"],
                namespace=request["namespace"],
                is_install=True,
            )
    except helm.HelmError as exc:
        result["error"] = str(exc)
        result["invalid"] = []
        return result
    result["templates"] = templates
    objects: list[dict[str, Any]] = []
    for path, text in sorted(templates.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objects.append(doc)
    result["objects"] = objects
    result["invalid"] = _validate(objects, request["kube_versions"])
    return result


def main() -> int:
    """Read the request, run every case, print the report."""
    request = json.load(sys.stdin)
    report = {
        "helm": helm.helm_sdk_version(),
        "kubernetes_validate": kubernetes_validate.__version__,
        "cases": {name: _run_case(request, values) for name, values in request["cases"].items()},
    }
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
