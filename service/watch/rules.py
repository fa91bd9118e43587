"""Which files are taken, from which inbox, with which chain, and where their result goes.

Pure functions over paths and entries, so the rules that users rely on are tested without
any storage at all.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
from dataclasses import dataclass

from service.constants import FAILED_SUFFIX, TEMP_PREFIX
from service.formats import result_name
from service.storage.paths import nfc, normalize

# Names never taken: partial uploads, lock files, OS droppings, our own temp files.
JUNK_PATTERNS = (
    "*.part",
    "*.filepart",
    "*.crdownload",
    "*.partial",
    "*.tmp",
    "*.temp",
    ".~lock*",
    "~$*",
    "Thumbs.db",
    "desktop.ini",
    "@eaDir",
    "#recycle",
    f"{TEMP_PREFIX}*",
    f"*{FAILED_SUFFIX}",
    "*.ocTransferId*",
)


def is_junk(name: str) -> bool:
    """Hidden files, partial uploads, lock files and OS metadata are never taken."""
    if not name or name.startswith("."):
        return True
    low = name.casefold()
    return any(fnmatch.fnmatchcase(low, pattern.casefold()) for pattern in JUNK_PATTERNS)


@dataclass(frozen=True)
class Placement:
    """Where a file sits in its inbox and where its result belongs."""

    source: str
    inbox: str
    sub_path: str  # path below the inbox, e.g. "colorize/x.jpg"
    chain: str
    output: str

    @property
    def failed_note(self) -> str:
        """The `<output>.failed.txt` that explains a failure next to where the result would be."""
        return failed_note_for(self.output)


def failed_note_for(output: str) -> str:
    """Where the note explaining why `output` could not be made goes (`<output>.failed.txt`)."""
    return output + FAILED_SUFFIX


def find_inbox(path: str, inbox_name: str, watch_root: str = "/") -> tuple[str, list[str]] | None:
    """The inbox folder containing `path` and the segments below it, or None."""
    path = normalize(path)
    root = normalize(watch_root)
    if root != "/" and not (path == root or path.startswith(root + "/")):
        return None
    parts = path.strip("/").split("/")
    target = nfc(inbox_name)
    root_depth = 0 if root == "/" else len(root.strip("/").split("/"))
    # WATCH_ROOT may itself be an inbox, so its last segment is looked at too.
    for i in range(max(0, root_depth - 1), len(parts)):
        if nfc(parts[i]) == target:
            return "/" + "/".join(parts[: i + 1]), parts[i + 1 :]
    return None


def place(
    path: str,
    *,
    inbox_name: str,
    output_name: str,
    watch_root: str,
    chains: Collection[str],
    default_chain: str,
    output_format: dict[str, str | None] | None = None,
) -> Placement | None:
    """Map a file in an inbox to its chain and output path; None when it is in no inbox."""
    found = find_inbox(path, inbox_name, watch_root)
    if found is None:
        return None
    inbox, below = found
    if not below or any(is_junk(p) for p in below):
        return None
    chain = default_chain
    if len(below) >= 2 and below[0] in chains:
        chain = below[0]
    parent = inbox.rsplit("/", 1)[0]
    out_below = list(below)
    out_below[-1] = result_name(out_below[-1], (output_format or {}).get(chain))
    output = f"{parent}/{output_name}/" + "/".join(out_below)
    return Placement(
        source=normalize(path),
        inbox=inbox,
        sub_path="/".join(below),
        chain=chain,
        output=normalize(output),
    )
