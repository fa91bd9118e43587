"""Inbox rules: what is taken, which chain runs, where the result goes."""

from __future__ import annotations

import pytest

from service.errors import UnsafePath
from service.watch.rules import find_inbox, is_junk, place

CHAINS = {"classic", "colorize", "restore"}


def where(path: str, **kw: object) -> object:
    args = {
        "inbox_name": "to-restore",
        "output_name": "restored",
        "watch_root": "/",
        "chains": CHAINS,
        "default_chain": "restore",
    }
    args.update(kw)
    return place(path, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        "scan.jpg.part",
        "x.tmp",
        ".~lock.scan.jpg#",
        ".hidden.jpg",
        "Thumbs.db",
        ".DS_Store",
        "@eaDir",
        "._scan.jpg",
        ".restore-abc.tmp",
        "scan.jpg.failed.txt",
        "x.filepart",
        "x.crdownload",
    ],
)
def test_junk_is_never_taken(name: str) -> None:
    assert is_junk(name)


@pytest.mark.parametrize("name", ["scan.jpg", "Grandma 1958 (2) & co #1.tif", "été.png"])
def test_real_scans_are_not_junk(name: str) -> None:
    assert not is_junk(name)


def test_output_is_the_sibling_restored_folder_keeping_sub_folders() -> None:
    p = where("/Family/to-restore/1950s/beach/x.jpg")
    assert p.output == "/Family/restored/1950s/beach/x.jpg"  # type: ignore[attr-defined]
    assert p.chain == "restore"
    assert p.inbox == "/Family/to-restore"
    assert p.failed_note == "/Family/restored/1950s/beach/x.jpg.failed.txt"  # type: ignore[attr-defined]


def test_first_level_sub_folder_named_after_a_chain_selects_it() -> None:
    p = where("/Grandma/1950s/to-restore/colorize/x.jpg")
    assert p.chain == "colorize"  # type: ignore[attr-defined]
    assert p.output == "/Grandma/1950s/restored/colorize/x.jpg"  # type: ignore[attr-defined]
    deeper = where("/F/to-restore/trip/colorize/x.jpg")
    assert deeper.chain == "restore"  # type: ignore[attr-defined]


def test_a_file_named_like_a_chain_is_not_a_chain_folder() -> None:
    assert where("/F/to-restore/colorize").chain == "restore"  # type: ignore[attr-defined]


def test_chain_output_format_changes_the_extension() -> None:
    p = where("/F/to-restore/x.tif", output_format={"restore": "JPEG"})
    assert p.output == "/F/restored/x.jpg"  # type: ignore[attr-defined]


def test_files_outside_every_inbox_are_ignored() -> None:
    assert where("/Family/photos/x.jpg") is None
    assert where("/Family/to-restore") is None
    assert where("/Other/to-restore/x.jpg", watch_root="/Family") is None
    assert where("/Family/to-restore/.x.jpg") is None
    assert where("/Family/to-restore/tmp.part/x.jpg") is None


def test_dot_dot_is_refused() -> None:
    with pytest.raises(UnsafePath):
        find_inbox("/Family/to-restore/../../etc/passwd", "to-restore")


def test_nfd_inbox_names_match() -> None:
    nfd = "/Fam/to-re\u0301store/x.jpg"
    assert find_inbox(nfd, "to-r\u00e9store") is not None


def test_a_scan_in_a_format_we_do_not_write_gets_a_png_name() -> None:
    p = where("/F/to-restore/sub/old.gif")
    assert p.output == "/F/restored/sub/old.png"  # type: ignore[attr-defined]
