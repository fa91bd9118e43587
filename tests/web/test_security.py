"""Sign-in, CSRF, path checks and the API description, through the real app (TestClient)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from tests.web.conftest import BASE, PROXY, client_for, page_token
from tests.web.live import PASSWORD, scan_bytes


def test_pages_redirect_to_login_and_api_answers_401_without_a_session(anon: TestClient) -> None:
    r = anon.get("/files", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Ffiles"
    assert anon.get("/api/jobs").status_code == 401


def test_a_state_changing_request_without_a_session_is_refused(anon: TestClient) -> None:
    for path, body in (
        ("/api/queue", {"paused": True}),
        ("/api/jobs/retry", {}),
        ("/api/files/enqueue", {"paths": ["/Family/to-restore/a.jpg"]}),
    ):
        r = anon.post(path, json=body, headers={"x-csrf-token": "anything"})
        assert r.status_code == 401, path


def test_a_state_changing_request_without_the_csrf_token_is_refused(
    signed_in: tuple[TestClient, str], rdb: redis.Redis
) -> None:
    client, token = signed_in
    assert client.post("/api/queue", json={"paused": True}).status_code == 403
    assert (
        client.post(
            "/api/queue", json={"paused": True}, headers={"x-csrf-token": token[:-2] + "xx"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/queue",
            json={"paused": True},
            headers={"x-csrf-token": token, "origin": "https://evil.example"},
        ).status_code
        == 403
    )
    assert not rdb.exists("photo-restore:paused")
    r = client.post(
        "/api/queue", json={"paused": True}, headers={"x-csrf-token": token, "origin": BASE}
    )
    assert r.status_code == 200
    assert r.json()["paused"] is True


def test_login_and_logout_forms_need_the_csrf_field(anon: TestClient) -> None:
    anon.get("/login")
    r = anon.post("/login", data={"password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403
    assert anon.get("/api/jobs").status_code == 401


def test_a_wrong_password_is_refused(anon: TestClient) -> None:
    html = anon.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    r = anon.post("/login", data={"password": PASSWORD + "x", "csrf_token": token})
    assert r.status_code == 401
    assert "Wrong password." in r.text
    assert anon.get("/api/jobs").status_code == 401


def test_session_cookie_is_signed_httponly_and_samesite(
    signed_in: tuple[TestClient, str], data_dir: Path
) -> None:
    client, _ = signed_in
    cookie = client.cookies.get("photo_restore_session")
    assert cookie
    # A cookie signed by another process's secret is worthless.
    with client_for(data_dir) as other:
        other.cookies.set("photo_restore_session", cookie)
        assert other.get("/api/jobs").status_code == 401


def test_forward_auth_header_mode(rdb: redis.Redis, data_dir: Path) -> None:
    with client_for(
        data_dir,
        peer=PROXY,
        dashboard_password=None,
        auth_header="X-Forwarded-User",
        trusted_proxies="10.0.0.0/24",
    ) as c:
        assert c.get("/api/jobs").status_code == 401
        assert c.get("/api/jobs", headers={"x-forwarded-user": "alice"}).status_code == 200
        html = c.get("/", headers={"x-forwarded-user": "alice"}).text
        token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        hdr = {"x-forwarded-user": "alice"}
        assert c.post("/api/queue", json={"paused": True}, headers=hdr).status_code == 403
        assert (
            c.post(
                "/api/queue", json={"paused": True}, headers={**hdr, "x-csrf-token": token}
            ).status_code
            == 200
        )


def test_open_mode_needs_no_login_but_still_the_csrf_token(
    rdb: redis.Redis, data_dir: Path
) -> None:
    with client_for(data_dir, dashboard_password=None) as c:
        assert c.get("/api/jobs").status_code == 200
        assert c.post("/api/queue", json={"paused": False}).status_code == 403
        token = page_token(c)
        assert (
            c.post(
                "/api/queue", json={"paused": False}, headers={"x-csrf-token": token}
            ).status_code
            == 200
        )


def test_probes_and_webhooks_are_not_behind_the_login(anon: TestClient) -> None:
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/static/app.css").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/Family/to-restore/../../etc",
        "/Family/../Family/to-restore",
        "/etc",
        "/",
        "/Family",
        "/Family/to-restore\\..\\x",
    ],
)
def test_paths_outside_every_inbox_or_with_dotdot_are_refused(
    signed_in: tuple[TestClient, str], data_dir: Path, path: str
) -> None:
    client, token = signed_in
    (data_dir / "secret.txt").write_text("no")
    for url in ("/api/files", "/api/files/thumb", "/api/files/download"):
        r = client.get(url, params={"path": path})
        assert r.status_code in (400, 403), (url, r.status_code)
    r = client.post("/api/files/enqueue", json={"paths": [path]}, headers={"x-csrf-token": token})
    assert r.status_code in (400, 403)
    r = client.post(
        "/api/files/upload",
        data={"folder": path},
        files={"file": ("a.jpg", scan_bytes(), "image/jpeg")},
        headers={"x-csrf-token": token},
    )
    assert r.status_code in (400, 403)


def test_uploads_refuse_junk_names_and_output_folders(
    signed_in: tuple[TestClient, str], data_dir: Path
) -> None:
    client, token = signed_in
    (data_dir / "Family" / "restored").mkdir()
    for name in (".hidden.jpg", "x.jpg.part", "Thumbs.db", "..", "a.failed.txt"):
        r = client.post(
            "/api/files/upload",
            data={"folder": "/Family/to-restore"},
            files={"file": (name, b"x", "image/jpeg")},
            headers={"x-csrf-token": token},
        )
        assert r.status_code == 400, name
    r = client.post(
        "/api/files/upload",
        data={"folder": "/Family/restored"},
        files={"file": ("a.jpg", scan_bytes(), "image/jpeg")},
        headers={"x-csrf-token": token},
    )
    assert r.status_code == 400
    assert sorted(p.name for p in (data_dir / "Family" / "to-restore").iterdir()) == []


def test_upload_writes_the_file_and_queues_it_once(
    signed_in: tuple[TestClient, str], data_dir: Path
) -> None:
    client, token = signed_in
    for _ in range(2):
        r = client.post(
            "/api/files/upload",
            data={"folder": "/Family/to-restore"},
            files={"file": ("scan.jpg", scan_bytes(), "image/jpeg")},
            headers={"x-csrf-token": token},
        )
        assert r.status_code == 201
        assert r.json()["results"][0]["new"] is True
    names = sorted(p.name for p in (data_dir / "Family" / "to-restore").iterdir())
    assert names == ["scan (2).jpg", "scan.jpg"]
    jobs = client.get("/api/jobs").json()
    assert jobs["total"] == 2
    assert {j["origin"] for j in jobs["jobs"]} == {"upload"}
    again = client.post(
        "/api/files/enqueue",
        json={"paths": ["/Family/to-restore/scan.jpg"]},
        headers={"x-csrf-token": token},
    ).json()
    assert again["results"][0]["new"] is False


def test_rerun_refuses_bad_edits(signed_in: tuple[TestClient, str], data_dir: Path) -> None:
    client, token = signed_in
    r = client.post(
        "/api/files/upload",
        data={"folder": "/Family/to-restore"},
        files={"file": ("scan.jpg", scan_bytes(), "image/jpeg")},
        headers={"x-csrf-token": token},
    )
    job_id = r.json()["results"][0]["job"]
    for edits in (
        [{"op": "crop", "params": {"left": 0.8, "right": 0.2}}],
        [{"op": "denoise"}],
        [{"op": "rotate", "params": {"degrees": 45}}],
        "x",
    ):
        r = client.post(
            f"/api/jobs/{job_id}/rerun", json={"edits": edits}, headers={"x-csrf-token": token}
        )
        assert r.status_code == 400, edits
    r = client.post(
        f"/api/jobs/{job_id}/rerun", json={"chain": "nope"}, headers={"x-csrf-token": token}
    )
    assert r.status_code == 400
    r = client.post(f"/api/jobs/{job_id}/approve", headers={"x-csrf-token": token})
    assert r.status_code == 409  # not finished: nothing to approve yet


def test_html_in_names_is_escaped_in_server_rendered_pages(
    signed_in: tuple[TestClient, str], data_dir: Path
) -> None:
    client, token = signed_in
    name = "<script>alert(1)</script>.jpg".replace("/", "")
    r = client.post(
        "/api/files/upload",
        data={"folder": "/Family/to-restore"},
        files={"file": (name, scan_bytes(), "image/jpeg")},
        headers={"x-csrf-token": token},
    )
    job_id = r.json()["results"][0]["job"]
    html = client.get(f"/jobs/{job_id}").text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html
    assert "\\u003cscript\\u003e" in html  # the JSON island escapes too


def test_jobs_list_pages_filters_and_searches(signed_in: tuple[TestClient, str]) -> None:
    client, token = signed_in
    for i in range(7):
        client.post(
            "/api/files/upload",
            data={"folder": "/Family/to-restore"},
            files={"file": (f"p{i}.jpg", scan_bytes(seed=i), "image/jpeg")},
            headers={"x-csrf-token": token},
        )
    page = client.get("/api/jobs", params={"limit": 3, "offset": 3}).json()
    assert page["total"] == 7
    assert len(page["jobs"]) == 3
    assert client.get("/api/jobs", params={"q": "p4"}).json()["total"] == 1
    assert client.get("/api/jobs", params={"status": "queued"}).json()["total"] == 7
    assert client.get("/api/jobs", params={"status": "failed"}).json()["total"] == 0
    assert client.get("/api/jobs", params={"status": "bogus"}).status_code == 400


def test_no_dashboard_script_writes_markup() -> None:
    """Text only: job names, notes and errors reach the page as text nodes, never as HTML."""
    static = Path(__file__).resolve().parents[2] / "webui" / "static"
    markup = re.compile(r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write")
    scripts = sorted(static.glob("*.js"))
    assert any(p.name == "damage.js" for p in scripts)
    found = {p.name: m.group(0) for p in scripts if (m := markup.search(p.read_text("utf-8")))}
    assert found == {}
