"""Ingest throughput and peak memory of `leakdrop serve`, next to `age -e`, same run.

    .venv/bin/python bench/bench_ingest.py              # 1 GiB (and 64 MiB for memory)
    .venv/bin/python bench/bench_ingest.py --size 200M  # quicker

Starts the real server on a free loopback port, streams one multipart upload generated on
the fly (never held in memory, never written to disk by the client), and measures the time
from the first byte sent to the receipt (which is only sent after the submission is sealed,
fsync'ed and renamed into place). Meanwhile it samples the server's resident memory
(server process plus its children). Next to each upload, `age -e` seals the same bytes,
read from a pipe, into a file on the same file system (timed without, then with, an fsync
of its output).

With `--real-files`, it instead uploads files that are cleaned (not only sealed), with the
server's default settings: a phone-style MP4 (H.264 + AAC, location, make and title tags)
just under the 1 GiB upload limit, a 700 MB scanned PDF (one JPEG per page, an author in
its Info), and a 10 MB MP4 for reference; each receipt must say "cleaned", and the peak
memory of the server and its cleaning workers is printed per file (target: under 64 MiB more
than for the 10 MB file).

Each size runs `--repeat` times, alternating which of the two goes first;
prints every run, the median ratio for the large size (target >= 0.5) and the peak RSS for
the small and the large upload (target: no growth with size). The machine may be shared:
compare medians, not single runs. `--profile FILE` records the server with py-spy.
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEAKDROP = Path(sys.executable).with_name("leakdrop")  # the installed entry point
CHUNK = 1024 * 1024
BOUNDARY = "benchboundary7MA4YWxkTrZu0gW"


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def payload(size: int) -> Iterator[bytes]:
    """Incompressible-looking bytes, generated on the fly, identical for each consumer."""
    block = bytearray(_BLOCK)
    sent = 0
    counter = 0
    while sent < size:
        n = min(CHUNK, size - sent)
        block[:8] = counter.to_bytes(8, "big")  # every MiB differs
        yield bytes(block[:n])
        sent += n
        counter += 1


_BLOCK = os.urandom(CHUNK)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_rss(pid: int) -> int:
    """Resident bytes of pid and all its descendants."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return total


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(0.01)


def _post(port: int, name: str, data: Iterator[bytes], size: int) -> tuple[float, int, str]:
    """POST one file of `size` bytes (streamed from `data`) as the form does; the time to
    the receipt, its status and its text."""
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from data
        yield tail

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    start = time.perf_counter()
    conn.request(
        "POST",
        "/submit?lang=en",
        body=body(),
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(len(head) + size + len(tail)),
        },
    )
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, response.status, text


def upload(port: int, size: int) -> tuple[float, int]:
    elapsed, status, _ = _post(port, "bench.bin", payload(size), size)
    return elapsed, status


def age_seal(recipient: str, size: int, out: Path) -> tuple[float, float]:
    """Seconds for `age -e` to seal `size` bytes from a pipe into `out`, and the same plus
    an fsync of `out` (the server fsyncs before it answers; age alone does not)."""
    start = time.perf_counter()
    proc = subprocess.Popen(["age", "-e", "-r", recipient, "-o", str(out)], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for chunk in payload(size):
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("age failed")
    sealed = time.perf_counter() - start
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return sealed, time.perf_counter() - start


def start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not Path(spy).exists():
        print("--profile: py-spy not found (pip install py-spy)", file=sys.stderr)
        return None
    command = [spy, "record", "-p", str(pid), "--threads", "--nonblocking", "-r", "200"]
    command += ["-f", "raw", "-o", str(out)]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@dataclass(frozen=True)
class Run:
    size: int
    ours: float  # seconds from first byte sent to receipt
    age: float  # seconds for age -e
    age_fsync: float  # the same plus an fsync of its output
    peak: int  # peak RSS of the server and its children
    server_cpu: float  # CPU seconds of the server process during the upload
    age_cpu: float  # CPU seconds of the age process


def median(values: list[float]) -> float:
    return statistics.median(values)


def make_video(path: Path, size: int) -> None:
    """Phone-style: H.264 (lossless noise, so that the size is reached fast) and AAC, with
    the tags a phone writes."""
    # Lossless noise: about 1.5 bytes per pixel (measured), so the size is reached fast.
    frames = max(2, int(size / (1280 * 720 * 1.51)))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-s", "1280x720", "-pix_fmt", "gray",
         "-r", "30", "-i", "/dev/urandom", "-f", "lavfi", "-i", "sine=frequency=440",
         "-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
         "-metadata", "location=+48.8566+002.3522/", "-metadata", "make=BenchPhone",
         "-metadata", "title=bench", "-movflags", "+use_metadata_tags", str(path)],
        check=True,
    )  # fmt: skip


def make_scanned_pdf(path: Path, size: int) -> None:
    """One noise JPEG (an A4 page at 300 dpi) per page, as a scanner writes them."""
    import io

    import pikepdf
    from PIL import Image

    width, height = 2480, 3508
    buffer = io.BytesIO()
    Image.frombytes("L", (width, height), os.urandom(width * height)).save(
        buffer, "JPEG", quality=90
    )
    jpeg = buffer.getvalue()
    pdf = pikepdf.new()
    pdf.docinfo["/Author"] = "Bench Scanner"
    for _ in range(max(1, size // len(jpeg))):
        image = pikepdf.Stream(pdf, jpeg)
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = width, height, 8
        image.ColorSpace, image.Filter = pikepdf.Name.DeviceGray, pikepdf.Name.DCTDecode
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 595, 842],
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
            Contents=pikepdf.Stream(pdf, b"q 595 0 0 842 0 0 cm /Im0 Do Q"),
        )
        pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)


def upload_file(port: int, path: Path) -> tuple[float, int, str]:
    """POST one file, streamed from disk; the receipt page's text comes back."""

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    return _post(port, path.name, chunks(), path.stat().st_size)


def start_server(work: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], int, str]:
    keys = work / "keys"
    keys.mkdir()
    ident = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
    recipient = next(x.split(": ")[1] for x in ident.splitlines() if "public key" in x)
    (keys / "bench.txt").write_text(recipient + "\n")
    tmp = work / "tmp"
    tmp.mkdir()
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp)}
    # A file, not a pipe nobody reads: a chatty server must not block on its stderr.
    with (work / "server.log").open("wb") as server_log:
        server = subprocess.Popen(
            [str(LEAKDROP), "serve", "--keys", str(keys), "--storage", str(work / "storage"),
             "--port", str(port), *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=server_log,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                log = (work / "server.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"server did not start:\n{log}") from None
            time.sleep(0.1)
    time.sleep(1.0)  # let the scrubbers' fork server finish starting
    return server, port, recipient


def real_files(repeat: int) -> int:
    mib = 1024 * 1024
    work = Path(
        tempfile.mkdtemp(
            prefix="leakdrop-bench-", dir=ROOT / "build" if (ROOT / "build").is_dir() else None
        )
    )
    try:
        files = work / "files"
        files.mkdir()
        reference = files / "phone-10MB.mp4"
        video = files / "phone-1GiB.mp4"
        scan = files / "scan-700MB.pdf"
        make_video(reference, 10 * 1000 * 1000)
        make_video(video, 1024 * mib - 16 * mib)  # under the default upload limit
        make_scanned_pdf(scan, 700 * 1000 * 1000)
        # Default settings: only where the keys and the storage are.
        server, port, _ = start_server(work, [])
        rows = []
        try:
            idle = tree_rss(server.pid)
            for _ in range(repeat):
                for path in (reference, video, scan):
                    sampler = Sampler(server.pid)
                    sampler.start()
                    elapsed, status, text = upload_file(port, path)
                    sampler.stop.set()
                    sampler.join()
                    if status != 200:
                        raise SystemExit(f"{path.name}: upload answered {status}")
                    cleaned = 'class="cleaned"' in text and 'class="not-cleaned"' not in text
                    for f in (work / "storage" / "submissions").iterdir():
                        f.unlink()
                    rows.append((path, elapsed, sampler.peak, cleaned))
        finally:
            server.terminate()
            server.wait(30)
        print(f"server idle RSS (with children): {idle / mib:.0f} MiB")
        print(f"{'file':>18} {'size':>8} {'seconds':>8} {'peak RSS':>9} {'receipt':>12}")
        for path, elapsed, peak, cleaned in rows:
            print(
                f"{path.name:>18} {path.stat().st_size / mib:>6.0f}Mi {elapsed:>8.1f}"
                f" {peak / mib:>5.0f} MiB {'cleaned' if cleaned else 'NOT CLEANED':>12}"
            )
        base = max(peak for path, _, peak, _ in rows if path == reference)
        for big in (video, scan):
            peak = max(p for path, _, p, _ in rows if path == big)
            print(
                f"{big.name}: peak {peak / mib:.0f} MiB, {(peak - base) / mib:+.0f} MiB"
                " next to the 10 MB file (target: under +64 MiB)"
            )
        return 0 if all(cleaned for *_, cleaned in rows) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--real-files",
        action="store_true",
        help="upload a 1 GiB phone video, a 700 MB scanned PDF and a 10 MB video, cleaned",
    )
    parser.add_argument("--size", default="1G", help="large upload (default 1G)")
    parser.add_argument("--small", default="64M", help="small upload, for memory growth")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each size (default 3; medians reported)"
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy raw profile of the server during all runs"
    )
    args = parser.parse_args()
    if args.real_files:
        return real_files(args.repeat)
    size, small = parse_size(args.size), parse_size(args.small)
    work = Path(
        tempfile.mkdtemp(
            prefix="leakdrop-bench-", dir=ROOT / "build" if (ROOT / "build").is_dir() else None
        )
    )
    try:
        # Raised limits only where a size asks for them; the --real-files run uses none.
        server, port, recipient = start_server(
            work, ["--max-submission-bytes", str(max(size, small)), "--min-free-bytes", "0"]
        )
        storage = work / "storage"
        profiler = None
        try:
            idle = tree_rss(server.pid)
            # The order of the two alternates: on a VM, whoever first touches fresh memory
            # pays for it.
            runs: list[Run] = []
            if args.profile:
                profiler = start_profiler(server.pid, args.profile)
            # Sizes interleaved: the allocator's state after earlier uploads (it keeps some
            # freed memory) then weighs on both sizes alike.
            for i in range(args.repeat):
                for n in (small, size):
                    age_first = i % 2 == 1
                    if age_first:
                        age_cpu = children_cpu()
                        age_s, age_sync_s = age_seal(recipient, n, work / "age-out.age")
                        age_cpu = children_cpu() - age_cpu
                        (work / "age-out.age").unlink()
                    sampler = Sampler(server.pid)
                    sampler.start()
                    server_cpu = cpu_seconds(server.pid)
                    elapsed, status = upload(port, n)
                    server_cpu = cpu_seconds(server.pid) - server_cpu
                    sampler.stop.set()
                    sampler.join()
                    if status != 200:
                        raise SystemExit(f"upload answered {status}")
                    for f in (storage / "submissions").iterdir():
                        f.unlink()
                    if not age_first:
                        age_cpu = children_cpu()
                        age_s, age_sync_s = age_seal(recipient, n, work / "age-out.age")
                        age_cpu = children_cpu() - age_cpu
                        (work / "age-out.age").unlink()
                    runs.append(
                        Run(n, elapsed, age_s, age_sync_s, sampler.peak, server_cpu, age_cpu)
                    )
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                profiler.wait(60)
            server.terminate()
            server.wait(30)
        mib = 1024 * 1024
        print(f"server idle RSS (with children): {idle / mib:.0f} MiB")
        print(
            f"{'size':>8} {'leakdrop MB/s':>14} {'age MB/s':>9} {'ratio':>6}"
            f" {'ratio vs age+fsync':>19} {'CPU s: server':>14} {'age':>5} {'peak RSS':>9}"
        )
        for r in runs:
            print(
                f"{r.size / mib:>6.0f}Mi {r.size / r.ours / 1e6:>14.1f}"
                f" {r.size / r.age / 1e6:>9.1f} {r.age / r.ours:>6.2f}"
                f" {r.age_fsync / r.ours:>19.2f} {r.server_cpu:>14.2f} {r.age_cpu:>5.2f}"
                f" {r.peak / mib:>5.0f} MiB"
            )
        large = [r for r in runs if r.size == size]
        small_runs = [r for r in runs if r.size == small]
        ratio = median([r.age / r.ours for r in large])
        ratio_sync = median([r.age_fsync / r.ours for r in large])
        cpu_ratio = median([r.age_cpu / r.server_cpu for r in large])
        print(
            f"median throughput vs age at {size / mib:.0f} MiB over {len(large)} runs:"
            f" {ratio:.2f}x (target >= 0.5x); vs age + fsync: {ratio_sync:.2f}x;"
            f" CPU seconds, age / server: {cpu_ratio:.2f}"
        )
        peak_small = max(r.peak for r in small_runs)
        peak_large = max(r.peak for r in large)
        print(
            f"peak RSS {small / mib:.0f} MiB -> {size / mib:.0f} MiB upload: "
            f"{peak_small / mib:.0f} -> {peak_large / mib:.0f} MiB,"
            f" {(peak_large - peak_small) / mib:+.0f} MiB (target: flat)"
        )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
