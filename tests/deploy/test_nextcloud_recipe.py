"""The Nextcloud webhook recipe (deploy/nextcloud-webhook.md) registers filters that match the
events Nextcloud really sends, and photo-restore understands those events.

The recipe's shell is read as the shell reads it (the heredoc's `\\\\` becomes `\\`), each
registration body is parsed as JSON, and its `eventFilter` is run the way Nextcloud's
`PHPMongoQuery` runs it (dot paths into the envelope; a string "/…/" is a regular expression),
against envelopes shaped like `WebhooksEventListener` builds them: node events carry
`event.node`, rename and copy events `event.source` and `event.target`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from service.watch.rules import find_inbox
from service.watch.webhooks import parse_nextcloud
from tests.conftest import REPO

RECIPE = REPO / "deploy" / "nextcloud-webhook.md"
NODE = "OCP\\Files\\Events\\Node\\"


def registrations() -> dict[str, dict[str, Any]]:
    """Event name → the JSON body the recipe's loop posts for it."""
    text = RECIPE.read_text(encoding="utf-8")
    pairs = re.search(r"^for PAIR in (.+); do$", text, re.MULTILINE)
    assert pairs, "the recipe's registration loop is gone"
    body = text.split("<<JSON\n", 1)[1].split("\nJSON\n", 1)[0]
    out = {}
    for pair in pairs.group(1).split():
        event, field = pair.split(":")
        shell = body.replace("\\\\", "\\")  # an unquoted heredoc turns \\ into \
        for name, value in (("$EVENT", event), ("$FIELD", field), ("$PR", "https://pr")):
            shell = shell.replace(name, value)
        out[event] = json.loads(shell.replace("$SECRET", "s"))
    return out


def _lookup(document: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def matches(query: dict[str, Any], document: dict[str, Any]) -> bool:
    """PHPMongoQuery's equality on dot paths, the part the recipe uses."""
    for field, wanted in query.items():
        exists, value = _lookup(document, field)
        if not exists:
            return False
        regex = re.fullmatch(r"/(.*?)/([a-z]*)", wanted) if isinstance(wanted, str) else None
        if regex is not None:
            if not isinstance(value, str) or not re.search(regex.group(1), value):
                return False
        elif value != wanted:
            return False
    return True


def envelope(event: str, **nodes: dict[str, Any]) -> dict[str, Any]:
    return {"event": {"class": NODE + event, **nodes}, "user": {"uid": "alice"}, "time": 1}


INTO_INBOX = {
    "NodeCreatedEvent": envelope(
        "NodeCreatedEvent", node={"id": 1, "path": "/alice/files/Family/to-restore/a.jpg"}
    ),
    "NodeWrittenEvent": envelope(
        "NodeWrittenEvent", node={"id": 2, "path": "/alice/files/Family/to-restore/b.jpg"}
    ),
    "NodeRenamedEvent": envelope(
        "NodeRenamedEvent",
        source={"id": 3, "path": "/alice/files/Desktop/c.jpg"},
        target={"id": 3, "path": "/alice/files/Family/to-restore/c.jpg"},
    ),
    "NodeCopiedEvent": envelope(
        "NodeCopiedEvent",
        source={"id": 4, "path": "/alice/files/Desktop/d.jpg"},
        target={"id": 5, "path": "/alice/files/Family/to-restore/d.jpg"},
    ),
}


def test_the_recipe_registers_every_event_that_can_bring_a_scan() -> None:
    assert set(registrations()) == set(INTO_INBOX)
    for event, body in registrations().items():
        assert body["event"] == NODE + event
        assert body["authData"] == {"X-Webhook-Secret": "s"}


@pytest.mark.parametrize("event", sorted(INTO_INBOX))
def test_each_filter_matches_a_scan_arriving_in_an_inbox(event: str) -> None:
    body = INTO_INBOX[event]
    assert matches(registrations()[event]["eventFilter"], body)
    # …and photo-restore finds the inbox in what Nextcloud sends.
    [found] = parse_nextcloud(body)
    assert find_inbox(found.path, "to-restore") is not None


@pytest.mark.parametrize("event", sorted(INTO_INBOX))
def test_each_filter_lets_files_elsewhere_pass_unsent(event: str) -> None:
    elsewhere = json.loads(
        json.dumps(INTO_INBOX[event]).replace("Family/to-restore", "Family/Holidays")
    )
    assert not matches(registrations()[event]["eventFilter"], elsewhere)


def test_a_scan_moved_out_of_an_inbox_is_not_announced() -> None:
    moved_out = envelope(
        "NodeRenamedEvent",
        source={"id": 6, "path": "/alice/files/Family/to-restore/e.jpg"},
        target={"id": 6, "path": "/alice/files/Desktop/e.jpg"},
    )
    assert not matches(registrations()["NodeRenamedEvent"]["eventFilter"], moved_out)


def test_the_old_node_path_filter_never_matched_a_rename() -> None:
    # What the recipe used to register for renames: rename events have no `event.node`.
    old = {"event.node.path": "/\\/to-restore\\//"}
    assert not matches(old, INTO_INBOX["NodeRenamedEvent"])


def test_the_recipe_says_how_to_let_nextcloud_call_a_local_address() -> None:
    text = RECIPE.read_text(encoding="utf-8")
    assert "occ config:system:set allow_local_remote_servers --value=true --type=boolean" in text
