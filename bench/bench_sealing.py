"""Seal and open a big file with leakdrop.sealing and with Debian's `age`, same file, same run.

Each step runs in its own process, streamed from and to disk; its peak RSS comes from
wait4() on that process alone. Prints MiB/s and peak RSS for both, the ratios, and
PASS/FAIL for our peak RSS under 64 MiB (issue 2: a 1 GiB file seals and opens in constant
memory).

    .venv/bin/python bench/bench_sealing.py              # 1 GiB
    .venv/bin/python bench/bench_sealing.py --size 64M   # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RSS_LIMIT_MIB = 64
BLOCK = 1024 * 1024
AGE = shutil.which("age") or "/usr/bin/age"
AGE_KEYGEN = shutil.which("age-keygen") or "/usr/bin/age-keygen"


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


# ------------------------------------------------------------------ workers (child processes)


def worker_seal(src: str, dst: str, recipient: str) -> None:
    from leakdrop.sealing import X25519Recipient, encrypt

    buf = bytearray(BLOCK)
    view = memoryview(buf)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        with encrypt(fout, [X25519Recipient.parse(recipient)]) as writer:
            while n := fin.readinto(buf):
                writer.write(view[:n])


def worker_open(src: str, dst: str, identity_file: str) -> None:
    from leakdrop.sealing import decrypt, parse_identities_file

    identities = parse_identities_file(Path(identity_file).read_text())
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        with decrypt(fin, identities) as reader:
            while n := reader.readinto(buf):
                fout.write(view[:n])


# ------------------------------------------------------------------ measuring


@dataclass
class Result:
    seconds: float
    peak_rss_mib: float


def measure(argv: list[str]) -> Result:
    """Run argv; wall time and the peak RSS of that process alone (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"step failed ({proc.returncode}): {' '.join(argv)}")
    return Result(elapsed, usage.ru_maxrss / 1024)  # Linux reports KiB


def make_plaintext(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            block = os.urandom(min(BLOCK, left))
            digest.update(block)
            f.write(block)
            left -= len(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def stanza_costs(rounds: int = 200) -> None:
    """Per-submission cost of the recipient stanzas: one wrap per editor when sealing, one
    unwrap when opening, X25519 next to the post-quantum hybrid (one HPKE operation with
    ML-KEM-768 + X25519 each), and what each adds to the header."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from leakdrop.sealing import HybridIdentity, X25519Identity

    file_key = os.urandom(16)
    timings: dict[str, tuple[float, float, int]] = {}
    for name, identity in (
        ("X25519", X25519Identity.generate()),
        ("mlkem768x25519", HybridIdentity.generate()),
    ):
        recipient = identity.recipient()
        start = time.perf_counter()
        for _ in range(rounds):
            stanzas = recipient.wrap(file_key)
        wrap = (time.perf_counter() - start) / rounds
        start = time.perf_counter()
        for _ in range(rounds):
            assert identity.unwrap(stanzas) == file_key
        unwrap = (time.perf_counter() - start) / rounds
        size = sum(len(" ".join((s.type, *s.args))) + 4 + len(s.body) * 4 // 3 + 2 for s in stanzas)
        timings[name] = (wrap, unwrap, size)
    print(f"\n[recipient stanzas, {rounds} rounds each, per editor]")
    print(f"{'type':<16}{'seal ms':>9}{'open ms':>9}{'header bytes':>14}")
    for name, (wrap, unwrap, size) in timings.items():
        print(f"{name:<16}{wrap * 1000:>9.3f}{unwrap * 1000:>9.3f}{size:>14}")
    (xw, xu, _), (hw, hu, _) = timings["X25519"], timings["mlkem768x25519"]
    print(f"  hybrid/X25519: seal {hw / xw:.1f}x, open {hu / xu:.1f}x")
    print(f"  a submission to 5 editors: {5 * hw * 1000:.2f} ms of hybrid stanzas to seal")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1G", help="plaintext size, e.g. 1G, 256M (default 1G)")
    parser.add_argument("--dir", help="scratch folder (default: a new temporary folder)")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, src, dst, key = args.worker
        (worker_seal if kind == "seal" else worker_open)(src, dst, key)
        return 0

    size = parse_size(args.size)
    scratch = Path(tempfile.mkdtemp(prefix="bench-sealing-", dir=args.dir))
    try:
        plain = scratch / "plain.bin"
        key = scratch / "key.txt"
        subprocess.run([AGE_KEYGEN, "-o", str(key)], check=True, capture_output=True)
        recipient = subprocess.run(
            [AGE_KEYGEN, "-y", str(key)], check=True, capture_output=True, text=True
        ).stdout.strip()
        print(f"generating {size / 2**20:.0f} MiB of random plaintext in {scratch} ...")
        want = make_plaintext(plain, size)

        me = [sys.executable, os.path.abspath(__file__), "--worker"]
        f = {n: str(scratch / n) for n in ("ours.age", "age.age", "ours.out", "age.out", "x.out")}
        null = os.devnull
        rounds: dict[str, dict[tuple[str, str], list[str]]] = {
            # Streamed from and to disk: what a real seal/open does (often disk-bound).
            "to disk": {
                ("seal", "ours"): [*me, "seal", str(plain), f["ours.age"], recipient],
                ("seal", "age"): [AGE, "-e", "-r", recipient, "-o", f["age.age"], str(plain)],
                ("open", "ours"): [*me, "open", f["age.age"], f["ours.out"], str(key)],
                ("open", "age"): [AGE, "-d", "-i", str(key), "-o", f["age.out"], f["ours.age"]],
            },
            # Input from the page cache, output discarded: the CPU cost of the crypto layer.
            "to /dev/null": {
                ("seal", "ours"): [*me, "seal", str(plain), null, recipient],
                ("seal", "age"): [AGE, "-e", "-r", recipient, "-o", null, str(plain)],
                ("open", "ours"): [*me, "open", f["age.age"], null, str(key)],
                ("open", "age"): [AGE, "-d", "-i", str(key), "-o", null, f["ours.age"]],
            },
        }
        results = {
            name: {step: measure(argv) for step, argv in steps.items()}
            for name, steps in rounds.items()
        }
        # Each tool opened the other's output: check both plaintexts, then our own round trip.
        ok = sha256_file(Path(f["ours.out"])) == want and sha256_file(Path(f["age.out"])) == want
        measure([*me, "open", f["ours.age"], f["x.out"], str(key)])
        ok = ok and sha256_file(Path(f["x.out"])) == want

        mib = size / 2**20
        print(f"\nsize: {mib:.0f} MiB  (python {sys.version.split()[0]}, {AGE})")
        verdict = 0
        for name, measured in results.items():
            print(f"\n[{name}]")
            print(f"{'step':<6}{'tool':<16}{'time s':>9}{'MiB/s':>10}{'peak RSS MiB':>15}")
            for (step, tool), r in measured.items():
                label = "leakdrop" if tool == "ours" else "age (Go CLI)"
                speed = mib / r.seconds
                print(f"{step:<6}{label:<16}{r.seconds:>9.2f}{speed:>10.0f}{r.peak_rss_mib:>15.1f}")
            for step in ("seal", "open"):
                ours, ref = measured[(step, "ours")], measured[(step, "age")]
                print(
                    f"  {step}: throughput leakdrop/age = {ref.seconds / ours.seconds:.2f}x, "
                    f"peak RSS leakdrop/age = {ours.peak_rss_mib / ref.peak_rss_mib:.2f}x"
                )
        print()
        for step in ("seal", "open"):
            rss = max(measured[(step, "ours")].peak_rss_mib for measured in results.values())
            passed = rss < RSS_LIMIT_MIB
            verdict |= not passed
            mark = "PASS" if passed else "FAIL"
            print(f"{mark}: leakdrop {step} peak RSS {rss:.1f} MiB < {RSS_LIMIT_MIB} MiB")
        print(f"{'PASS' if ok else 'FAIL'}: plaintext identical after every round trip")
        stanza_costs()
        return verdict | (not ok)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
