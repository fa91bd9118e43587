"""Webhook bodies and secrets (service/watch/webhooks.py): pure functions, no server."""

from __future__ import annotations

import pytest

from service.errors import UnsafePath, WebhookRejected
from service.watch.webhooks import (
    FileEvent,
    parse_generic,
    parse_nextcloud,
    secret_ok,
    strip_owner,
)

SECRET = "s3cret-value"


def nc_body(cls: str, **nodes: dict) -> dict:
    return {
        "event": {"class": f"OCP\\Files\\Events\\Node\\{cls}", **nodes},
        "user": {"uid": "bob", "displayName": "Bob"},
        "time": 1_700_000_000,
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Webhook-Secret": SECRET},
        {"x-webhook-secret": SECRET},
        {"Authorization": f"Bearer {SECRET}"},
    ],
)
def test_right_secret_is_accepted(headers: dict) -> None:
    assert secret_ok(headers, SECRET)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Webhook-Secret": "wrong"},
        {"X-Webhook-Secret": SECRET[:-1]},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {SECRET}"},
    ],
)
def test_wrong_or_missing_secret_is_refused(headers: dict) -> None:
    assert not secret_ok(headers, SECRET)


def test_no_configured_secret_refuses_everything() -> None:
    assert not secret_ok({"X-Webhook-Secret": ""}, None)
    assert not secret_ok({"X-Webhook-Secret": ""}, "")


def test_nextcloud_created_path_is_mapped_to_storage_path() -> None:
    body = nc_body(
        "NodeCreatedEvent", node={"id": 7, "path": "/alice/files/Family/to-restore/Scan 1.jpg"}
    )
    assert parse_nextcloud(body) == [
        FileEvent("/Family/to-restore/Scan 1.jpg", "NodeCreatedEvent", "7")
    ]


def test_nextcloud_written_and_renamed_use_node_and_target() -> None:
    written = nc_body("NodeWrittenEvent", node={"id": 8, "path": "/alice/files/a/to-restore/x"})
    assert [e.path for e in parse_nextcloud(written)] == ["/a/to-restore/x"]
    renamed = nc_body(
        "NodeRenamedEvent",
        source={"id": 9, "path": "/alice/files/tmp/x.jpg"},
        target={"id": 9, "path": "/alice/files/to-restore/x.jpg"},
    )
    assert [e.path for e in parse_nextcloud(renamed)] == ["/to-restore/x.jpg"]


def test_nextcloud_delete_events_bring_nothing() -> None:
    body = nc_body("NodeDeletedEvent", node={"id": 1, "path": "/alice/files/to-restore/x"})
    assert parse_nextcloud(body) == []


@pytest.mark.parametrize(
    "path",
    ["/alice/files/../../etc/passwd", "/alice/files/to-restore/../../x", "/alice/notfiles/x"],
)
def test_nextcloud_dotdot_or_foreign_path_is_refused(path: str) -> None:
    with pytest.raises(UnsafePath):
        parse_nextcloud(nc_body("NodeCreatedEvent", node={"id": 1, "path": path}))


def test_generic_event_and_dotdot() -> None:
    assert parse_generic({"path": "Family//to-restore/a.jpg", "event": "created"}) == [
        FileEvent("/Family/to-restore/a.jpg", "created")
    ]
    assert parse_generic({"path": "/x", "event": "deleted"}) == []
    with pytest.raises(UnsafePath):
        parse_generic({"path": "/to-restore/../../secret"})


@pytest.mark.parametrize("body", [None, [], {"event": "x"}, {"path": 3}])
def test_garbage_bodies_are_rejected(body: object) -> None:
    parse = parse_nextcloud if isinstance(body, dict) and "event" in body else parse_generic
    with pytest.raises(WebhookRejected):
        parse(body)


def test_strip_owner_keeps_root() -> None:
    assert strip_owner("/alice/files") == "/"


def test_a_nextcloud_event_of_another_account_is_ignored() -> None:
    mine = nc_body("NodeCreatedEvent", node={"id": 1, "path": "/alice/files/F/to-restore/a.jpg"})
    theirs = nc_body("NodeCreatedEvent", node={"id": 2, "path": "/bob/files/F/to-restore/a.jpg"})
    assert [e.path for e in parse_nextcloud(mine, user="alice")] == ["/F/to-restore/a.jpg"]
    assert parse_nextcloud(theirs, user="alice") == []
    assert [e.path for e in parse_nextcloud(theirs)] == ["/F/to-restore/a.jpg"]  # local mode
