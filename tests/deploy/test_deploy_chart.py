"""The Helm chart: Helm's own linter, offline renders with default and non-default values, and
every rendered object checked against the strict Kubernetes schemas (oldest and newest
supported versions). One subprocess does all of it, so the module runs in about a second."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest

from service.config.settings import Settings
from tests.deploy.deploy_support import KUBE_VERSIONS, RELEASE, run_helm_cases

MODELS_A = '[chains.gentle]\ntitle = "Gentle"\nsteps = []\n'
MODELS_B = '[chains.gentle]\ntitle = "Gentler"\nsteps = []\n'
SECRET_VALUES = {
    "hfToken": "hf_TestTokenAbcdefghijklmnop",
    "owncloudPassword": "oc-app-password-123",
    "webhookSecret": "webhook-secret-456",
    "dashboardPassword": "dashboard-pass-789",
}

FULL: dict[str, Any] = {
    "image": {"tag": "1.2.3"},
    "config": {
        "owncloudUrl": "https://cloud.example.org",
        "owncloudUser": "scanner",
        "logJson": False,
        "pollInterval": 15,
        "defaultChain": "gentle",
        "authHeader": "X-Forwarded-User",
        "trustedProxies": "10.0.0.0/8",
    },
    "secrets": {name: {"value": value} for name, value in SECRET_VALUES.items()},
    "models": {"toml": MODELS_A},
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "hosts": [{"host": "photos.example.org", "paths": [{"path": "/", "pathType": "Prefix"}]}],
        "tls": [{"secretName": "photos-tls", "hosts": ["photos.example.org"]}],
    },
    "web": {"replicas": 3},
    "worker": {
        "drainSeconds": 600,
        "autoscaling": {
            "enabled": True,
            "minReplicas": 2,
            "maxReplicas": 10,
            "queueDepthPerWorker": 5,
            "queueDepthMetric": {"selector": {"matchLabels": {"release": "demo"}}},
        },
    },
    "redis": {"enabled": False, "url": "redis://redis.infra.svc:6379/3"},
    "persistence": {"existingClaim": "photos-data"},
    "metrics": {"podMonitor": {"enabled": True}},
    "extraEnv": [{"name": "MAX_FILE_MB", "value": "200"}],
}
FULL_OTHER_MODELS = copy.deepcopy(FULL) | {"models": {"toml": MODELS_B}}
EXISTING: dict[str, Any] = {
    "secrets": {
        name: {"existingSecret": "photo-restore-creds"}
        for name in ("hfToken", "owncloudPassword", "webhookSecret", "dashboardPassword")
    },
    "models": {"existingConfigMap": "my-models"},
    "redis": {"enabled": False, "existingSecret": "redis-creds", "existingSecretKey": "url"},
    "config": {"owncloudUrl": "https://cloud.example.org", "owncloudUser": "scanner"},
}
CASES: dict[str, Any] = {
    "default": None,
    "full": FULL,
    "full-other-models": FULL_OTHER_MODELS,
    "existing": EXISTING,
    "redis-official-image": {
        "redis": {"image": {"repository": "docker.io/library/redis", "tag": "7.4-alpine"}},
    },
    "typo": {"wrker": {"replicas": 2}},
    "bad-level": {"config": {"logLevel": "LOUD"}},
    "no-redis": {"redis": {"enabled": False}},
}
GOOD = ["default", "full", "full-other-models", "existing", "redis-official-image"]


@pytest.fixture(scope="module")
def report(deploy_python: Path) -> dict[str, Any]:
    """Helm's verdict on every case, computed once for the module."""
    return run_helm_cases(deploy_python, CASES)


def objects(report: dict[str, Any], case: str) -> list[dict[str, Any]]:
    """The rendered Kubernetes objects of one case."""
    result = report["cases"][case]
    assert result["error"] is None, result["error"]
    return result["objects"]


def find(report: dict[str, Any], case: str, kind: str, suffix: str = "") -> dict[str, Any]:
    """The one object of `kind` whose name ends with `suffix`."""
    matches = [
        o
        for o in objects(report, case)
        if o["kind"] == kind and o["metadata"]["name"].endswith(suffix)
    ]
    assert len(matches) == 1, [o["metadata"]["name"] for o in matches]
    return matches[0]


def kinds(report: dict[str, Any], case: str) -> list[str]:
    """`Kind/name` of every object, for readable assertions."""
    return sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects(report, case))


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """Container env as name -> value or valueFrom."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def pod_specs(report: dict[str, Any], case: str) -> list[dict[str, Any]]:
    """Pod specs of every Deployment in the case."""
    return [
        o["spec"]["template"]["spec"] for o in objects(report, case) if o["kind"] == "Deployment"
    ]


def test_the_real_helm_library_ran(report: dict[str, Any]) -> None:
    assert report["helm"].startswith("v4."), report["helm"]


@pytest.mark.parametrize("case", GOOD)
def test_chart_lints_clean_with_helm_strict(report: dict[str, Any], case: str) -> None:
    lint = report["cases"][case]["lint"]
    assert lint["total_charts_linted"] == 1
    assert lint["messages"] == [], lint["messages"]
    assert lint["errors"] == []


@pytest.mark.parametrize("case", GOOD)
def test_rendered_objects_match_strict_kubernetes_schemas(
    report: dict[str, Any], case: str
) -> None:
    assert objects(report, case), "nothing rendered"
    assert report["cases"][case]["invalid"] == [], f"invalid against {KUBE_VERSIONS}"


def test_default_install_is_web_worker_and_bundled_redis(report: dict[str, Any]) -> None:
    assert kinds(report, "default") == sorted(
        [
            f"Deployment/{RELEASE}-photo-restore-web",
            f"Deployment/{RELEASE}-photo-restore-worker",
            f"Deployment/{RELEASE}-photo-restore-redis",
            f"Service/{RELEASE}-photo-restore",
            f"Service/{RELEASE}-photo-restore-redis",
            f"NetworkPolicy/{RELEASE}-photo-restore-redis",
            f"PodDisruptionBudget/{RELEASE}-photo-restore-web",
            f"PodDisruptionBudget/{RELEASE}-photo-restore-worker",
            f"Secret/{RELEASE}-photo-restore-redis-url",
            f"Secret/{RELEASE}-photo-restore-secrets",
            f"ServiceAccount/{RELEASE}-photo-restore",
        ]
    )
    redis = find(report, "default", "Deployment", "-redis")
    assert redis["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "docker.io/valkey/valkey:"
    )
    url = find(report, "default", "Secret", "-redis-url")["data"]["REDIS_URL"]
    assert base64.b64decode(url).decode() == f"redis://{RELEASE}-photo-restore-redis:6379/0"


def test_non_default_values_give_ingress_hpa_external_redis(report: dict[str, Any]) -> None:
    names = kinds(report, "full")
    assert f"Ingress/{RELEASE}-photo-restore" in names
    assert f"HorizontalPodAutoscaler/{RELEASE}-photo-restore-worker" in names
    assert f"ConfigMap/{RELEASE}-photo-restore-models" in names
    assert f"PodMonitor/{RELEASE}-photo-restore" in names
    assert not [n for n in names if n.endswith("-redis")], "no bundled Redis with redis.url"
    worker = find(report, "full", "Deployment", "-worker")
    assert "replicas" not in worker["spec"], "the HPA owns the worker's replicas"
    hpa = find(report, "full", "HorizontalPodAutoscaler")
    external = [m for m in hpa["spec"]["metrics"] if m["type"] == "External"]
    assert external[0]["external"]["metric"]["name"] == "photo_restore_queue_depth"
    assert external[0]["external"]["target"] == {"type": "AverageValue", "averageValue": "5"}
    assert find(report, "full", "Deployment", "-web")["spec"]["replicas"] == 3
    url = find(report, "full", "Secret", "-redis-url")["data"]["REDIS_URL"]
    assert base64.b64decode(url).decode() == "redis://redis.infra.svc:6379/3"
    ingress = find(report, "full", "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"][0]["secretName"] == "photos-tls"
    web = find(report, "full", "Deployment", "-web")["spec"]["template"]["spec"]
    env = env_of(web["containers"][0])
    assert env["OWNCLOUD_URL"] == "https://cloud.example.org"
    assert env["LOG_JSON"] == "false"
    assert env["POLL_INTERVAL"] == "15"
    assert env["MAX_FILE_MB"] == "200"
    assert web["containers"][0]["image"] == "ghcr.io/photo-restore/photo-restore:1.2.3"
    data = next(v for v in web["volumes"] if v["name"] == "data")
    assert data["persistentVolumeClaim"]["claimName"] == "photos-data"


@pytest.mark.parametrize("case", GOOD)
def test_every_pod_is_hardened(report: dict[str, Any], case: str) -> None:
    for spec in pod_specs(report, case):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert isinstance(pod["runAsUser"], int)
        assert pod["runAsUser"] > 0
        assert pod["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        tmp = [v for v in spec["volumes"] if v["name"] == "tmp"]
        assert tmp
        assert "emptyDir" in tmp[0]
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
            assert container["resources"]["requests"], container["name"]
            assert container["resources"]["limits"]["memory"], container["name"]
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                assert probe in container, f"{container['name']} has no {probe}"


def test_web_probes_use_healthz_and_readyz(report: dict[str, Any]) -> None:
    web = find(report, "default", "Deployment", "-web")["spec"]["template"]["spec"]
    container = web["containers"][0]
    assert container["args"] == ["serve"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert env_of(container)["HOST"] == "0.0.0.0"


@pytest.mark.parametrize("case", ["default", "full"])
def test_worker_probes_check_the_worker_and_grace_covers_drain(
    report: dict[str, Any], case: str
) -> None:
    spec = find(report, case, "Deployment", "-worker")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["args"] == ["worker"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["exec"]["command"] == ["photo-restore", "worker", "--check"]
    drain = int(env_of(container)["DRAIN_SECONDS"])
    assert drain == (600 if case == "full" else 120)
    # SIGKILL must not come before the drain ends (plus time to hand jobs back).
    assert spec["terminationGracePeriodSeconds"] >= drain + 10


def test_models_toml_change_rolls_the_pods(report: dict[str, Any]) -> None:
    def checksum(case: str, role: str) -> str:
        deployment = find(report, case, "Deployment", f"-{role}")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/models"]

    for role in ("web", "worker"):
        assert checksum("full", role) != checksum("full-other-models", role)
    cm = find(report, "full", "ConfigMap", "-models")
    assert cm["data"]["models.toml"].strip() == MODELS_A.strip()
    worker = find(report, "full", "Deployment", "-worker")["spec"]["template"]["spec"]
    assert env_of(worker["containers"][0])["MODELS_FILE"] == "/etc/photo-restore/models.toml"
    assert {"name": "models", "mountPath": "/etc/photo-restore", "readOnly": True} in (
        worker["containers"][0]["volumeMounts"]
    )


def test_secret_values_only_in_the_secret(report: dict[str, Any]) -> None:
    secret = find(report, "full", "Secret", "-secrets")
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {
        "HF_TOKEN": SECRET_VALUES["hfToken"],
        "OWNCLOUD_PASSWORD": SECRET_VALUES["owncloudPassword"],
        "WEBHOOK_SECRET": SECRET_VALUES["webhookSecret"],
        "DASHBOARD_PASSWORD": SECRET_VALUES["dashboardPassword"],
    }
    templates = report["cases"]["full"]["templates"]
    for path, text in templates.items():
        if path.endswith("secret.yaml"):
            continue
        for value in SECRET_VALUES.values():
            assert value not in text, f"{value!r} leaked into {path}"
    web = find(report, "full", "Deployment", "-web")["spec"]["template"]["spec"]
    env = env_of(web["containers"][0])
    assert env["HF_TOKEN"] == {
        "secretKeyRef": {"name": f"{RELEASE}-photo-restore-secrets", "key": "HF_TOKEN"}
    }
    # A secret change rolls the pods too.
    annotations = find(report, "full", "Deployment", "-web")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert "checksum/secrets" in annotations


def test_existing_secrets_and_configmap_are_used(report: dict[str, Any]) -> None:
    names = kinds(report, "existing")
    assert not [n for n in names if n.startswith(("Secret/", "ConfigMap/"))], names
    assert not [n for n in names if n.endswith("-redis")], names
    worker = find(report, "existing", "Deployment", "-worker")["spec"]["template"]["spec"]
    env = env_of(worker["containers"][0])
    for key in ("HF_TOKEN", "OWNCLOUD_PASSWORD", "WEBHOOK_SECRET", "DASHBOARD_PASSWORD"):
        assert env[key] == {"secretKeyRef": {"name": "photo-restore-creds", "key": key}}
    assert env["REDIS_URL"] == {"secretKeyRef": {"name": "redis-creds", "key": "url"}}
    assert "SESSION_SECRET" not in env, "a secret with neither value nor existingSecret is unset"
    models = next(v for v in worker["volumes"] if v["name"] == "models")
    assert models["configMap"]["name"] == "my-models"


def test_without_any_dashboard_auth_a_password_is_generated(report: dict[str, Any]) -> None:
    # Without DASHBOARD_PASSWORD or AUTH_HEADER the web process binds loopback only, where
    # neither the kubelet's probes nor users reach it: the default install must set one.
    secret = find(report, "default", "Secret", "-secrets")
    password = base64.b64decode(secret["data"]["DASHBOARD_PASSWORD"]).decode()
    assert len(password) >= 20
    web = find(report, "default", "Deployment", "-web")["spec"]["template"]["spec"]
    assert env_of(web["containers"][0])["DASHBOARD_PASSWORD"] == {
        "secretKeyRef": {"name": f"{RELEASE}-photo-restore-secrets", "key": "DASHBOARD_PASSWORD"}
    }
    notes = next(
        t for p, t in report["cases"]["default"]["templates"].items() if p.endswith("NOTES.txt")
    )
    assert "jsonpath='{.data.DASHBOARD_PASSWORD}'" in notes
    assert password not in notes


def test_official_redis_image_is_accepted(report: dict[str, Any]) -> None:
    redis = find(report, "redis-official-image", "Deployment", "-redis")
    assert redis["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "docker.io/library/redis:7.4-alpine"
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("typo", "wrker"),
        ("bad-level", "logLevel"),
        ("no-redis", "redis.url / redis.existingSecret"),
    ],
)
def test_wrong_values_are_refused_with_a_clear_message(
    report: dict[str, Any], case: str, expected: str
) -> None:
    error = report["cases"][case]["error"]
    assert error is not None
    assert expected in error, error


def test_notes_tell_the_webhook_urls_to_register(report: dict[str, Any]) -> None:
    notes = next(
        t for p, t in report["cases"]["full"]["templates"].items() if p.endswith("NOTES.txt")
    )
    assert "https://photos.example.org/webhooks/nextcloud" in notes
    assert "https://photos.example.org/webhooks/files" in notes
    assert "X-Webhook-Secret" in notes
    for value in SECRET_VALUES.values():
        assert value not in notes
    default = next(
        t for p, t in report["cases"]["default"]["templates"].items() if p.endswith("NOTES.txt")
    )
    assert "Webhooks are OFF" in default
    assert "port-forward" in default


def test_pod_disruption_budgets_select_their_pods(report: dict[str, Any]) -> None:
    for role in ("web", "worker"):
        pdb = find(report, "default", "PodDisruptionBudget", f"-{role}")
        deployment = find(report, "default", "Deployment", f"-{role}")
        assert (
            pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        )


@pytest.mark.parametrize("case", ["default", "full", "existing"])
def test_chart_sets_only_settings_the_service_reads(report: dict[str, Any], case: str) -> None:
    known = {name.upper() for name in Settings.model_fields} | {"METRICS_PORT"}
    for role in ("web", "worker"):
        spec = find(report, case, "Deployment", f"-{role}")["spec"]["template"]["spec"]
        names = set(env_of(spec["containers"][0])) - {"MAX_FILE_MB"}  # MAX_FILE_MB: extraEnv
        assert names <= known, names - known
