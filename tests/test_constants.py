"""Every Redis key lives in service/constants.py: no other module spells one out."""

from __future__ import annotations

import re

from service import constants
from tests.conftest import REPO

# A key is built from the prefix or the queue name; only constants.py may do that.
BUILDS_A_KEY = re.compile(r"\{(PREFIX|QUEUE_NAME)\}|\b(PREFIX|QUEUE_NAME) \+|photo-restore:\w")


def test_no_module_but_constants_builds_a_redis_key() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "service").rglob("*.py"))
        if path.name != "constants.py" and BUILDS_A_KEY.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_every_key_shares_the_prefix() -> None:
    keys = {
        name: value
        for name, value in vars(constants).items()
        if name.isupper()
        and isinstance(value, str)
        and (name.endswith(("_KEY", "_INDEX", "_BYTES", "_CHANNEL")) or name.startswith("JOB"))
    }
    assert keys
    assert all(v.startswith(constants.PREFIX + ":") for v in keys.values()), keys


def test_the_decisions_hash_nobody_read_is_gone() -> None:
    assert not hasattr(constants, "DECISIONS_KEY")
