"""Audio and plain text, checked from the outside (issue 11).

Files are made the way real programs make them: ffmpeg with ``-metadata`` (every field a
unique canary), mutagen for the taggers' formats (ID3v2 pictures, APE, ID3v1, FLAC and Ogg
pictures), and a Broadcast Wave built by hand with the chunks recorders write (``bext``,
``iXML``, ``LIST/INFO``, ``cue `` and ``LIST/adtl`` labels, an ``id3 `` chunk). After
`scrub_sandboxed`:
- no canary is left anywhere in the bytes, and ExifTool finds none, nor any identifying tag
  of the project's table (tests/test_scrub_corpus.py);
- the audio is the same: ffmpeg's per-packet hashes of the input and output streams
  (``-c copy -f framemd5``) are equal, with the same duration and number of audio streams,
  and no picture stream left;
- a truncated copy is not cleaned, with a reason, and kept as received.
Every audio and text file of ../shared/corpus/media/ goes through the same checks.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import mutagen.apev2
import mutagen.flac
import mutagen.id3
import mutagen.oggopus
import mutagen.oggvorbis
import pytest
from PIL import Image
from test_scrub_corpus import forbidden_tags

from scrubbers import (
    CorruptFileError,
    ScrubReport,
    UnsupportedTypeError,
    scrub,
    scrub_sandboxed,
    sniff,
)
from scrubbers._audio_tags import AUDIO_NOTE
from scrubbers.text import TEXT_NOTE

# --- making dirty files --------------------------------------------------------------------

_FIELDS = ("artist", "title", "album", "comment", "date", "encoded_by", "copyright", "genre")


def _canary(kind: str, field: str) -> str:
    return f"cnry{kind}{field.replace('_', '')}q7"


def _canaries(kind: str) -> list[str]:
    return [_canary(kind, field) for field in (*_FIELDS, "picture", "extra")]


def _ffmpeg(out: Path, *args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
         "-ac", "2", *args, str(out)],
        check=True,
        timeout=120,
    )  # fmt: skip


def _metadata(kind: str) -> list[str]:
    args: list[str] = []
    for field in _FIELDS:
        args += ["-metadata", f"{field}={_canary(kind, field)}"]
    return args


def _picture(kind: str) -> bytes:
    # A cover with its own text chunk: the picture is a file with metadata of its own.
    from io import BytesIO

    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", _canary(kind, "picture"))
    out = BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _flac_picture(kind: str) -> mutagen.flac.Picture:
    picture = mutagen.flac.Picture()
    picture.type = 3
    picture.mime = "image/png"
    picture.desc = _canary(kind, "extra")
    picture.data = _picture(kind)
    return picture


def _make_mp3(tmp: Path) -> Path:
    path = tmp / "dirty.mp3"
    _ffmpeg(path, "-c:a", "libmp3lame", "-b:a", "128k", *_metadata("mp3"))
    tags = mutagen.id3.ID3(path)
    tags.add(
        mutagen.id3.APIC(
            encoding=3, mime="image/png", type=3, desc=_canary("mp3", "extra"),
            data=_picture("mp3"),
        )
    )  # fmt: skip
    tags.save(path, v1=2)  # ID3v1 at the end as well
    ape = mutagen.apev2.APEv2()
    ape["Artist"] = _canary("mp3", "artist")
    ape.save(path)
    return path


def _make_flac(tmp: Path) -> Path:
    path = tmp / "dirty.flac"
    _ffmpeg(path, "-c:a", "flac", *_metadata("flac"))
    audio = mutagen.flac.FLAC(path)
    audio.add_picture(_flac_picture("flac"))
    audio.save()
    return path


def _ogg_picture_comment(kind: str) -> str:
    return base64.b64encode(_flac_picture(kind).write()).decode("ascii")


def _make_ogg(tmp: Path) -> Path:
    path = tmp / "dirty.ogg"
    _ffmpeg(path, "-c:a", "libvorbis", *_metadata("ogg"))
    audio = mutagen.oggvorbis.OggVorbis(path)
    audio["METADATA_BLOCK_PICTURE"] = [_ogg_picture_comment("ogg")]
    audio.save()
    return path


def _make_opus(tmp: Path) -> Path:
    path = tmp / "dirty.opus"
    _ffmpeg(path, "-c:a", "libopus", *_metadata("opus"))
    audio = mutagen.oggopus.OggOpus(path)
    audio["METADATA_BLOCK_PICTURE"] = [_ogg_picture_comment("opus")]
    audio.save()
    return path


def _make_flac_in_ogg(tmp: Path) -> Path:
    path = tmp / "dirty.oga"
    _ffmpeg(path, "-c:a", "flac", "-f", "ogg", *_metadata("oggflac"))
    return path


def _riff_chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _make_wav(tmp: Path) -> Path:
    # ffmpeg writes LIST/INFO from -metadata and a bext chunk with -write_bext; the rest is
    # added by hand the way recorders and editors write it.
    base = tmp / "base.wav"
    bext = [
        "-write_bext", "1",
        "-metadata", f"description={_canary('wav', 'extra')}",
        "-metadata", "originator=cnrywavoriginatorq7",
        "-metadata", "originator_reference=cnrywavorigrefq7",
        "-metadata", "origination_date=2024-05-01",
        "-metadata", "origination_time=10:00:00",
        "-metadata", "coding_history=cnrywavhistoryq7",
    ]  # fmt: skip
    _ffmpeg(base, "-c:a", "pcm_s16le", *_metadata("wav"), *bext)
    data = base.read_bytes()
    ixml = b"<BWFXML><PROJECT>cnrywavixmlq7</PROJECT><NOTE>cnrywavnoteq7</NOTE></BWFXML>"
    cue = struct.pack("<I", 1) + struct.pack("<II4sIII", 1, 0, b"data", 0, 0, 4410)
    adtl = b"adtl" + _riff_chunk(b"labl", struct.pack("<I", 1) + b"cnrywavlabelq7\x00")
    id3 = mutagen.id3.ID3()
    id3.add(mutagen.id3.TPE1(encoding=3, text="cnrywavid3q7"))
    from io import BytesIO

    id3_bytes = BytesIO()
    id3.save(id3_bytes)
    extra = (
        _riff_chunk(b"iXML", ixml)
        + _riff_chunk(b"cue ", cue)
        + _riff_chunk(b"LIST", adtl)
        + _riff_chunk(b"id3 ", id3_bytes.getvalue())
        + _riff_chunk(b"JUNK", b"cnrywavjunkq7" + b"\x00" * 19)
    )
    body = data[12:] + extra
    path = tmp / "dirty.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body)
    return path


def _make_aiff(tmp: Path, *, kind: str = "aiff") -> Path:
    path = tmp / f"dirty.{kind}"
    # AIFF-C: little-endian samples ('sowt'), with a compression name and a version chunk.
    codec = "pcm_s16le" if kind == "aifc" else "pcm_s16be"
    _ffmpeg(path, "-c:a", codec, "-f", "aiff", "-write_id3v2", "1", *_metadata(kind))
    data = path.read_bytes()

    def chunk(chunk_id: bytes, body: bytes) -> bytes:
        return chunk_id + struct.pack(">I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")

    comment = _canary(kind, "extra").encode()
    comt = struct.pack(">HIHH", 1, 0, 0, len(comment)) + comment
    extra = (
        chunk(b"NAME", f"cnry{kind}nameq7".encode())
        + chunk(b"AUTH", f"cnry{kind}authq7".encode())
        + chunk(b"ANNO", f"cnry{kind}annoq7".encode())
        + chunk(b"COMT", comt)
        + chunk(b"(c) ", _canary(kind, "picture").encode())
    )
    body = data[12:] + extra
    path.write_bytes(b"FORM" + struct.pack(">I", 4 + len(body)) + data[8:12] + body)
    return path


MAKERS: dict[str, Callable[[Path], Path]] = {
    "mp3": _make_mp3,
    "flac": _make_flac,
    "ogg": _make_ogg,
    "opus": _make_opus,
    "oggflac": _make_flac_in_ogg,
    "wav": _make_wav,
    "aiff": _make_aiff,
    "aifc": lambda tmp: _make_aiff(tmp, kind="aifc"),
}
_SNIFFED = {"oggflac": "ogg", "aifc": "aiff"}


# --- outside readers -----------------------------------------------------------------------


def _exiftool(path: Path) -> dict[str, object]:
    result = subprocess.run(
        ["exiftool", "-a", "-G0:1", "-s", "-ee", "-j", "-m", "-b", str(path)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    return dict(json.loads(result.stdout)[0])


def _framemd5(path: Path) -> list[str]:
    """Per audio packet: stream, duration, size, hash and side data (skip samples).

    Not its timestamps: ffmpeg's MP3 reader starts the clock a microsecond apart when an
    ID3v2 tag is in front (the same on a file only stripped of that tag).
    """
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-c", "copy",
         "-f", "framemd5", "-"],
        capture_output=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    lines = result.stdout.decode().splitlines()
    # Vorbis extradata is its three header packets, the comment header among them, and
    # ffmpeg's Ogg reader also hands the comments to the first packet as side data: the one
    # part that must differ. Packet sizes and hashes must not.
    vorbis = any(line.startswith("#codec_id") and "vorbis" in line for line in lines)
    kept = []
    for line in lines:
        if line.startswith("#"):
            if not (vorbis and line.startswith("#extradata")):
                kept.append(line)
            continue
        fields = line.split(",")
        kept.append(",".join(fields[:1] + fields[3 : 6 if vorbis else None]))
    return kept


def _probe(path: Path) -> tuple[str | None, list[str]]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type",
         "-of", "json", str(path)],
        capture_output=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    probed = json.loads(result.stdout)
    return probed["format"].get("duration"), [s["codec_type"] for s in probed["streams"]]


def _identifying(tags: dict[str, object]) -> list[str]:
    # A field present but empty (an Ogg comment header's empty vendor) carries nothing.
    left = forbidden_tags({k: v for k, v in tags.items() if v != ""}, [])
    # The audio formats' own names for who, what software and when.
    audio_names = {
        "Encoder", "EncoderSettings", "Vendor", "Originator", "OriginatorReference",
        "OriginationDate", "OriginationTime", "CodingHistory", "Lyrics", "Picture",
        "PictureDescription", "CoverArt", "Album", "Genre", "Track", "Year", "Name",
        "EncodedBy", "Composer", "Project", "Note",
    }  # fmt: skip
    left += [key for key, value in tags.items() if key.split(":")[-1] in audio_names and value]
    # An MP3 Info frame keeps its encoder family without a version: players check it.
    return sorted({k for k in left if not (k == "MPEG:Encoder" and _family_only(tags[k]))})


def _family_only(value: object) -> bool:
    # ExifTool reads 20 bytes there when no version follows the family: binary, base64.
    text = str(value)
    raw = base64.b64decode(text[7:]) if text.startswith("base64:") else text.encode()
    return raw[:9].rstrip(b" \x00") in (b"LAME", b"Lavc", b"Lavf")


def _check_clean(original: Path, report: ScrubReport, out: Path, canaries: list[str]) -> None:
    assert report.cleaned, report.reason
    assert report.note == AUDIO_NOTE
    assert report.removed
    out.write_bytes(report.data)
    lowered = report.data.lower()
    for canary in canaries:
        assert canary.encode() not in lowered, canary
    tags = _exiftool(out)
    assert not any(c in json.dumps(tags) for c in canaries)
    assert _identifying(tags) == []
    assert _framemd5(out) == _framemd5(original)
    before, after = _probe(original), _probe(out)
    assert after[0] == before[0]  # duration
    assert after[1] == [t for t in before[1] if t == "audio"]  # no picture stream


# --- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_real_files_cleaned_audio_untouched(tmp_path: Path, kind: str) -> None:
    original = MAKERS[kind](tmp_path)
    data = original.read_bytes()
    canaries = _canaries(kind)
    found = [c for c in canaries if c.encode() in data]
    assert len(found) >= 5, found  # the fixture really is dirty
    assert _identifying(_exiftool(original))
    assert sniff(data).name == _SNIFFED.get(kind, kind)
    report = scrub_sandboxed(data)
    _check_clean(original, report, tmp_path / f"clean{original.suffix}", canaries)
    # Cleaning a cleaned file changes nothing and finds nothing.
    again = scrub_sandboxed(report.data)
    assert again.cleaned and again.data == report.data and again.removed == ()


def test_report_names_fields_not_values(tmp_path: Path) -> None:
    wav = scrub_sandboxed(_make_wav(tmp_path).read_bytes())
    assert {"riff:bext", "riff:iXML", "riff:LIST/INFO", "riff:LIST/adtl"} <= set(wav.removed)
    assert {"riff:cue", "riff:id3", "riff:JUNK"} <= set(wav.removed)
    mp3 = scrub_sandboxed(_make_mp3(tmp_path).read_bytes())
    assert {"id3:TPE1", "id3:APIC", "id3v1", "ape:Artist", "mp3:encoder-version"} <= set(
        mp3.removed
    )
    flac = scrub_sandboxed(_make_flac(tmp_path).read_bytes())
    assert {"vorbis:ARTIST", "vorbis:vendor", "flac:picture"} <= set(flac.removed)
    opus = scrub_sandboxed(_make_opus(tmp_path).read_bytes())
    assert {"vorbis:ARTIST", "vorbis:METADATA_BLOCK_PICTURE"} <= set(opus.removed)
    for report in (wav, mp3, flac, opus):
        assert not any("cnry" in name for name in report.removed)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_truncated_files_not_cleaned(tmp_path: Path, kind: str) -> None:
    data = MAKERS[kind](tmp_path).read_bytes()
    # Cut inside the audio, past any tag in front: the file ends in the middle of a frame,
    # page or chunk.
    cut = data[: len(data) * 3 // 5 + 7]
    report = scrub_sandboxed(cut)
    assert not report.cleaned
    assert report.reason == CorruptFileError.reason
    assert report.data == cut


def test_mp3_lame_tag_kept_but_anonymous(tmp_path: Path) -> None:
    data = _make_mp3(tmp_path).read_bytes()
    assert re.search(rb"Lavc[0-9]+\.[0-9]+", data)  # ffmpeg's libavcodec version
    report = scrub_sandboxed(data)
    info_frame = report.data[:417]  # 128 kbit/s at 44.1 kHz, no padding bit
    assert b"Info" in info_frame  # players get the duration and gapless delays from it
    assert b"Lavc" in info_frame and b"Lavc5" not in info_frame  # the family, no version


# --- plain text ----------------------------------------------------------------------------

TEXTS = {
    "ascii": b"Meeting notes\nThe vendor installed 12 cameras.\n",
    "latin1-crlf": "Café, déjà vu\r\n".encode("latin-1"),
    "utf8-bom": "\ufeffNotes: réunion à 10h\n".encode(),
    "utf16": "Liste des caméras\n".encode("utf-16"),
    "csv": b"id,place,model\n1,Gare,PTZ-300\n",
    "markdown": b"# Notes\n\n- *first* item\n",
}
NOT_TEXT = {
    "html": b"<!-- saved from url=(0042)http://intranet.example/ -->\n<html></html>",
    "svg-late": b"drawing follows\n<svg xmlns='http://www.w3.org/2000/svg'/>",
    "rtf": rb"{\rtf1\ansi{\info{\author Jane}}Hello}",
    "binary": b"text at first" + b"\x00\x01\x02" * 10,
    "postscript": b"%!PS-Adobe-3.0\n%%Creator: Jane\n",
    # Saved e-mails: their headers name the sender's relays, address and mail program.
    "eml": b"Received: from [10.1.2.3] by mx.example\nFrom: Jane <jane@corp.example>\n"
    b"Subject: tender\nMessage-ID: <123@laptop-jane.corp.example>\n\nSee attached.\n",
    "eml-late-header": b"From: Jane <jane@corp.example>\nTo: x@example.org\nSubject: hi\n"
    b"User-Agent: Thunderbird/115\n\nbody\n",
    "mbox": b"From jane@corp.example Mon Dec  7 10:00:00 2026\nSubject: x\n\nbody\n",
}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_plain_text_says_nothing_hidden(name: str) -> None:
    untrusted = TEXTS[name]
    report = scrub_sandboxed(untrusted)
    assert report.file_type.name == "text"
    assert (report.cleaned, report.note, report.data, report.removed) == (
        True, TEXT_NOTE, untrusted, ()
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(NOT_TEXT))
def test_markup_and_binary_are_not_plain_text(name: str) -> None:
    report = scrub_sandboxed(NOT_TEXT[name])
    assert report.file_type.name != "text"
    assert not report.cleaned or report.file_type.name == "html"  # cleaned by its scrubber


def test_binary_after_a_text_start_is_not_passed_as_text() -> None:
    assert sniff(b"a" * (70 * 1024) + b"\x00\x00binary").name == "unknown"  # its end
    # The sniffer reads a file's start and end; the worker checks every byte.
    for untrusted in (
        b"a" * (70 * 1024) + b"\x00\x00binary" + b"b" * (70 * 1024),
        "a".encode("utf-16") + "b".encode("utf-16-le") * 40_000 + b"\x00\xd8",
    ):
        assert sniff(untrusted).name == "text"
        report = scrub_sandboxed(untrusted)
        assert (report.cleaned, report.reason) == (False, UnsupportedTypeError.reason)
        assert report.data == untrusted


def test_receipt_lines_for_the_notes() -> None:
    from leakdrop.server.i18n import STRINGS, note_lines

    for lang in ("fr", "en"):
        assert note_lines(lang, AUDIO_NOTE) == [STRINGS[lang]["note_audio_kept"]]
        assert note_lines(lang, TEXT_NOTE) == [STRINGS[lang]["note_plain_text"]]
        assert STRINGS[lang]["note_other"] not in note_lines(lang, TEXT_NOTE)


# --- the shared corpus ---------------------------------------------------------------------

_AUDIO_SUFFIXES = {".mp3", ".flac", ".ogg", ".opus", ".wav", ".aif", ".aiff", ".txt", ".csv"}
# Files of the corpus that hold no complete audio: a header, a frame header, a last page cut
# off. They must end "not cleaned" as corrupt, kept as received.
TRUNCATED = {
    "exiftool-AIFF.aif",  # COMM announces samples, no SSND chunk
    "exiftool-FLAC.flac",  # metadata blocks, no frame
    "exiftool-FLAC.ogg",  # header pages, no audio page, no end of stream
    "exiftool-MP3.mp3",  # one frame header, no frame
    "exiftool-Vorbis.ogg",  # the last page runs past the end of the file
}


def _media_files(shared_dir: Path | None) -> list[Path]:
    if shared_dir is None:
        return []
    media = shared_dir / "corpus" / "media"
    return sorted(p for p in media.iterdir() if p.suffix in _AUDIO_SUFFIXES)


def test_corpus_media_audio_and_text(tmp_path: Path, shared_dir: Path | None) -> None:
    files = _media_files(shared_dir)
    if shared_dir is None:
        return  # outside this environment: the self-made files above cover each format
    assert len(files) >= 18, "the shared corpus is incomplete"
    assert TRUNCATED <= {p.name for p in files}
    for path in files:
        untrusted = path.read_bytes()
        report = scrub_sandboxed(untrusted)
        if path.name in TRUNCATED:
            assert (report.cleaned, report.reason) == (False, CorruptFileError.reason), path
            assert report.data == untrusted
            continue
        assert report.cleaned, (path.name, report.reason)
        out = tmp_path / f"clean-{path.name}"
        out.write_bytes(report.data)
        if report.file_type.name == "text":
            assert report.data == untrusted and report.note == TEXT_NOTE
            continue
        tags = _exiftool(out)
        assert _identifying(tags) == [], path.name
        assert _identifying(_exiftool(path)), path.name  # it was dirty
        assert _framemd5(out) == _framemd5(path), path.name
        before, after = _probe(path), _probe(out)
        assert after[0] == before[0], path.name
        assert after[1] == [t for t in before[1] if t == "audio"], path.name


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_damaged_files_fail_with_a_typed_reason(tmp_path: Path, kind: str) -> None:
    # Hostile input is normal: flipped bytes, cuts, insertions. Every outcome is a clean
    # file or one of the scrubbers' own reasons, never a parser bug ("could not be
    # cleaned" is what an unexpected exception becomes).
    import random

    from scrubbers import ScrubError, scrub

    data = MAKERS[kind](tmp_path).read_bytes()
    rng = random.Random(kind)
    for _ in range(150):
        damaged = bytearray(data)
        position = rng.randrange(min(len(damaged), 8192))
        action = rng.randrange(3)
        if action == 0:
            damaged[position] ^= 1 << rng.randrange(8)
        elif action == 1:
            del damaged[position:]
        else:
            damaged[position:position] = rng.randbytes(rng.randrange(1, 40))
        report = scrub(bytes(damaged))
        assert report.reason != ScrubError.reason
        if not report.cleaned:
            assert report.data == damaged


def test_bytes_after_the_fields_of_kept_wav_chunks_are_cut() -> None:
    """`fmt ` and `fact` are kept, but only the fields their format defines: bytes after
    them are read by no player and could carry anything."""

    def chunk(chunk_id: bytes, body: bytes) -> bytes:
        return chunk_id + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)

    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16) + b"CanaryFmtTail"
    fact = struct.pack("<I", 1000) + b"CanaryFactTail"
    body = b"WAVE" + chunk(b"fmt ", fmt) + chunk(b"fact", fact) + chunk(b"data", bytes(2000))
    report = scrub_sandboxed(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert report.cleaned, report.reason
    assert b"Canary" not in report.data
    assert {"riff:fmt/extra", "riff:fact/extra"} <= set(report.removed)
    assert report.data.endswith(bytes(2000))
    assert scrub(report.data).removed == ()


def test_flac_seektable_goes_with_whatever_it_holds(tmp_path: Path) -> None:
    """SEEKTABLE points are free 18-byte records no player checks: not kept."""
    plain = _make_flac(tmp_path)
    data = plain.read_bytes()
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0
    size = int.from_bytes(data[5:8], "big")
    seek = b"CanaryFlacSeekPt!!"
    head = bytes([data[4] & 0x7F]) + data[5:8] + data[8 : 8 + size]
    flag = data[4] & 0x80
    dirty = b"fLaC" + head + bytes([3 | flag]) + len(seek).to_bytes(3, "big") + seek
    dirty += data[8 + size :]
    report = scrub_sandboxed(dirty)
    assert report.cleaned, report.reason
    assert "flac:seektable" in report.removed
    assert b"Canary" not in report.data
