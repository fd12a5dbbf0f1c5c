"""Each public package exports exactly what DESIGN.md documents (httpx-style: the
documented surface is the tested surface)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

DESIGN = Path(__file__).resolve().parents[1] / "DESIGN.md"
PACKAGES = ("leakdrop.sealing", "leakdrop.submission", "leakdrop.server", "scrubbers")


def _documented() -> dict[str, set[str]]:
    text = DESIGN.read_text("utf-8")
    section = text.split("## Public names (`__all__`)", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\n\s+", " ", block)  # continuation lines are indented
    out: dict[str, set[str]] = {}
    for line in joined.splitlines():
        package, _, names = line.partition(": ")
        out[package] = {n.strip() for n in names.split(",") if n.strip()}
    return out


def test_every_public_package_is_documented() -> None:
    assert set(_documented()) == set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_what_design_documents(package: str) -> None:
    module = importlib.import_module(package)
    exported = set(module.__all__)
    documented = _documented()[package]
    assert exported == documented, {
        "exported, not documented": sorted(exported - documented),
        "documented, not exported": sorted(documented - exported),
    }
    for name in exported:
        assert hasattr(module, name), name
