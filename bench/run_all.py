"""Every benchmark in bench/, one command, one table.

    .venv/bin/python bench/run_all.py            # full sizes (1 GiB ingest and sealing)
    .venv/bin/python bench/run_all.py --quick    # smaller sizes, a few minutes

Runs, each in its own process and each with its reference measured in the same run:
- bench_sealing.py      leakdrop.sealing vs the `age` CLI, seal and open (1 GiB / quick 64 MiB)
- bench_ingest.py       `leakdrop serve` upload -> sealed, vs `age -e` on the same bytes:
                        1 MiB, 100 MiB, 1 GiB (quick: 1 MiB, 16 MiB, 64 MiB)
- bench_concurrency.py  submissions/s, p50/p99 with 1, 10, 50 sources
- bench_scrub.py        per format, leakdrop's scrubbers vs mat2 (quick: a few formats)

Prints one table of figures and ratios; every benchmark's full output is kept under
test-artifacts/bench/ (and printed on failure). Exit status 1 if any benchmark failed.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
BENCH = ROOT / "bench"
OUT = ROOT / "test-artifacts" / "bench"


@dataclass
class Row:
    area: str
    case: str
    ours: str
    reference: str
    ratio: str
    memory: str = ""


@dataclass
class Run:
    name: str
    argv: list[str]
    output: str = ""
    seconds: float = 0.0
    returncode: int = 0
    rows: list[Row] = field(default_factory=list)


def run(name: str, *args: str, timeout: float, tag: str = "") -> Run:
    argv = [str(PYTHON), str(BENCH / name), *args]
    result = Run(name, argv)
    print(f"running {' '.join([name, *args])} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
        )
        result.output = proc.stdout + proc.stderr
        result.returncode = proc.returncode
    except subprocess.TimeoutExpired as exc:
        partial = [
            x.decode() if isinstance(x, bytes) else (x or "") for x in (exc.stdout, exc.stderr)
        ]
        result.output = "".join(partial) + f"\nTIMED OUT after {timeout} s"
        result.returncode = -1
    result.seconds = time.perf_counter() - start
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"{Path(name).stem}{'-' + tag if tag else ''}.txt"
    log.write_text(result.output)
    return result


# ----------------------------------------------------------------------------- parsers
# The benchmarks print tables for people; these read them back. A line that no longer
# matches gives no row, and the table says so instead of guessing.

_SEAL = re.compile(r"^(seal|open)\s+(leakdrop|age[^\d]*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")


def parse_sealing(r: Run, size: str) -> None:
    """Rows ``step tool time MiB/s RSS``, in sections like ``[to disk]`` (if any)."""
    speeds: dict[tuple[str, str, str], tuple[float, float]] = {}
    sections: list[str] = []
    section = ""
    for line in r.output.splitlines():
        header = re.match(r"^\[(.+)\]\s*$", line.strip())
        if header:
            section = header.group(1)
            continue
        m = _SEAL.match(line.strip())
        if m:
            tool = "leakdrop" if m.group(2).startswith("leakdrop") else "age"
            speeds[(section, m.group(1), tool)] = (float(m.group(4)), float(m.group(5)))
            if section not in sections:
                sections.append(section)
    for section in sections:
        for step in ("seal", "open"):
            ours = speeds.get((section, step, "leakdrop"))
            theirs = speeds.get((section, step, "age"))
            if ours and theirs:
                r.rows.append(
                    Row(
                        "sealing",
                        f"{step} {size}" + (f" ({section})" if section else ""),
                        f"{ours[0]:.0f} MiB/s",
                        f"age {theirs[0]:.0f} MiB/s",
                        f"{ours[0] / theirs[0]:.2f}x",
                        f"{ours[1]:.0f} MiB (age {theirs[1]:.0f})",
                    )
                )


_INGEST = re.compile(r"^\s*(\d+)Mi((?:\s+[\d.]+)+)\s+(\d+)\s*MiB\s*$")


def parse_ingest(r: Run, seen: set[int]) -> None:
    """Rows start with size, leakdrop MB/s, age MB/s and end with the peak RSS; the columns
    in between vary. Repeated sizes (several runs) are reduced to their median. The
    summary line's ratio against age + fsync is quoted where given."""
    by_size: dict[int, list[tuple[list[float], int]]] = {}
    synced: dict[int, str] = {}
    for line in r.output.splitlines():
        m = _INGEST.match(line)
        if m:
            numbers = [float(x) for x in m.group(2).split()]
            if len(numbers) >= 2:
                by_size.setdefault(int(m.group(1)), []).append((numbers, int(m.group(3))))
        summary = re.search(r"at (\d+) MiB.*?age \+ fsync: ([\d.]+)x", line)
        if summary:
            synced[int(summary.group(1))] = summary.group(2)
    for mib, samples in sorted(by_size.items()):
        if mib in seen:
            continue
        seen.add(mib)
        ours = statistics.median(n[0] for n, _ in samples)
        age = statistics.median(n[1] for n, _ in samples)
        ratio = f"{ours / age:.2f}x"
        if mib in synced:
            ratio += f" ({synced[mib]}x vs age+fsync)"
        r.rows.append(
            Row(
                "ingest",
                f"upload {mib} MiB" if mib < 1024 else f"upload {mib // 1024} GiB",
                f"{ours:.0f} MB/s (median of {len(samples)})",
                f"age -e {age:.0f} MB/s",
                ratio,
                f"peak RSS {max(p for _, p in samples)} MiB",
            )
        )


def parse_concurrency(r: Run, path: Path) -> None:
    if not path.exists():
        return
    data = json.loads(path.read_text())
    ref = data["reference_per_second"]
    for level in data["levels"]:
        r.rows.append(
            Row(
                "concurrency",
                f"{level['concurrency']} sources ({level['submissions']} subs)",
                f"{level['per_second']:.1f} subs/s, p50 {level['p50_s'] * 1000:.0f} ms,"
                f" p99 {level['p99_s'] * 1000:.0f} ms",
                f"in-process {ref:.1f} subs/s",
                f"{level['per_second'] / ref:.2f}x",
                f"{level['failed']} failed",
            )
        )


_SCRUB = re.compile(
    r"^(\w+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)"
    r"\s+(\d+)\s+(\d+)\s+(\d+)\s*$"
)


def parse_scrub(r: Run) -> None:
    in_table = False
    for line in r.output.splitlines():
        if line.startswith("Per format"):
            in_table = True
            continue
        m = _SCRUB.match(line.strip()) if in_table else None
        if m:
            kind, files, warm, cold, mat2 = m.group(1), m.group(2), *map(float, m.group(3, 4, 5))
            r.rows.append(
                Row(
                    "scrub",
                    f"{kind} ({files} files)",
                    f"{warm * 1000:.0f} ms warm, {cold * 1000:.0f} ms cold",
                    f"mat2 {mat2 * 1000:.0f} ms",
                    f"{mat2 / warm:.1f}x / {mat2 / cold:.1f}x",
                    f"{m.group(8)} MB (mat2 {m.group(9)}); left {m.group(10)} vs {m.group(11)}",
                )
            )


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (minutes)")
    args = parser.parse_args()
    quick = args.quick
    OUT.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []

    size = "64M" if quick else "1G"
    sealing = run("bench_sealing.py", "--size", size, timeout=1800)
    parse_sealing(sealing, "64 MiB" if quick else "1 GiB")
    runs.append(sealing)

    seen: set[int] = set()
    for big in ("16M", "64M") if quick else ("100M", "1G"):
        ingest = run("bench_ingest.py", "--small", "1M", "--size", big, timeout=3600, tag=big)
        parse_ingest(ingest, seen)
        runs.append(ingest)

    conc_json = OUT / "concurrency.json"
    conc_json.unlink(missing_ok=True)
    conc_args = ["--json", str(conc_json)] + (["--quick"] if quick else [])
    concurrency = run("bench_concurrency.py", *conc_args, timeout=1800)
    parse_concurrency(concurrency, conc_json)
    runs.append(concurrency)

    scrub_args = ["--pages", "10", "--only", "pdf,jpeg,png,docx"] if quick else []
    scrub = run("bench_scrub.py", *scrub_args, timeout=3600)
    parse_scrub(scrub)
    runs.append(scrub)

    rows = [row for r in runs for row in r.rows]
    widths = [
        max(len(h), *(len(getattr(row, a)) for row in rows)) if rows else len(h)
        for h, a in zip(
            ("area", "case", "leakdrop", "reference (same run)", "ratio", "memory / notes"),
            ("area", "case", "ours", "reference", "ratio", "memory"),
            strict=True,
        )
    ]
    header = ("area", "case", "leakdrop", "reference (same run)", "ratio", "memory / notes")
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        cells = (row.area, row.case, row.ours, row.reference, row.ratio, row.memory)
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    print()
    failed = False
    for r in runs:
        status = "ok" if r.returncode == 0 else f"FAILED (exit {r.returncode})"
        print(f"{r.name:22} {r.seconds:7.0f} s  {status}  rows: {len(r.rows)}")
        if r.returncode != 0 or not r.rows:
            failed = True
            print(f"--- output of {r.name} ---\n{r.output[-4000:]}\n---")
    print(f"full outputs: {OUT.relative_to(ROOT)}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
