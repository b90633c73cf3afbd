"""scripts/package's platform tag: the glibc the executable imports, raised to the first manylinux glibc
whose distributions all ship its libstdc++ symbol versions, and one line refusing versions newer than
any tag the script knows. Read from `objdump -T` text written here."""
from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from binary_support import REPO


def package_script() -> Any:
    loader = importlib.machinery.SourceFileLoader("idamoe_package_script", str(REPO / "scripts" / "package"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


PACKAGE = package_script()


def objdump(*versions: str) -> str:
    """`objdump -T` lines importing one symbol at each version (and a private one, which counts for nothing)."""
    lines = ["DYNAMIC SYMBOL TABLE:", "0000000000000000      DF *UND*  0000000000000000 (GLIBC_PRIVATE) _dl_x"]
    lines += [f"0000000000000000      DF *UND*  0000000000000000 ({v}) sym{i}" for i, v in enumerate(versions)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("versions, tag", [
    # What the wheel's executable imports when built on Debian 12: hypot@GLIBC_2.35 and GCC 12's libstdc++.
    (("GLIBC_2.2.5", "GLIBC_2.35", "GLIBC_2.34", "GLIBCXX_3.4.30", "GLIBCXX_3.4.9", "CXXABI_1.3.13"), "manylinux_2_35_x86_64"),
    (("GLIBC_2.17", "GLIBC_2.2.5"), "manylinux_2_17_x86_64"),  # no C++ at all
    (("GLIBC_2.17", "GLIBCXX_3.4.19", "CXXABI_1.3.7"), "manylinux_2_17_x86_64"),
    (("GLIBC_2.17", "GLIBCXX_3.4.20"), "manylinux_2_24_x86_64"),  # libstdc++ newer than CentOS 7's
    (("GLIBC_2.17", "CXXABI_1.3.11"), "manylinux_2_27_x86_64"),
    (("GLIBC_2.36", "GLIBCXX_3.4.30"), "manylinux_2_36_x86_64"),  # glibc decides: 2.36's distributions have 3.4.30
    (("GLIBC_2.35", "GLIBCXX_3.4.32", "CXXABI_1.3.13"), "manylinux_2_39_x86_64"),  # GCC 13's: Ubuntu 24.04 and on
])
def test_the_tag_is_the_first_glibc_whose_distributions_ship_the_libstdcxx_it_needs(versions: Any, tag: str) -> None:
    assert PACKAGE.platform_tag(PACKAGE.symbol_versions(objdump(*versions)), "x86_64") == tag


@pytest.mark.parametrize("versions, message", [
    (("GLIBC_2.35", "GLIBCXX_3.4.34"), "the executable needs GLIBCXX_3.4.34, newer than the libstdc++ of every manylinux "
                                        "tag this script knows (manylinux_2_39: GLIBCXX_3.4.33, CXXABI_1.3.15)"),
    (("GLIBC_2.35", "CXXABI_1.3.16"), "needs CXXABI_1.3.16, newer"),
    (("GLIBCXX_3.4.30",), "imports no versioned glibc 2 symbol"),
])
def test_versions_past_every_known_tag_are_one_line(versions: Any, message: str) -> None:
    with pytest.raises(PACKAGE.PackageError) as error:
        PACKAGE.platform_tag(PACKAGE.symbol_versions(objdump(*versions)), "x86_64")
    assert message in str(error.value) and "\n" not in str(error.value)
