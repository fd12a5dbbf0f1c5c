"""Large files cleaned by ranges (issue 11, "any size up to the submission limit").

Above `Limits.stream_above_bytes` (32 MiB by default), a PDF, a video (MP4/MOV/M4A/3GP,
Matroska/WebM, AVI) or a WAV/AIFF/FLAC/MP3/Ogg (Vorbis, Opus, FLAC) recording is not loaded
whole: the worker reads the ranges it needs through the parent, which decrypts them from the
encrypted spool, and streams its output back (media samples as "copy this range"; Ogg pages
are renumbered, so they are written again one bounded run at a time).
What is proved here:
- the streamed clean gives the very bytes and the very report of the in-RAM clean, for every
  self-made video and PDF and the corpus's (so everything the other scrubber tests prove of
  the output holds for large files too);
- the spool's random access is exact and as tamper-evident as its sequential read;
- a worker that lies on the stream protocol (reads or copies outside the file, floods the
  output, claims a clean it did not finish) leaves the file "not cleaned", the server alive;
- through the real server with its default settings, a 40 MB phone video and a 40 MB scanned
  PDF come back cleaned: exiftool finds no location, make, title or author, and the video's
  packets are those of the original; so does a 39 MB Ogg Opus recording, its packets too.
Peak memory for a 1 GiB video and a 700 MB scan is measured by
`bench/bench_ingest.py --real-files`, not asserted here.
"""

from __future__ import annotations

import io
import os
import random
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from support.fixtures_pdf import dirty_pdf, small_pdf
from support.live_server import (
    ServerFactory,
    exiftool_json,
    live_server,
    open_submission,
    sealed_files,
    submit,
)
from test_scrub_audio import MAKERS as AUDIO_MAKERS
from test_scrub_audio import _canaries, _framemd5
from test_scrub_video import _AV, _H264_AAC, MAKERS, _ffmpeg, _with_gps_track, packets, probe

from leakdrop.server.spool import SpoolFile, SpoolIntegrityError, SpoolKey
from scrubbers import (
    DEFAULT_LIMITS,
    STREAMED_TYPES,
    BytesSink,
    Limits,
    RangeSource,
    ScrubReport,
    scrub,
    scrub_sandboxed,
    scrub_streamed,
    scrub_streamed_sandboxed,
)
from scrubbers._sandbox import recv_frame, send_frame

__all__ = ["live_server"]  # the fixture


def streamed_corpus(shared: Path) -> list[Path]:
    corpus = shared / "corpus"
    kinds = {".mov", ".mp4", ".m4a", ".mkv", ".webm", ".avi", ".wav", ".aif", ".aiff", ".mp3"}
    kinds |= {".flac", ".ogg", ".opus"}
    videos = [p for p in (corpus / "media").glob("*") if p.suffix in kinds]
    pdfs = [*(corpus / "pikepdf").glob("*.pdf"), *(corpus / "mat2").glob("*.pdf")]
    return sorted(videos) + sorted(pdfs)


class RamOutput:
    """A `StreamTarget` in RAM (the server's is an encrypted spool)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.finished = False

    def write(self, data: bytes | memoryview) -> None:
        assert not self.finished
        self.data += data

    def finish(self) -> None:
        self.finished = True

    def read_at(self, offset: int, size: int) -> bytes:
        return bytes(self.data[offset : offset + size])


def streamed(data: bytes) -> tuple[ScrubReport, bytes]:
    output = RamOutput()
    report = scrub_streamed_sandboxed(
        len(data), lambda offset, size: data[offset : offset + size], output
    )
    return report, bytes(output.data)


def assert_same_as_in_ram(data: bytes) -> None:
    whole = scrub_sandboxed(data)
    report, output = streamed(data)
    assert report.cleaned == whole.cleaned, (report.reason, whole.reason)
    assert report.reason == whole.reason
    assert report.removed == whole.removed
    assert report.warnings == whole.warnings
    assert report.links == whole.links
    attached = [(a.untrusted_name, a.report.data) for a in report.attachments]
    assert attached == [(a.untrusted_name, a.report.data) for a in whole.attachments]
    if whole.cleaned:
        assert output == whole.data


# --- the same output as the in-RAM clean ---------------------------------------------------

STREAMED_VIDEOS = [
    *("phone.mov", "android.mp4", "late.mp4", "fragmented.mp4", "voice.m4a", "clip.3gp"),
    *("camera.avi", "tagged.mkv", "live.webm", "dashcam.mp4"),
]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("streamed-video")
    made = {}
    for name in STREAMED_VIDEOS[:-1]:
        path, _ = MAKERS[name](tmp)
        made[name] = path.read_bytes()
    plain = tmp / "plain.mp4"
    _ffmpeg(plain, *_AV, *_H264_AAC)
    made["dashcam.mp4"] = _with_gps_track(
        plain.read_bytes(), [b"CanaryStreamGps1 +48.8566+002.3522/", b"CanaryStreamGps2"]
    )
    return made


@pytest.mark.parametrize("name", STREAMED_VIDEOS)
def test_streamed_video_is_the_in_ram_clean(name: str, videos: dict[str, bytes]) -> None:
    assert_same_as_in_ram(videos[name])


def test_streamed_gps_track_samples_are_zeroed(videos: dict[str, bytes]) -> None:
    report, output = streamed(videos["dashcam.mp4"])
    assert report.cleaned
    assert b"CanaryStreamGps" not in output and b"48.85" not in output


def _recorder_wav(repeat: int = 400) -> bytes:
    """A voice recorder's WAV: bext (originator, date), LIST/INFO, iXML around the sound."""
    samples = bytes(range(256)) * repeat
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    bext = b"CanaryWavOriginator".ljust(256, b"\x00") + b"2024-05-0110:00:00" + bytes(580)
    info = b"INFO" + b"IART" + struct.pack("<I", 16) + b"CanaryWavArtist\x00"
    chunks = [(b"fmt ", fmt), (b"bext", bext), (b"LIST", info), (b"data", samples),
              (b"iXML", b"<BWFXML>CanaryWavIxml</BWFXML>")]  # fmt: skip
    body = b"WAVE" + b"".join(
        c + struct.pack("<I", len(d)) + d + (b"\x00" if len(d) & 1 else b"") for c, d in chunks
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_streamed_recording_is_the_in_ram_clean_and_keeps_its_sound() -> None:
    data = _recorder_wav()
    assert_same_as_in_ram(data)
    report, output = streamed(data)
    assert report.cleaned and b"CanaryWav" not in output
    assert output.endswith(bytes(range(256)) * 400)


@pytest.mark.parametrize("make", [dirty_pdf, lambda: small_pdf("CanaryStreamAuthor")])
def test_streamed_pdf_is_the_in_ram_clean(make: Callable[[], bytes]) -> None:
    assert_same_as_in_ram(make())


def test_corpus_files_streamed_as_in_ram(shared_dir: Path | None) -> None:
    """Every PDF and QuickTime/MP4 file of ../shared/corpus: the same outcome both ways."""
    if shared_dir is None:
        pytest.skip("../shared is absent here (CI=true fails instead)")
    files = streamed_corpus(shared_dir)
    assert len(files) > 10
    for path in files:
        try:
            assert_same_as_in_ram(path.read_bytes())
        except AssertionError as exc:
            raise AssertionError(f"{path.name}: {exc}") from exc


def test_in_process_streamed_clean_matches_too() -> None:
    data = dirty_pdf()
    source = RangeSource(len(data), lambda offset, size: data[offset : offset + size])
    sink = BytesSink(source)
    report = scrub_streamed(source, sink, limits=DEFAULT_LIMITS)
    assert report.cleaned and report.data == b""
    assert sink.getvalue() == scrub(data).data


def test_a_type_that_does_not_stream_is_not_cleaned_with_its_reason() -> None:
    image = io.BytesIO()
    Image.new("RGB", (8, 8)).save(image, "PNG")
    report, _ = streamed(image.getvalue())
    assert not report.cleaned
    assert report.reason == "too large or too complex to clean safely"


def test_a_big_streamed_pdf_keeps_only_its_tail_in_ram_and_is_identical() -> None:
    """Larger than the tail the PDF writer holds back (32 MiB): the /ID is still blanked in
    the right place, and the bytes are those of the in-RAM clean."""
    pages = [random.Random(i).randbytes(24 * 1024 * 1024) for i in range(3)]
    data = _image_pdf(pages, (4096, 6144), False, {"/Author": "CanaryBigAuthor"})
    report, output = streamed(data)
    assert report.cleaned, report.reason
    assert output == scrub(data).data
    assert b"CanaryBigAuthor" not in output and b"/ID" not in output[-4096:]


# --- the spool's random access -------------------------------------------------------------


def test_spool_reads_any_range_exactly(tmp_path: Path) -> None:
    data = os.urandom(3_000_000)
    spool = SpoolFile(tmp_path, SpoolKey())
    rng = random.Random(7)
    at = 0
    while at < len(data):
        n = rng.randint(1, 400_000)
        spool.write(data[at : at + n])
        at += n
    spool.finish()
    try:
        for _ in range(300):
            offset = rng.randint(0, len(data))
            size = rng.randint(0, 1_500_000)
            assert spool.read_at(offset, size) == data[offset : offset + size]
        assert spool.read_at(len(data) - 1, 10) == data[-1:]
    finally:
        spool.close()


@pytest.mark.parametrize("case", ["flip", "length", "swap"])
def test_spool_random_access_refuses_a_tampered_record(tmp_path: Path, case: str) -> None:
    spool = SpoolFile(tmp_path, SpoolKey())
    for seed in range(3):
        spool.write(random.Random(seed).randbytes(100_000))
    spool.finish()
    try:
        fd = spool._fd
        raw = Path(f"/proc/self/fd/{fd}").read_bytes()
        first = spool._disk_starts[1]
        second = spool._disk_starts[2]
        if case == "flip":
            os.pwrite(fd, bytes([raw[first + 50] ^ 1]), first + 50)
        elif case == "length":
            os.pwrite(fd, (99_999).to_bytes(4, "big"), first)
        else:  # records 1 and 2 exchanged: same lengths, wrong places (their nonces differ)
            os.pwrite(fd, raw[second : second + (second - first)], first)
        assert spool.read_at(0, 1000) == random.Random(0).randbytes(100_000)[:1000]
        with pytest.raises(SpoolIntegrityError):
            spool.read_at(150_000, 10)
    finally:
        spool.close()


# --- a worker that lies on the stream protocol ---------------------------------------------


def _start(sock: socket.socket) -> int:
    return int.from_bytes(recv_frame(sock), "big")


def target_reads_past_the_end(sock: socket.socket, limits: Limits) -> None:
    size = _start(sock)
    send_frame(sock, b"R\x00" + (size + 1).to_bytes(8, "big") + (10).to_bytes(8, "big"))
    recv_frame(sock)


def target_copies_past_the_end(sock: socket.socket, limits: Limits) -> None:
    size = _start(sock)
    send_frame(sock, b"C" + (0).to_bytes(8, "big") + (size + 1).to_bytes(8, "big"))
    recv_frame(sock)


def target_floods_the_output(sock: socket.socket, limits: Limits) -> None:
    _start(sock)
    while True:
        send_frame(sock, b"W" + bytes(1024 * 1024))


def target_copies_the_input_forever(sock: socket.socket, limits: Limits) -> None:
    size = _start(sock)
    while True:
        send_frame(sock, b"C" + (0).to_bytes(8, "big") + size.to_bytes(8, "big"))


def target_claims_clean_without_finishing(sock: socket.socket, limits: Limits) -> None:
    from scrubbers import _wire
    from scrubbers._sniff import sniff
    from scrubbers._types import ScrubReport

    size = _start(sock)
    send_frame(sock, b"R\x00" + (0).to_bytes(8, "big") + min(size, 1024).to_bytes(8, "big"))
    head = recv_frame(sock)
    send_frame(sock, b"C" + (0).to_bytes(8, "big") + size.to_bytes(8, "big"))
    send_frame(sock, b"D" + _wire.encode(ScrubReport(sniff(head), True, b"")))


def target_reads_the_output_before_finishing(sock: socket.socket, limits: Limits) -> None:
    _start(sock)
    send_frame(sock, b"W" + b"%PDF-1.7\n")
    send_frame(sock, b"R\x01" + (0).to_bytes(8, "big") + (10).to_bytes(8, "big"))
    recv_frame(sock)


def target_writes_another_type(sock: socket.socket, limits: Limits) -> None:
    from scrubbers import _wire
    from scrubbers._sniff import sniff
    from scrubbers._types import ScrubReport

    size = _start(sock)
    send_frame(sock, b"R\x00" + (0).to_bytes(8, "big") + min(size, 1024).to_bytes(8, "big"))
    head = recv_frame(sock)
    send_frame(sock, b"W" + b"GIF89a" + bytes(100))
    send_frame(sock, b"F")
    send_frame(sock, b"D" + _wire.encode(ScrubReport(sniff(head), True, b"")))


def target_sends_an_unknown_message(sock: socket.socket, limits: Limits) -> None:
    _start(sock)
    send_frame(sock, b"X" + bytes(10))
    recv_frame(sock)


LIARS = {
    "reads past the end": target_reads_past_the_end,
    "copies past the end": target_copies_past_the_end,
    "floods the output": target_floods_the_output,
    "copies the input forever": target_copies_the_input_forever,
    "claims a clean it did not finish": target_claims_clean_without_finishing,
    "reads its output before finishing it": target_reads_the_output_before_finishing,
    "writes another type": target_writes_another_type,
    "sends an unknown message": target_sends_an_unknown_message,
}


@pytest.mark.parametrize("case", list(LIARS))
def test_a_lying_worker_leaves_the_file_not_cleaned(case: str) -> None:
    data = small_pdf("CanaryLiarAuthor")
    output = RamOutput()
    report = scrub_streamed_sandboxed(
        len(data),
        lambda offset, size: data[offset : offset + size],
        output,
        limits=Limits(wall_seconds=20.0),
        _worker_target=LIARS[case],
    )
    assert not report.cleaned
    assert report.reason in (
        "the cleaner crashed on this file",
        "too large or too complex to clean safely",
    )
    # Bounded: never more than the input plus the fixed slack (64 MiB), whatever was sent.
    assert len(output.data) <= len(data) + 64 * 1024 * 1024


# --- through the real server, default settings --------------------------------------------


def _image_pdf(
    images: list[bytes], size: tuple[int, int], dct: bool, info: dict[str, str]
) -> bytes:
    """A PDF of one full-page grey image per page (`dct`: the images are JPEGs)."""
    pdf = pikepdf.new()
    for key, value in info.items():
        pdf.docinfo[key] = value
    for data in images:
        image = pikepdf.Stream(pdf, data)
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = size[0], size[1], 8
        image.ColorSpace = pikepdf.Name.DeviceGray
        if dct:
            image.Filter = pikepdf.Name.DCTDecode
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 595, 842],
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
            Contents=pikepdf.Stream(pdf, b"q 595 0 0 842 0 0 cm /Im0 Do Q"),
        )
        pdf.pages.append(pikepdf.Page(page))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _scanned_pdf(size: int) -> bytes:
    """A scan: one noise JPEG (an A4 page at 300 dpi) per page, past `size` bytes."""
    width, height = 2480, 3508
    buffer = io.BytesIO()
    Image.frombytes("L", (width, height), random.Random(3).randbytes(width * height)).save(
        buffer, "JPEG", quality=90
    )
    jpeg = buffer.getvalue()
    info = {"/Author": "CanaryScanAuthor", "/Producer": "CanaryScanProducer"}
    return _image_pdf([jpeg] * (size // len(jpeg) + 1), (width, height), True, info)


def _phone_video(path: Path, size: int) -> None:
    """H.264 lossless noise (about 1.5 bytes a pixel) and AAC, with a phone's tags."""
    frames = int(size / (640 * 480 * 1.4)) + 1
    _ffmpeg(
        path,
        "-f", "rawvideo", "-s", "640x480", "-pix_fmt", "gray", "-r", "30",
        "-i", "/dev/urandom", "-f", "lavfi", "-i", "sine=frequency=440",
        "-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
        "-metadata", "location=+48.8566+002.3522/", "-metadata", "make=CanaryStreamMake",
        "-metadata", "title=CanaryStreamTitle", "-movflags", "+use_metadata_tags",
    )  # fmt: skip


def test_large_video_and_scan_cleaned_through_the_server(
    live_server: ServerFactory, tmp_path: Path
) -> None:
    video = tmp_path / "phone.mp4"
    _phone_video(video, 40 * 1000 * 1000)
    scan = _scanned_pdf(40 * 1000 * 1000)
    meeting = _recorder_wav(repeat=160_000)  # 41 MB of sound
    threshold = DEFAULT_LIMITS.stream_above_bytes
    assert min(video.stat().st_size, len(scan), len(meeting)) > threshold
    server = live_server()  # default settings
    files = [("phone.mp4", video.read_bytes()), ("scan.pdf", scan), ("meeting.wav", meeting)]
    response = submit(server, files)
    assert response.status_code == 200, response.text
    assert 'class="not-cleaned"' not in response.text
    assert response.text.count('class="cleaned"') == 3
    [sealed] = sealed_files(server.storage)
    opened = open_submission(sealed, server.editor.identity, tmp_path / "opened")
    clean_video = opened.path(opened.by_original("phone.mp4"))
    clean_scan = opened.path(opened.by_original("scan.pdf"))
    assert all(opened.by_original(n)["cleaned"] for n in ("phone.mp4", "scan.pdf", "meeting.wav"))
    clean_meeting = opened.data(opened.by_original("meeting.wav"))
    assert b"CanaryWav" not in clean_meeting
    assert clean_meeting.endswith(bytes(range(256)) * 160_000)  # the sound, byte for byte
    for path, canaries in (
        (clean_video, [b"CanaryStream", b"48.85"]),
        (clean_scan, [b"CanaryScan"]),
    ):
        data = path.read_bytes()
        assert not [c for c in canaries if c in data], path.name
        tags = exiftool_json(path)
        left = [k for k in tags if any(w in k for w in ("GPS", "Location", "Make", "Author"))]
        assert not left, (path.name, left)
        assert "Canary" not in repr(tags)
    assert packets(clean_video) == packets(video)
    assert probe(clean_video) == probe(video)
    with pikepdf.open(clean_scan) as pdf, pikepdf.open(io.BytesIO(scan)) as original:
        assert len(pdf.pages) == len(original.pages)
        first = pdf.pages[0].Resources.XObject.Im0.read_raw_bytes()
        assert first == original.pages[0].Resources.XObject.Im0.read_raw_bytes()


# --- `leakdrop scrub` on large files -------------------------------------------------------


def _leakdrop_scrub(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakdrop.cli", "scrub", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_scrub_command_cleans_a_large_scan_by_ranges(tmp_path: Path) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(_scanned_pdf(40 * 1000 * 1000))
    out = tmp_path / "out"
    result = _leakdrop_scrub(scan, "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    [written] = list(out.iterdir())
    assert written.name == "scan.pdf" and (written.stat().st_mode & 0o777) == 0o600
    data = written.read_bytes()
    assert b"CanaryScan" not in data
    assert data == scrub(scan.read_bytes(), limits=Limits(max_input_bytes=1 << 30)).data


def test_scrub_command_leaves_nothing_for_a_large_file_it_cannot_clean(tmp_path: Path) -> None:
    broken = tmp_path / "locked.pdf"
    with pikepdf.open(io.BytesIO(_scanned_pdf(40 * 1000 * 1000))) as pdf:
        # A user password: its content cannot be read, so it cannot be cleaned.
        pdf.save(broken, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    out = tmp_path / "out"
    result = _leakdrop_scrub(broken, "--out", out)
    assert result.returncode == 1
    assert "encrypted with a password" in result.stdout
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("kind", ["mp3", "flac", "wav", "aiff", "aifc", "ogg", "opus", "oggflac"])
def test_streamed_audio_is_the_in_ram_clean(kind: str, tmp_path: Path) -> None:
    """The tagged recordings the audio tests make (ID3v2/v1/APE, Vorbis comments and
    pictures, bext/iXML/INFO): the same bytes and report cleaned by ranges."""
    data = AUDIO_MAKERS[kind](tmp_path).read_bytes()
    assert_same_as_in_ram(data)
    report, _ = streamed(data)
    assert report.cleaned and report.removed


@pytest.mark.parametrize("kind", ["ogg", "opus", "oggflac"])
def test_streamed_ogg_keeps_its_packets_and_no_comment(kind: str, tmp_path: Path) -> None:
    """Vorbis, Opus and FLAC-in-Ogg by ranges: no canary of the comment header (nor of its
    picture) left, and ffmpeg reads the very audio packets of the original."""
    dirty = AUDIO_MAKERS[kind](tmp_path)
    report, output = streamed(dirty.read_bytes())
    assert report.cleaned, report.reason
    assert not [c for c in _canaries(kind) if c.encode() in output]
    clean = tmp_path / ("clean" + dirty.suffix)
    clean.write_bytes(output)
    assert _framemd5(clean) == _framemd5(dirty)


def _voice_memo(path: Path, seconds: int) -> None:
    """Ogg Opus at its highest bitrate (noise: about 55 kB a second), with a phone's tags."""
    _ffmpeg(
        path,
        "-f", "lavfi", "-i", "anoisesrc=color=white:sample_rate=48000:amplitude=0.5",
        "-ac", "2", "-t", str(seconds), "-c:a", "libopus", "-b:a", "510k",
        "-metadata", "artist=CanaryMemoArtist", "-metadata", "location=+48.8566+002.3522/",
        "-metadata", "encoder=CanaryMemoEncoder",
    )  # fmt: skip


def test_large_opus_recording_cleaned_through_the_server(
    live_server: ServerFactory, tmp_path: Path
) -> None:
    assert {"ogg", "opus"} <= STREAMED_TYPES
    memo = tmp_path / "memo.opus"
    _voice_memo(memo, 700)
    assert memo.stat().st_size > DEFAULT_LIMITS.stream_above_bytes
    server = live_server()  # default settings
    response = submit(server, [("memo.opus", memo.read_bytes())])
    assert response.status_code == 200, response.text
    assert 'class="not-cleaned"' not in response.text
    assert response.text.count('class="cleaned"') == 1
    [sealed] = sealed_files(server.storage)
    opened = open_submission(sealed, server.editor.identity, tmp_path / "opened")
    entry = opened.by_original("memo.opus")
    assert entry["cleaned"]
    clean = opened.path(entry)
    data = clean.read_bytes()
    assert b"CanaryMemo" not in data and b"48.85" not in data
    assert "Canary" not in repr(exiftool_json(clean))
    assert _framemd5(clean) == _framemd5(memo)
