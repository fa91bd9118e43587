"""`photo-restore check` against a real WebDAV server: a short report, and the root asked once.

Before: the whole capabilities document was printed (about 90 lines on Nextcloud) and the
same root PROPFIND was sent four times.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.commands.info import _check
from service.config.settings import Settings
from tests.servers import FaultProxy, start_wsgidav


async def test_check_is_short_and_asks_for_the_root_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dav").mkdir()
    server = start_wsgidav(tmp_path / "dav")
    proxy = FaultProxy(server.url)
    try:
        for inbox in ("Family/to-restore", "Oma/1950s/to-restore"):
            (server.root / inbox).mkdir(parents=True)
        os.makedirs(server.root / "Family" / "restored")
        settings = Settings(
            owncloud_url=proxy.url,
            owncloud_user=server.user,
            owncloud_password=server.password,
            owncloud_dav_path=server.dav_path,
            data_dir=tmp_path / "data",
            _env_file=None,  # type: ignore[call-arg]
        )
        code = await _check(settings)
    finally:
        proxy.stop()
        server.stop()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "/Family/to-restore" in out
    assert "/Oma/1950s/to-restore" in out
    assert len(out.splitlines()) < 15, out
    root = (server.dav_path or "/").rstrip("/") + "/"
    root_propfinds = [p for m, p, _ in proxy.log if m == "PROPFIND" and p.rstrip("/") + "/" == root]
    assert len(root_propfinds) == 2, proxy.log  # connect's Depth 0, the walk's Depth 1
