"""Shared paths and helpers for the Python tests (run: python3 -m pytest -q tests/python)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# `HYPOTHESIS_PROFILE=fuzz python3 -m pytest tests/python/test_fuzz.py` runs the fuzz tests long.
settings.register_profile("fuzz", max_examples=20_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: Settings of the fuzz tests: no per-example deadline (the machine may be busy); the number of
#: examples comes from the profile.
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = ROOT / "programs"
FIXTURES = ROOT / "tests" / "fixtures" / "sass"
CORPUS = ROOT / "tests" / "fuzz_corpus"

PROGRAM_FILES = sorted(PROGRAMS.glob("*.sass"))
LISTING_FILES = sorted(FIXTURES.glob("*.sass"))

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a(data: bytes) -> int:
    """FNV-1a 64, the checksum of the binary program format (crates/otc-asm/src/program.rs)."""
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def with_checksum(body: bytes) -> bytes:
    """`body` followed by its correct checksum: lets a corrupted body reach the inner checks."""
    return body + struct.pack("<Q", fnv1a(body))


def listing_with_usage(path: Path) -> str:
    """A fixture listing followed by its `cuobjdump -res-usage` output (as otc-asm's tests do)."""
    text = path.read_text()
    usage = path.with_name(path.name.replace(".sass", ".res-usage.txt"))
    if usage.exists():
        text += usage.read_text()
    return text


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@pytest.fixture(scope="session")
def saxpy_text() -> str:
    return (PROGRAMS / "saxpy.sass").read_text()
