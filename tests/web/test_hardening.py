"""Issue 13's web findings, each proven through the real app: proxies, sign-in, sessions,
headers, bodies and error texts (a real Redis; TestClient or httpx in-process)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from service.commands.run import _uvicorn
from service.constants import WATCH_TRIGGER_KEY
from tests.hostile.corpus import deep_json, png_bomb, tiff_bomb
from tests.servers import start_wsgidav
from tests.web.api_support import api_for
from tests.web.conftest import PROXY, STRANGER, client_for, page_token
from tests.web.live import PASSWORD, make_settings, scan_bytes

HEADER_MODE = {
    "dashboard_password": None,
    "auth_header": "X-Forwarded-User",
    "trusted_proxies": "10.0.0.0/24",
}


def form_token(client: TestClient) -> str:
    html = client.get("/login").text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def sign_in(client: TestClient, password: str = PASSWORD, **headers: str) -> int:
    r = client.post(
        "/login",
        data={"password": password, "csrf_token": form_token(client), "next": "/"},
        headers=headers,
        follow_redirects=False,
    )
    return r.status_code


# -- 4, 18: one trusted-proxy setting ------------------------------------------------------
def test_a_forwarded_user_header_from_a_stranger_signs_nobody_in(
    rdb: redis.Redis, data_dir: Path
) -> None:
    with client_for(data_dir, peer=STRANGER, **HEADER_MODE) as c:
        assert c.get("/api/jobs", headers={"x-forwarded-user": "admin"}).status_code == 401
    with client_for(data_dir, peer=PROXY, **HEADER_MODE) as c:
        assert c.get("/api/jobs", headers={"x-forwarded-user": "admin"}).status_code == 200


def test_uvicorn_believes_no_forwarded_header_itself(data_dir: Path) -> None:
    settings = make_settings(data_dir, **HEADER_MODE)
    assert _uvicorn(object(), settings, "0.0.0.0").config.proxy_headers is False


def test_the_origin_check_believes_x_forwarded_host_only_from_a_trusted_proxy(
    rdb: redis.Redis, data_dir: Path
) -> None:
    evil = {"origin": "https://evil.example", "x-forwarded-host": "evil.example"}
    for peer, expected in ((STRANGER, 403), (PROXY, 200)):
        with client_for(data_dir, peer=peer, trusted_proxies="10.0.0.0/24") as c:
            assert sign_in(c) == 303
            token = page_token(c)
            r = c.post(
                "/api/queue", json={"paused": False}, headers={**evil, "x-csrf-token": token}
            )
            assert r.status_code == expected, peer


def test_the_guards_own_refusals_carry_the_security_headers(anon: TestClient) -> None:
    for r in (anon.get("/api/jobs"), anon.post("/api/queue", json={})):
        assert r.status_code == 401
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "camera=()" in r.headers["permissions-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in r.headers  # plain http: no HSTS


def test_hsts_and_secure_cookies_behind_an_https_proxy_only(
    rdb: redis.Redis, data_dir: Path
) -> None:
    https = {"x-forwarded-proto": "https"}
    with client_for(data_dir, peer=PROXY, trusted_proxies="10.0.0.0/24") as c:
        r = c.get("/login", headers=https)
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert "secure" in r.headers["set-cookie"].lower()
    with client_for(data_dir, peer=STRANGER, trusted_proxies="10.0.0.0/24") as c:
        r = c.get("/login", headers=https)  # a stranger cannot claim https
        assert "strict-transport-security" not in r.headers
        assert "secure" not in r.headers["set-cookie"].lower()


# -- 6: sign-in throttling -------------------------------------------------------------------
def test_sign_in_is_throttled_per_client_and_each_failure_is_logged(
    rdb: redis.Redis, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="service.web.signin")
    with client_for(data_dir, peer=STRANGER) as c:
        for _ in range(10):
            # A forged X-Forwarded-For from a stranger changes nothing: the peer counts.
            assert sign_in(c, "guess", **{"x-forwarded-for": "203.0.113.9"}) == 401
        r = c.post(
            "/login",
            data={"password": PASSWORD, "csrf_token": form_token(c), "next": "/"},
            follow_redirects=False,
        )
        assert r.status_code == 429  # even the right password waits now
        assert int(r.headers["retry-after"]) > 0
        assert c.get("/api/jobs").status_code == 401
    failures = [m for m in caplog.messages if m.startswith("sign-in failed from 198.51.100.7")]
    assert len(failures) == 10
    assert any(m.startswith("sign-in refused from 198.51.100.7") for m in caplog.messages)
    with client_for(data_dir, peer=("192.0.2.44", 1)) as other:
        assert sign_in(other) == 303  # another client is not locked out


# -- 13: sessions on the server ----------------------------------------------------------------
def test_a_cookie_replayed_after_sign_out_is_refused(
    signed_in: tuple[TestClient, str], data_dir: Path
) -> None:
    client, _ = signed_in
    cookie = client.cookies.get("photo_restore_session")
    r = client.post("/logout", data={"csrf_token": page_token(client)}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()
    client.cookies.set("photo_restore_session", cookie)  # the copy an attacker kept
    assert client.get("/api/jobs").status_code == 401


def test_sign_out_needs_the_csrf_token(signed_in: tuple[TestClient, str]) -> None:
    client, _ = signed_in
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.get("/api/jobs").status_code == 200  # still signed in


def test_a_changed_password_ends_every_session(rdb: redis.Redis, data_dir: Path) -> None:
    secret = {"session_secret": "the same secret on every replica"}
    with client_for(data_dir, **secret) as before:
        assert sign_in(before) == 303
        cookie = before.cookies.get("photo_restore_session")
    with client_for(data_dir, dashboard_password="a new password", **secret) as after:
        after.cookies.set("photo_restore_session", cookie)
        assert after.get("/api/jobs").status_code == 401


# -- 7, 14: bodies -------------------------------------------------------------------------------
def test_deep_or_non_utf8_json_is_400_never_500(
    signed_in: tuple[TestClient, str], data_dir: Path
) -> None:
    client, token = signed_in
    for body in (deep_json(), b"[" * 40 + b"]" * 40, b'{"paused": "\xff\xfe"}'):
        r = client.post(
            "/api/queue",
            content=body,
            headers={"x-csrf-token": token, "content-type": "application/json"},
        )
        assert r.status_code == 400, body[:20]
    with client_for(data_dir, webhook_secret="s3cret") as hooks:
        for body in (deep_json(), b'{"path": "/Family/to-restore/\xff.jpg"}'):
            r = hooks.post("/webhooks/files", content=body, headers={"x-webhook-secret": "s3cret"})
            assert r.status_code == 400


async def test_a_webhook_body_over_its_limit_is_refused_before_it_is_read(
    rdb: redis.Redis, data_dir: Path
) -> None:
    sent = 0

    async def flood():  # chunked: no Content-Length to refuse by
        nonlocal sent
        for _ in range(64):
            sent += 64 * 1024
            yield b" " * (64 * 1024)

    async with api_for(data_dir, webhook_secret="s3cret") as api:
        r = await api.client.post(
            "/webhooks/files", content=flood(), headers={"x-webhook-secret": "s3cret"}
        )
        assert r.status_code == 413
        big = await api.client.post(
            "/webhooks/files",
            content=b" " * (300 * 1024),
            headers={"x-webhook-secret": "s3cret"},
        )
        assert big.status_code == 413  # announced: refused before a byte is read
    assert sent <= 320 * 1024  # refused at the chunk that passed 256 KiB, not after 4 MiB


@pytest.fixture
async def api_small(rdb: redis.Redis, data_dir: Path) -> AsyncIterator[object]:
    async with api_for(data_dir, max_file_mb=2) as a:
        yield a


def _multipart(name: str, data: bytes, boundary: str = "b0undary") -> list[bytes]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="folder"\r\n\r\n'
        f"/Family/to-restore\r\n--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return [head, data, f"\r\n--{boundary}--\r\n".encode()]


async def test_a_chunked_upload_is_refused_as_soon_as_it_passes_max_file_mb(
    api_small: object, data_dir: Path
) -> None:
    api = api_small
    sent = 0

    async def body():
        nonlocal sent
        head, _data, tail = _multipart("big.jpg", b"")
        yield head
        for _ in range(24):  # 24 MiB announced by nobody: no Content-Length
            sent += 1 << 20
            yield b"\xff" * (1 << 20)
        yield tail

    r = await api.client.post(  # type: ignore[attr-defined]
        "/api/files/upload",
        content=body(),
        headers={
            "x-csrf-token": api.token,
            "content-type": "multipart/form-data; boundary=b0undary",
        },  # type: ignore[attr-defined]
    )
    assert r.status_code == 413
    assert "MAX_FILE_MB" in r.json()["error"]
    assert sent <= 4 << 20  # stopped right after the file passed 2 MB
    assert list((data_dir / "Family/to-restore").iterdir()) == []


def _written() -> int:
    return int(re.search(r"wchar: (\d+)", Path("/proc/self/io").read_text()).group(1))  # type: ignore[union-attr]


async def test_an_upload_is_written_once_to_temp_then_to_the_inbox(
    api_small: object, data_dir: Path
) -> None:
    api = api_small
    data = scan_bytes() + b"\0" * (3 << 19)  # 1.5 MB: past Starlette's 1 MB in-memory spool
    before = _written()
    job = await api.upload("once.jpg", data)  # type: ignore[attr-defined]
    written = _written() - before
    assert job
    assert (data_dir / "Family/to-restore/once.jpg").stat().st_size == len(data)
    assert written < 2.5 * len(data)  # temp file + inbox; a third copy would pass 3×


# -- 3, 15: what error texts and views show --------------------------------------------------
async def test_a_bomb_in_a_restored_folder_is_refused_by_thumbnails_and_views(
    rdb: redis.Redis, data_dir: Path
) -> None:
    out = data_dir / "Family/restored"
    out.mkdir()
    (out / "bomb.png").write_bytes(png_bomb(13000, 13000))  # 169 MP in a few hundred KB
    async with api_for(data_dir) as api:
        r = await api.client.get("/api/files/thumb", params={"path": "/Family/restored/bomb.png"})
        assert r.status_code == 422
        assert "MAX_PIXELS" in r.json()["error"]
        job = await api.upload("bomb.tif", tiff_bomb(13000, 13000))  # views convert TIFF
        for url in (f"/api/jobs/{job}/image/source", f"/api/jobs/{job}/file/original"):
            r = await api.client.get(url)
            assert r.status_code == 422, url
            assert "MAX_PIXELS" in r.json()["error"]


async def test_long_or_impossible_paths_are_clear_4xx_without_server_paths(
    rdb: redis.Redis, data_dir: Path
) -> None:
    (data_dir / "Family/to-restore/first.jpg").write_bytes(scan_bytes())
    (data_dir / "Family/to-restore/notes.jpg").write_bytes(b"not a picture")
    async with api_for(data_dir) as api:
        long = "/Family/to-restore/" + "x" * 5000
        for url, params in (
            ("/api/files", {"path": long}),
            ("/api/files/thumb", {"path": long}),
            ("/api/files/thumb", {"path": "/Family/to-restore/first.jpg/x"}),
            ("/api/files/download", {"path": "/Family/to-restore/first.jpg/x"}),
            ("/api/files/thumb", {"path": "/Family/to-restore/notes.jpg"}),
        ):
            r = await api.client.get(url, params=params)
            assert 400 <= r.status_code < 500, (url, params["path"][:40], r.status_code)
            assert str(data_dir) not in r.text, r.text
            assert "/tmp" not in r.text, r.text
        r = await api.post("/api/files/enqueue", {"paths": [long]})
        assert r.status_code == 400
        r = await api.client.post(
            "/api/files/upload",
            data={"folder": "/Family/to-restore"},
            files={"file": ("n" * 300 + ".jpg", scan_bytes(), "image/jpeg")},
            headers={"x-csrf-token": api.token},
        )
        assert r.status_code == 400
        assert "255" in r.json()["error"]


async def test_an_upload_without_a_multipart_body_is_400(rdb: redis.Redis, data_dir: Path) -> None:
    async with api_for(data_dir) as api:
        for headers, content in (
            ({"content-type": "multipart/form-data"}, b"x"),  # no boundary
            ({"content-type": "multipart/form-data; boundary=zz"}, b"--zz\r\nbroken"),
            ({"content-type": "text/plain"}, b"hello"),
        ):
            r = await api.client.post(
                "/api/files/upload",
                content=content,
                headers={**headers, "x-csrf-token": api.token},
            )
            assert r.status_code == 400, headers


async def test_a_nextcloud_event_for_another_account_is_never_mapped_onto_ours(
    rdb: redis.Redis, tmp_path: Path
) -> None:
    (tmp_path / "dav").mkdir()
    server = start_wsgidav(tmp_path / "dav")
    (server.root / "F" / "to-restore").mkdir(parents=True)
    try:
        dav = {k: getattr(server, k) for k in ("user", "password")}
        async with api_for(
            tmp_path / "data",
            webhook_secret="s3cret",
            owncloud_url=server.url,
            owncloud_user=dav["user"],
            owncloud_password=dav["password"],
            owncloud_dav_path=server.dav_path,
        ) as api:
            for owner, status in (("bob", "ignored"), (server.user, "accepted")):
                body = {
                    "event": {
                        "class": "OCP\\Files\\Events\\Node\\NodeCreatedEvent",
                        "node": {"id": 3, "path": f"/{owner}/files/F/to-restore/a.jpg"},
                    }
                }
                r = await api.client.post(
                    "/webhooks/nextcloud", json=body, headers={"x-webhook-secret": "s3cret"}
                )
                assert r.status_code == 202
                assert r.json()["status"] == status, owner
            assert rdb.lrange(WATCH_TRIGGER_KEY, 0, -1) == [b"/F/to-restore"]
    finally:
        server.stop()
