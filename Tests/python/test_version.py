"""One version: VERSION at the repository's root is the binary's, the PyTorch package's and the wheel's
(scripts/package names the wheel from it). Swift's `IdamoeCommand.version` and python/idamoe_torch/_version.py
are copies, since each must build without the other; this test holds both, and the built binary, to it."""
from __future__ import annotations

import re
import subprocess
import sys

from binary_support import REPO, idamoe_binary


def version_file() -> str:
    text = (REPO / "VERSION").read_text()
    assert text.endswith("\n") and text.count("\n") == 1, "VERSION is one line"
    return text.strip()


def test_swift_copy_is_version() -> None:
    source = (REPO / "Sources/IdaCLI/IdamoeCommand.swift").read_text()
    found = re.findall(r'public static let version = "([^"]*)"', source)
    assert found == [version_file()], f"IdamoeCommand.version {found} differs from VERSION {version_file()!r}"


def test_python_copy_is_version() -> None:
    source = (REPO / "python/idamoe_torch/_version.py").read_text()
    found = re.findall(r'^__version__ = "([^"]*)"$', source, re.M)
    assert found == [version_file()], f"idamoe_torch/_version.py {found} differs from VERSION {version_file()!r}"
    pyproject = (REPO / "python/pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "idamoe_torch._version.__version__" in pyproject, (
        "python/pyproject.toml must take its version from idamoe_torch/_version.py")


def test_built_binary_states_version() -> None:
    out = subprocess.run([idamoe_binary(), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == version_file()


def test_imported_package_states_version() -> None:
    out = subprocess.run([sys.executable, "-c", "import idamoe_torch; print(idamoe_torch.__version__)"],
                         capture_output=True, text=True, check=True, cwd=REPO / "python").stdout
    assert out.strip() == version_file()
