"""Ingest throughput and peak memory of `leakdrop serve`, next to `age -e`, same run.

    .venv/bin/python bench/bench_ingest.py              # 1 GiB (and 64 MiB for memory)
    .venv/bin/python bench/bench_ingest.py --size 200M  # quicker

Starts the real server on a free loopback port, streams one multipart upload generated on
the fly (never held in memory, never written to disk by the client), and measures the time
from the first byte sent to the receipt (which is only sent after the submission is sealed,
fsync'ed and renamed into place). Meanwhile it samples the server's resident memory
(server process plus its children). Then `age -e` seals the same bytes, read from a pipe,
into a file on the same file system. Prints MB/s for both, the ratio (target >= 0.5) and
the peak RSS for a small and a large upload (target: no growth with size).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEAKDROP = ROOT / ".venv" / "bin" / "leakdrop"
CHUNK = 1024 * 1024
BOUNDARY = "benchboundary7MA4YWxkTrZu0gW"


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def payload(size: int):
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
        return s.getsockname()[1]


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


def upload(port: int, size: int) -> tuple[float, int]:
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="files"; filename="bench.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def body():
        yield head
        yield from payload(size)
        yield tail

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
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
    response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, response.status


def age_seal(recipient: str, size: int, out: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(["age", "-e", "-r", recipient, "-o", str(out)], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for chunk in payload(size):
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("age failed")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G", help="large upload (default 1G)")
    parser.add_argument("--small", default="64M", help="small upload, for memory growth")
    args = parser.parse_args()
    size, small = parse_size(args.size), parse_size(args.small)
    work = Path(
        tempfile.mkdtemp(
            prefix="leakdrop-bench-", dir=ROOT / "build" if (ROOT / "build").is_dir() else None
        )
    )
    try:
        keys = work / "keys"
        keys.mkdir()
        ident = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
        recipient = next(x.split(": ")[1] for x in ident.splitlines() if "public key" in x)
        (keys / "bench.txt").write_text(recipient + "\n")
        storage = work / "storage"
        tmp = work / "tmp"
        tmp.mkdir()
        port = free_port()
        env = {**os.environ, "TMPDIR": str(tmp)}
        server = subprocess.Popen(
            [
                str(LEAKDROP),
                "serve",
                "--keys",
                str(keys),
                "--storage",
                str(storage),
                "--port",
                str(port),
                "--max-submission-bytes",
                str(max(size, small)),
                "--min-free-bytes",
                "0",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    c.request("GET", "/healthz")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("server did not start")
                    time.sleep(0.1)
            time.sleep(1.0)  # let the scrubbers' fork server finish starting
            idle = tree_rss(server.pid)
            results = []
            for n in (small, size):
                sampler = Sampler(server.pid)
                sampler.start()
                elapsed, status = upload(port, n)
                sampler.stop.set()
                sampler.join()
                if status != 200:
                    raise SystemExit(f"upload answered {status}")
                for f in (storage / "submissions").iterdir():
                    f.unlink()
                age_s = age_seal(recipient, n, work / "age-out.age")
                (work / "age-out.age").unlink()
                results.append((n, elapsed, sampler.peak, age_s))
        finally:
            server.terminate()
            server.wait(30)
        mib = 1024 * 1024
        print(f"server idle RSS (with children): {idle / mib:.0f} MiB")
        print(f"{'size':>10} {'leakdrop MB/s':>14} {'age MB/s':>10} {'ratio':>6} {'peak RSS':>9}")
        for n, elapsed, peak, age_s in results:
            ours, theirs = n / elapsed / 1e6, n / age_s / 1e6
            print(
                f"{n / mib:>8.0f}Mi {ours:>14.1f} {theirs:>10.1f} {ours / theirs:>6.2f}"
                f" {peak / mib:>5.0f} MiB"
            )
        (n1, _, p1, _), (n2, e2, p2, a2) = results
        print(f"throughput vs age at {n2 / mib:.0f} MiB: {a2 / e2:.2f}x (target >= 0.5x)")
        print(
            f"peak RSS {n1 / mib:.0f} MiB -> {n2 / mib:.0f} MiB upload: "
            f"{(p2 - p1) / mib:+.0f} MiB (target: flat)"
        )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
