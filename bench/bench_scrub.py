"""Benchmark: leakdrop's scrubbers next to mat2 (Debian package) on the same files, same run.

    .venv/bin/python bench/bench_scrub.py [--corpus DIR] [--pages 50] [--only pdf,jpeg]
        [--command-runs 15] [--command-only]

Per file (the shared corpus, plus a generated 50-page text PDF and a generated phone-style
100 MB MP4 — H.264/AAC, moov first, Apple location/make keys — when ffmpeg is present):
- leakdrop, warm: `scrub_sandboxed` as the server runs it (a worker forked from a pre-loaded
  fork server), wall time;
- leakdrop, cold: a fresh Python process that imports `scrubbers` and cleans the file, wall
  time and peak RSS (`wait4` of that process), comparable to one `mat2` run;
- mat2 (default mode; and `--lightweight` for PDFs) on a copy in a temp folder: wall time,
  peak RSS;
- what each leaves behind: the number of identifying ExifTool tags in the output, counted with
  the table of tests/test_scrub_corpus.py ("refused" when no output was produced).
Then the ratios (mat2 time / leakdrop time) per format. Target: PDFs >= 10x faster than mat2's
default mode, and no leftovers where mat2 has some.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def forbidden_tags(tags: dict[str, object], groups: list[dict[str, object]]) -> list[str]:
    """The one table of identifying tags of the project (tests/test_scrub_corpus.py).

    Imported on first use, not at module level: only the leftover count needs pytest's
    test module, and the fork server copies this process's imports into no worker.
    """
    table: Callable[[dict[str, object], list[dict[str, object]]], list[str]] = (
        importlib.import_module("test_scrub_corpus").forbidden_tags
    )
    return table(tags, groups)


from scrubbers import scrub_sandboxed, sniff  # noqa: E402

_COLD = (
    "import sys\n"
    "from scrubbers import scrub\n"
    "data = open(sys.argv[1], 'rb').read()\n"
    "report = scrub(data)\n"
    "sys.exit(0 if report.cleaned else 3)\n"
)


@dataclass
class Run:
    seconds: float
    peak_mb: float | None = None
    output: Path | None = None
    ok: bool = True


@dataclass
class Row:
    name: str
    kind: str
    size: int
    runs: dict[str, Run] = field(default_factory=dict)
    left: dict[str, int | None] = field(default_factory=dict)


# Runs one command and reports its wall time and peak RSS. A child inherits its parent's RSS
# high-water mark through fork (Linux keeps it across exec), so measuring straight from this
# (large, growing) process would report our own size: fork from a tiny launcher instead.
_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def _timed_process(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) and exit status of one process (wait4 of that process)."""
    result = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, peak_kb, status = result.stdout.split()
    return float(seconds), int(peak_kb) / 1024, int(status)


def make_text_pdf(pages: int) -> bytes:
    """A text PDF (Helvetica, no embedded font), with the usual Info and XMP dirt."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for number in range(1, pages + 1):
        lines = [f"Page {number}: internal memo on surveillance procurement, line {i}."
                 for i in range(40)]  # fmt: skip
        ops = ["BT", "/F1 10 Tf", "12 TL", "50 780 Td"]
        for line in lines:
            ops.append(f"({line}) Tj T*")
        ops.append("ET")
        page = pdf.add_blank_page(page_size=(595, 842))
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.Contents = pdf.make_stream("\n".join(ops).encode())
    pdf.docinfo["/Author"] = "Jane Source"
    pdf.docinfo["/Creator"] = "Microsoft Word - memo_jsource.docx"
    pdf.docinfo["/Producer"] = "Acrobat Distiller 11"
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["Jane Source"]
        meta["xmpMM:DocumentID"] = "uuid:0b1e2c3d-4e5f-6789-abcd-ef0123456789"
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def make_phone_video(megabytes: int) -> bytes | None:
    """An MP4 of about this size as a phone writes it (moov first, location and make keys).

    Noisy 720p frames at a phone's bitrate, cut at the size (``-fs``); None without ffmpeg.
    """
    if shutil.which("ffmpeg") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        out = Path(tmp) / "phone.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y",
             "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=30:allf=t",
             "-f", "lavfi", "-i", "sine=frequency=440",
             "-t", "600", "-fs", str(megabytes * 1_000_000),
             "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "16M", "-c:a", "aac",
             "-metadata", "location=+48.8566+002.3522/",
             "-metadata", "creation_time=2024-05-01T10:00:00Z",
             "-metadata", "com.apple.quicktime.make=PhoneCorp",
             "-metadata", "com.apple.quicktime.model=PC-1",
             "-movflags", "+faststart+use_metadata_tags", str(out)],
            check=True,
            timeout=900,
        )  # fmt: skip
        return out.read_bytes()


def make_tagged_audio(seconds: int, work: Path) -> list[tuple[str, bytes]]:
    """Tagged MP3, FLAC and Ogg Vorbis files written by ffmpeg (none without ffmpeg)."""
    if shutil.which("ffmpeg") is None:
        return []
    made = []
    for codec, ext in (("libmp3lame", "mp3"), ("flac", "flac"), ("libvorbis", "ogg")):
        out = work / f"tagged-{seconds}s.{ext}"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
             f"sine=frequency=440:duration={seconds}", "-ac", "2", "-c:a", codec,
             "-metadata", "artist=Jane Source", "-metadata", "comment=recorded at the office",
             "-metadata", "date=2024-05-01", str(out)],
            check=True,
        )  # fmt: skip
        made.append((f"generated/{out.name}", out.read_bytes()))
    return made


def _mat2_output(folder: Path, name: str) -> Path | None:
    stem, dot, ext = name.rpartition(".")
    candidate = folder / f"{stem}.cleaned.{ext}" if dot else folder / f"{name}.cleaned"
    return candidate if candidate.exists() else None


def bench_file(name: str, data: bytes, work: Path) -> Row:
    kind = sniff(data).name
    row = Row(name, kind, len(data))
    folder = work / name.replace("/", "__")
    folder.mkdir()
    source = folder / Path(name).name
    source.write_bytes(data)

    start = time.perf_counter()
    report = scrub_sandboxed(data)
    warm = Run(time.perf_counter() - start, ok=report.cleaned)
    if report.cleaned:
        warm.output = folder / f"leakdrop{report.file_type.extension}"
        warm.output.write_bytes(report.data)
    row.runs["leakdrop"] = warm

    seconds, peak, status = _timed_process([sys.executable, "-c", _COLD, str(source)], folder)
    row.runs["leakdrop-cold"] = Run(seconds, peak, ok=status == 0)

    modes: dict[str, list[str]] = {"mat2": []}
    if kind == "pdf":
        modes["mat2-light"] = ["--lightweight"]
    for mode, flags in modes.items():
        copy = folder / mode
        copy.mkdir()
        target = copy / Path(name).name
        shutil.copyfile(source, target)
        seconds, peak, status = _timed_process(["mat2", *flags, target.name], copy)
        output = _mat2_output(copy, target.name)
        row.runs[mode] = Run(seconds, peak, output, ok=status == 0 and output is not None)
    return row


def count_leftovers(rows: list[Row]) -> None:
    outputs = [run.output for row in rows for run in row.runs.values() if run.output]
    found: dict[str, dict[str, object]] = {}
    for start in range(0, len(outputs), 200):
        chunk = outputs[start : start + 200]
        result = subprocess.run(
            ["exiftool", "-a", "-G0:1", "-s", "-ee", "-j", "-m", *map(str, chunk)],
            capture_output=True,
            check=False,
        )
        for item in json.loads(result.stdout or b"[]"):
            found[item["SourceFile"]] = item
    for row in rows:
        for mode, run in row.runs.items():
            if mode == "leakdrop-cold":
                continue
            if run.output is None or not run.ok:
                row.left[mode] = None
            else:
                row.left[mode] = len(forbidden_tags(found.get(str(run.output), {}), []))


def _fmt_s(run: Run | None) -> str:
    if run is None:
        return "-"
    return f"{run.seconds:7.3f}"


def _fmt_mb(run: Run | None) -> str:
    if run is None or run.peak_mb is None:
        return "-"
    return f"{run.peak_mb:6.0f}"


def _fmt_left(value: int | None, present: bool) -> str:
    if not present:
        return "-"
    return "refused" if value is None else str(value)


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'file':42} {'type':5} {'KiB':>7} | {'ld s':>7} {'cold s':>7} {'cold MB':>7} | "
        f"{'mat2 s':>7} {'MB':>6} {'light s':>7} {'MB':>6} | left: {'ld':>7} {'mat2':>7} "
        f"{'light':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        r = row.runs
        print(
            f"{row.name[:42]:42} {row.kind[:5]:5} {row.size / 1024:7.0f} | "
            f"{_fmt_s(r['leakdrop'])} {_fmt_s(r['leakdrop-cold'])} "
            f"{_fmt_mb(r['leakdrop-cold']):>7} | "
            f"{_fmt_s(r.get('mat2'))} {_fmt_mb(r.get('mat2'))} "
            f"{_fmt_s(r.get('mat2-light'))} {_fmt_mb(r.get('mat2-light'))} | "
            f"      {_fmt_left(row.left.get('leakdrop'), True):>7} "
            f"{_fmt_left(row.left.get('mat2'), True):>7} "
            f"{_fmt_left(row.left.get('mat2-light'), 'mat2-light' in r):>7}"
        )


def print_ratios(rows: list[Row]) -> None:
    by_kind: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_kind[row.kind].append(row)
    print()
    print("Per format (median of files; ratio = mat2 time / leakdrop time, higher is better;")
    print("'warm' = leakdrop as the server runs it, 'cold' = one fresh process per file like mat2)")
    print(
        f"{'type':6} {'files':>5} {'ld warm s':>9} {'ld cold s':>9} {'mat2 s':>8} "
        f"{'x warm':>7} {'x cold':>7} {'ld MB':>6} {'mat2 MB':>7} "
        f"{'ld left':>7} {'mat2 left':>9} {'mat2 refused':>12}"
    )
    for kind, group in sorted(by_kind.items()):
        warm = statistics.median(r.runs["leakdrop"].seconds for r in group)
        cold = statistics.median(r.runs["leakdrop-cold"].seconds for r in group)
        mat2 = statistics.median(r.runs["mat2"].seconds for r in group)
        ld_mb = statistics.median(r.runs["leakdrop-cold"].peak_mb or 0 for r in group)
        mat2_mb = statistics.median(r.runs["mat2"].peak_mb or 0 for r in group)
        ld_left = sum(r.left.get("leakdrop") or 0 for r in group)
        mat2_left = sum(r.left.get("mat2") or 0 for r in group)
        refused = sum(1 for r in group if r.left.get("mat2") is None)
        print(
            f"{kind:6} {len(group):5} {warm:9.3f} {cold:9.3f} {mat2:8.3f} "
            f"{mat2 / warm:7.1f} {mat2 / cold:7.1f} {ld_mb:6.0f} {mat2_mb:7.0f} "
            f"{ld_left:7} {mat2_left:9} {refused:12}"
        )
    pdfs = [r for r in rows if r.kind == "pdf"]
    if pdfs:
        print()
        print("PDFs vs mat2 default mode (target >= 10x), and vs --lightweight:")
        for row in pdfs:
            ld = row.runs["leakdrop"].seconds
            cold = row.runs["leakdrop-cold"].seconds
            mat2 = row.runs["mat2"].seconds
            light = row.runs["mat2-light"].seconds
            print(
                f"  {row.name:42} default {mat2 / ld:6.1f}x warm {mat2 / cold:6.1f}x cold | "
                f"lightweight {light / ld:6.1f}x warm {light / cold:6.1f}x cold"
            )


def _user_install(venv: Path) -> Path:
    """The `leakdrop` command of a plain (not editable) install of this checkout, as the
    README has editors install it: an editable install adds its import finder to every
    start-up, which no user pays."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", f"{REPO}[server]"],
        check=True,
        capture_output=True,
    )
    return venv / "bin" / "leakdrop"


def compare_commands(name: str, data: bytes, runs: int) -> None:
    """`leakdrop scrub` as an editor types it (the installed entry point, one whole process
    per file) against `mat2 --lightweight`, alternated so that a load change hits both."""
    times: dict[str, list[float]] = {"leakdrop scrub": [], "mat2 --lightweight": []}
    with tempfile.TemporaryDirectory(prefix="bench-command-") as tmp:
        command = _user_install(Path(tmp) / "venv")
        for number in range(runs):
            folder = Path(tmp) / str(number)
            folder.mkdir()
            (folder / "in.pdf").write_bytes(data)
            argv = {
                "leakdrop scrub": [str(command), "scrub", "--out", "out", "in.pdf"],
                "mat2 --lightweight": ["mat2", "--lightweight", "in.pdf"],
            }
            for label, args in argv.items():
                seconds, _peak, status = _timed_process(args, folder)
                if status != 0:
                    raise SystemExit(f"{label} failed on {name} (exit {status})")
                times[label].append(seconds)
    ours = statistics.median(times["leakdrop scrub"])
    theirs = statistics.median(times["mat2 --lightweight"])
    print(
        f"Whole command on {name} (median of {runs}, alternated): leakdrop scrub "
        f"{ours:.3f} s, mat2 --lightweight {theirs:.3f} s: {theirs / ours:.2f}x "
        "(target >= 1.00x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--pages", type=int, default=50, help="pages of the generated PDF")
    parser.add_argument("--only", default="", help="comma-separated types (pdf,jpeg,...)")
    parser.add_argument(
        "--video-mb", type=int, default=100, help="size of the generated MP4 (0: none)"
    )
    parser.add_argument(
        "--audio-seconds", type=int, default=600, help="length of the generated audio files"
    )
    parser.add_argument(
        "--command-runs", type=int, default=15, help="runs of the whole-command comparison"
    )
    parser.add_argument("--command-pages", type=int, default=40, help="pages of its generated PDF")
    parser.add_argument(
        "--command-only", action="store_true", help="only the whole-command comparison"
    )
    args = parser.parse_args()
    if shutil.which("mat2") is None or shutil.which("exiftool") is None:
        print("needs mat2 and exiftool (Debian: mat2 libimage-exiftool-perl)", file=sys.stderr)
        return 2
    if args.command_only:
        pdf = make_text_pdf(args.command_pages)
        compare_commands(f"a {args.command_pages}-page PDF", pdf, args.command_runs)
        return 0
    inputs: list[tuple[str, bytes]] = [
        (f"generated/text-{args.pages}p.pdf", make_text_pdf(args.pages))
    ]
    only = {t for t in args.only.split(",") if t}
    if args.video_mb and (not only or "mp4" in only):
        video = make_phone_video(args.video_mb)
        if video is not None:
            inputs.append((f"generated/phone-{args.video_mb}MB.mp4", video))
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as audio_tmp:
        inputs += make_tagged_audio(args.audio_seconds, Path(audio_tmp))
    if args.corpus.is_dir():
        for path in sorted(args.corpus.glob("*/*")):
            if path.is_file() and path.suffix != ".md":
                inputs.append((f"{path.parent.name}/{path.name}", path.read_bytes()))
    else:
        print(f"(no corpus at {args.corpus}: generated files only)", file=sys.stderr)
    scrub_sandboxed(b"warm up the fork server")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scrub-") as tmp:
        for name, data in inputs:
            kind = sniff(data).name
            if kind in ("unknown", "zip") or (only and kind not in only):
                continue
            rows.append(bench_file(name, data, Path(tmp)))
        count_leftovers(rows)
    print(
        "mat2:",
        subprocess.run(["mat2", "--version"], capture_output=True, text=True).stdout.strip(),
    )
    print_table(rows)
    print_ratios(rows)
    if args.command_runs:
        print()
        pdf = make_text_pdf(args.command_pages)
        compare_commands(f"a {args.command_pages}-page PDF", pdf, args.command_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
