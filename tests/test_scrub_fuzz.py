"""Mutation fuzzing of the whole pipeline, through the sandbox, time-boxed for CI.

Seeds are the shared corpus files (small ones, every format) or, where the corpus is absent,
self-made files of every type. Hypothesis flips bits, truncates, splices two files and
duplicates chunks; for every mutant: no exception escapes `scrub_sandboxed`, the outcome is
"cleaned" (output of the type claimed, not a polyglot) or "not cleaned" with a reason and the
very bytes received, and no worker outlives the call.

Budget: a fixed number of examples (about 30 ms each) and no per-example deadline, so the
whole file takes well under a minute on 2 cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_scrub_framework import FIXTURES, _descendants

from scrubbers import Limits, ScrubReport, scrub_sandboxed, sniff
from scrubbers._sniff import is_polyglot

REPO = Path(__file__).resolve().parents[1]
_env = os.environ.get("LEAKDROP_SHARED")
CORPUS = (Path(_env) if _env else REPO.parent / "shared") / "corpus"
MAX_SEED_BYTES = 300_000  # keeps each example fast; every format has a seed below this
# Tight but realistic limits: a mutant that makes a parser loop or balloon ends quickly.
FUZZ_LIMITS = Limits(wall_seconds=20.0, cpu_seconds=10, memory_bytes=1024 * 1024 * 1024)


def _seeds() -> list[bytes]:
    seeds = [make() for make in FIXTURES.values()]
    if CORPUS.is_dir():
        seeds += [
            path.read_bytes()
            for path in sorted(CORPUS.glob("*/*"))
            if path.is_file() and path.suffix != ".md" and path.stat().st_size <= MAX_SEED_BYTES
        ]
    return seeds


SEEDS = _seeds()


@st.composite
def mutants(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "splice", "duplicate", "overwrite"]))
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            for _ in range(draw(st.integers(1, 16))):
                spot = draw(st.integers(0, len(data) - 1))
                data[spot] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[position:]
        elif kind == "splice":
            other = draw(st.sampled_from(SEEDS))
            start = draw(st.integers(0, max(0, len(other) - 1)))
            data[position:] = other[start:]
        elif kind == "duplicate":
            size = draw(st.integers(1, 4096))
            data[position:position] = data[position : position + size]
        else:
            # Interesting numbers over length and count fields.
            value = draw(st.sampled_from([0, 1, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
            data[position : position + 4] = value.to_bytes(
                4, draw(st.sampled_from(["big", "little"]))
            )
    return bytes(data)


@pytest.fixture(scope="module")
def baseline() -> set[int]:
    scrub_sandboxed(b"warm up")  # starts the fork server: a long-lived helper, not a worker
    return _descendants(os.getpid())


def test_seeds_cover_every_format(shared_dir: Path | None) -> None:
    names = {sniff(seed).name for seed in SEEDS}
    assert {"pdf", "jpeg", "png", "gif", "webp", "tiff", "bmp", "heif", "docx", "odt"} <= names
    if shared_dir is not None:
        assert len(SEEDS) > len(FIXTURES) + 20  # the corpus was used


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(untrusted=mutants())
def test_mutants_end_cleaned_or_not_cleaned(untrusted: bytes, baseline: set[int]) -> None:
    report = scrub_sandboxed(untrusted, limits=FUZZ_LIMITS)
    assert isinstance(report, ScrubReport)
    if report.cleaned:
        assert report.reason is None
        assert sniff(report.data) == report.file_type
        assert not is_polyglot(report.data, report.file_type)
    else:
        assert report.reason
        assert report.data == untrusted  # nothing accepted is lost
    assert _descendants(os.getpid()) <= baseline, "a worker outlived its call"
