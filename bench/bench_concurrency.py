"""Submissions per second and latency (p50/p99) with 1, 10, 50 and 200 concurrent sources.

    .venv/bin/python bench/bench_concurrency.py            # 30 / 200 / 400 / 400 submissions
    .venv/bin/python bench/bench_concurrency.py --quick    # 10 / 50 / 100 / 200
    .venv/bin/python bench/bench_concurrency.py --json out.json

Starts the real `leakdrop serve` on a free loopback port with its default settings (what an
admin gets: no limit raised). Every submission is a first one, so each also derives a new
source's codename (Argon2id, two at a time). Every source sends the same realistic
submission: a phone photo with GPS, a one-page PDF with an author, a small Word document
and a message — each file is cleaned in a sandboxed worker, the whole sealed to one editor
key, fsync'ed and renamed. Latency is from the first byte sent to the end of the receipt.

Reference, same run: the same files cleaned with `scrubbers.scrub_sandboxed` and sealed
(`submission.seal_submission`, to a file, fsync'ed), one after
the other in this process: what one submission costs without HTTP, multipart parsing or
the spool. Ratios: server submissions/s / reference submissions/s (how much of the bare
work rate the server keeps), and the scaling with concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEAKDROP = Path(sys.executable).with_name("leakdrop")  # the installed entry point
sys.path.insert(0, str(ROOT / "tests"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def workload() -> tuple[list[tuple[str, bytes]], str]:
    from support.fixtures_office import jpeg_with_gps
    from support.fixtures_pdf import small_pdf
    from support.live_server import simple_docx

    files = [
        ("IMG_20240506_070809.jpg", jpeg_with_gps()),
        ("report.pdf", small_pdf("A. Clerk", "Visible text of the report")),
        ("memo.docx", simple_docx("Memo text", "A. Clerk")),
    ]
    return files, "What these documents are, and why they matter."


def multipart(files: list[tuple[str, bytes]], message: str) -> tuple[bytes, str]:
    boundary = "benchConcurrency7MA4YWxkTrZu0gW"
    out = bytearray()
    for name, data in files:
        out += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    out += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="message"\r\n\r\n'
        f"{message}\r\n--{boundary}--\r\n"
    ).encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def reference_seconds(
    files: list[tuple[str, bytes]], message: str, recipient: str, out_dir: Path, rounds: int
) -> float:
    """Median seconds for clean + seal of one submission, in process, no HTTP."""
    import scrubbers
    from leakdrop.sealing import X25519Recipient
    from leakdrop.submission import FileEntry, seal_submission

    recipients = [X25519Recipient.parse(recipient)]
    scrubbers.scrub_sandboxed(b"warm up the fork server")
    times = []
    for n in range(rounds):
        start = time.perf_counter()
        entries = []
        for index, (name, data) in enumerate(files):
            report = scrubbers.scrub_sandboxed(data)
            cleaned = report.data

            def opener(b: bytes = cleaned) -> io.BytesIO:
                return io.BytesIO(b)

            entries.append(
                FileEntry(
                    stored_name=f"{index:02d}-{name}",
                    original_name=name,
                    detected_type=report.file_type.name,
                    media_type=report.file_type.media_type,
                    cleaned=report.cleaned,
                    reason=report.reason,
                    removed=list(report.removed),
                    note=report.note,
                    size=len(cleaned),
                    sha256=hashlib.sha256(cleaned).hexdigest(),
                    open=opener,
                )
            )
        path = out_dir / f"ref-{n}.age"
        with path.open("wb") as sink:
            seal_submission(
                sink,
                recipients,
                submission_id=os.urandom(16).hex(),
                received_day="2024-01-01",
                message=message,
                files=entries,
            )
            sink.flush()
            os.fsync(sink.fileno())
        path.unlink()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def run_level(
    url: str, body: bytes, content_type: str, concurrency: int, total: int
) -> tuple[float, list[float], int]:
    import httpx

    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def source() -> None:
            nonlocal failures
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                response = await client.post(
                    f"{url}/submit?lang=en", content=body, headers={"Content-Type": content_type}
                )
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    failures += 1

        start = time.perf_counter()
        await asyncio.gather(*(source() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return wall, latencies, failures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer submissions per level")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    levels = (
        [(1, 10), (10, 50), (50, 100), (200, 200)]
        if args.quick
        else [(1, 30), (10, 200), (50, 400), (200, 400)]
    )

    files, message = workload()
    body, content_type = multipart(files, message)
    work = Path(tempfile.mkdtemp(prefix="leakdrop-bench-conc-"))
    server = None
    try:
        keys = work / "keys"
        keys.mkdir()
        ident = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
        recipient = next(x.split(": ")[1] for x in ident.splitlines() if "public key" in x)
        (keys / "bench.txt").write_text(recipient + "\n")
        ref = reference_seconds(files, message, recipient, work, 5 if args.quick else 15)

        storage = work / "storage"
        port = free_port()
        server = subprocess.Popen(
            [
                str(LEAKDROP), "serve", "--keys", str(keys), "--storage", str(storage),
                "--port", str(port),
            ],
            env={**os.environ, "TMPDIR": str(work)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        asyncio.run(run_level(url, body, content_type, 1, 3))  # warm-up

        results = []
        for concurrency, total in levels:
            wall, latencies, failures = asyncio.run(
                run_level(url, body, content_type, concurrency, total)
            )
            results.append(
                {
                    "concurrency": concurrency,
                    "submissions": total,
                    "failed": failures,
                    "per_second": total / wall,
                    "p50_s": statistics.median(latencies),
                    "p99_s": percentile(latencies, 0.99),
                }
            )
            for f in (storage / "submissions").iterdir():
                f.unlink()
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)

    ref_rate = 1 / ref
    base = results[0]["per_second"]
    print(f"workload: {len(files)} files + message, {len(body) / 1024:.0f} KiB per submission")
    print(f"reference (clean + seal in process, one at a time): {ref_rate:.1f} submissions/s")
    print(
        f"{'sources':>7} {'subs':>5} {'fail':>4} {'subs/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'x ref':>6} {'x 1 src':>7}"
    )
    for r in results:
        print(
            f"{r['concurrency']:>7} {r['submissions']:>5} {r['failed']:>4} "
            f"{r['per_second']:>7.1f} {r['p50_s'] * 1000:>7.0f} {r['p99_s'] * 1000:>7.0f} "
            f"{r['per_second'] / ref_rate:>6.2f} {r['per_second'] / base:>7.2f}"
        )
    print(f"cores: {os.cpu_count()}")
    if args.json:
        args.json.write_text(
            json.dumps({"reference_per_second": ref_rate, "levels": results}, indent=1)
        )
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
