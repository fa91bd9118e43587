"""Incoming webhooks: authenticate them and turn their bodies into storage paths.

Pure functions; the web routes call them. Two shapes are understood:

- Nextcloud `webhook_listeners` (NC ≥ 30): `{"event": {"class": "OCP\\Files\\Events\\Node\\
  NodeCreatedEvent", "node": {"id": 7, "path": "/<uid>/files/<path>"}}, "user": {...},
  "time": ...}`; rename/copy/restore events carry `event.source` and `event.target`. Paths are
  the *owner's* (`/<owner>/files/...`): an event of another account (a folder it shares with
  ours, another user's listener) is ignored, never mapped onto our files.
- the generic `{"path": "/Family/to-restore/x.jpg", "event": "created"}` for ownCloud, oCIS
  or scripts.

A webhook is only a hint to look now: the watcher confirms with PROPFIND, so a lost or
duplicated event costs a poll interval, never a photo. Nextcloud signs nothing; the secret
travels as a static header set at registration (`authMethod: "header"`).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.errors import UnsafePath, WebhookRejected
from service.storage.paths import nfc, normalize

SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 - a header name, not a secret
NODE_EVENT_PREFIX = "OCP\\Files\\Events\\Node\\"
# Events after which something may be there to restore; deletes and Before* are ignored.
INTERESTING = frozenset(
    {
        "NodeCreatedEvent",
        "NodeWrittenEvent",
        "NodeRenamedEvent",
        "NodeCopiedEvent",
        "NodeRestoredEvent",
        "NodeTouchedEvent",
    }
)
GENERIC_EVENTS = frozenset(
    {
        "created",
        "written",
        "changed",
        "updated",
        "renamed",
        "moved",
        "copied",
        "restored",
        "touched",
    }
)


@dataclass(frozen=True)
class FileEvent:
    """A storage path worth looking at, and what the sender said happened."""

    path: str
    event: str
    file_id: str | None = None


def secret_ok(headers: Mapping[str, str], secret: str | None) -> bool:
    """True when `X-Webhook-Secret` or `Authorization: Bearer` carries the secret.

    No secret configured means webhooks are refused (contract: WEBHOOK_SECRET unset). The
    comparison is constant-time so the secret cannot be guessed byte by byte from timings.
    """
    if not secret:
        return False
    lowered = {k.lower(): v for k, v in headers.items()}
    want = secret.encode()
    given = lowered.get(SECRET_HEADER.lower())
    ok = given is not None and hmac.compare_digest(given.encode(), want)
    auth = lowered.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        ok = hmac.compare_digest(auth[7:].strip().encode(), want) or ok
    return ok


def split_owner(path: str) -> tuple[str, str]:
    """'/<uid>/files/a/b' → ('<uid>', '/a/b') (normalized; '..' refused with UnsafePath)."""
    parts = normalize(path).split("/")[1:]  # normalize first: '..' never survives
    if len(parts) >= 2 and parts[1] == "files":
        return parts[0], normalize("/".join(parts[2:]))
    raise UnsafePath(f"not a Nextcloud user-files path: {path!r}")


def strip_owner(path: str) -> str:
    """'/<uid>/files/a/b' → '/a/b', whoever the uid."""
    return split_owner(path)[1]


def parse_nextcloud(body: Any, *, user: str | None = None) -> list[FileEvent]:
    """Events of a `webhook_listeners` body; [] for events that cannot bring new files.

    With `user` (our account's id), a path of another account's files is ignored.
    """
    if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
        raise WebhookRejected("expected a webhook_listeners body with an 'event' object")
    event = body["event"]
    cls = str(event.get("class", "")).lstrip("\\")
    short = cls.removeprefix(NODE_EVENT_PREFIX)
    if short not in INTERESTING:
        return []
    out = []
    paths = 0
    for key in ("node", "target"):  # the target of a rename/copy is where the file now is
        node = event.get(key)
        if not isinstance(node, dict) or not isinstance(node.get("path"), str):
            continue
        paths += 1
        owner, path = split_owner(node["path"])
        if user is not None and nfc(owner) != nfc(user):
            continue  # another account's file: not ours to look at
        node_id = node.get("id")
        out.append(FileEvent(path, short, None if node_id is None else str(node_id)))
    if not paths:
        raise WebhookRejected(f"{short} without a node or target path")
    return out


def parse_generic(body: Any) -> list[FileEvent]:
    """`{"path": "...", "event": "created"}` (event optional, default 'created')."""
    if not isinstance(body, dict) or not isinstance(body.get("path"), str):
        raise WebhookRejected("expected {'path': '...', 'event': 'created'}")
    event = str(body.get("event") or "created").lower()
    if event not in GENERIC_EVENTS:
        return []
    return [FileEvent(normalize(body["path"]), event)]
