"""The idamoe binary the tests run: $IDAMOE_BIN, or .build/debug/idamoe under the repository root. A
missing binary fails the test that needs it (never a skip): build it with `swift build`."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def idamoe_binary() -> str:
    """The binary's path; an assertion error naming where it was looked for when it is not there."""
    text = os.environ.get("IDAMOE_BIN") or ".build/debug/idamoe"
    path = Path(text) if os.path.isabs(text) else REPO / text
    assert path.is_file() and os.access(path, os.X_OK), (
        f"idamoe binary not found at {path}: build it with `swift build` or set IDAMOE_BIN")
    return str(path)
