"""Storage paths: one canonical form, and nothing that leaves the root."""

from __future__ import annotations

import pytest

from service.errors import UnsafePath
from service.storage.paths import is_within, join, name, nfc, normalize, parent


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("a/b", "/a/b"), ("/a//b/", "/a/b"), ("./a/./b", "/a/b"), ("", "/"), ("/", "/")],
)
def test_paths_have_one_canonical_form(raw: str, canonical: str) -> None:
    assert normalize(raw) == canonical


@pytest.mark.parametrize("raw", ["/a/../b", "..", "/a\\b", "/a\x00b"])
def test_escapes_and_forbidden_characters_are_refused(raw: str) -> None:
    with pytest.raises(UnsafePath):
        normalize(raw)


def test_join_takes_single_segments_only() -> None:
    assert join("/F", "to-restore", "a.jpg") == "/F/to-restore/a.jpg"
    for bad in ("a/b", "..", ""):
        with pytest.raises(UnsafePath):
            join("/F", bad)


def test_parent_name_and_within() -> None:
    assert parent("/F/to-restore/a.jpg") == "/F/to-restore"
    assert parent("/a.jpg") == "/"
    assert name("/F/to-restore/a.jpg") == "a.jpg"
    assert is_within("/F/to-restore/a.jpg", "/F")
    assert is_within("/F", "/F")
    assert not is_within("/Fx/a.jpg", "/F")
    assert is_within("/anything", "/")


def test_names_compare_in_nfc() -> None:
    assert nfc("e\u0301te\u0301") == "\u00e9t\u00e9"
