"""What the memory benches share: each mode runs in a subprocess of its own, so its peak RSS
(VmHWM) is its own, and prints one JSON line of figures as its last line.

`run_child` runs a child script from the repository root with `hwm_kib()` (the peak so far,
in KiB) defined for it, and reads the script's JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

HWM_KIB = r"""
def hwm_kib():
    from pathlib import Path
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
"""


def run_child(child: str, *args: str | Path) -> dict[str, Any]:
    """Run `child` as `python -c` with `args` from the repository root; its last line, parsed."""
    proc = subprocess.run(
        [sys.executable, "-c", HWM_KIB + child, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out
