"""`leakdrop serve` settings: the cleaning workers' limits and the header timeout from
options and the environment, and that they reach the worker; name and about text."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import EditorKeys
from support.asgi_app import Server, make_server, open_only
from support.submissions import multipart, submissions

from leakdrop.server import ServerConfig, create_app

__all__ = ["make_server"]  # the fixtures


# ----------------------------------------------------------------- settings and the worker


def serve_args(argv: list[str]) -> Any:
    from leakdrop.cli import _build_parser

    return _build_parser().parse_args(["serve", *argv])


def test_worker_limits_and_header_timeout_from_options_and_environment(
    editor_identity: EditorKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leakdrop.server.config import MIB

    keys, storage = editor_identity.keys_dir, tmp_path / "st"
    args = serve_args(
        [
            "--scrub-memory-bytes=400M",
            "--scrub-cpu-seconds=7",
            "--scrub-wall-seconds=2.5",
            "--header-timeout=12",
        ]
    )
    limits = ServerConfig.from_args(args, keys=keys, storage=storage).limits
    assert (limits.scrub_memory_bytes, limits.scrub_cpu_seconds) == (400 * MIB, 7)
    assert (limits.scrub_wall_seconds, limits.header_timeout) == (2.5, 12.0)
    assert limits.header_deadline == 12.0
    # Unset: the scrubbers' own defaults; the header deadline never outlasts the idle one.
    import scrubbers

    config = ServerConfig.from_args(serve_args(["--idle-timeout=2"]), keys=keys, storage=storage)
    limits_ = config.limits
    assert limits_.scrub_memory_bytes == scrubbers.DEFAULT_LIMITS.memory_bytes
    assert limits_.scrub_cpu_seconds == scrubbers.DEFAULT_LIMITS.cpu_seconds
    assert limits_.scrub_wall_seconds == scrubbers.DEFAULT_LIMITS.wall_seconds
    assert (limits_.header_timeout, limits_.header_deadline) == (30.0, 2.0)
    # The same from the environment (read when the parser is built).
    for name, value in (
        ("LEAKDROP_SCRUB_MEMORY_BYTES", "1G"),
        ("LEAKDROP_SCRUB_CPU_SECONDS", "11"),
        ("LEAKDROP_SCRUB_WALL_SECONDS", "13.5"),
        ("LEAKDROP_HEADER_TIMEOUT", "9"),
    ):
        monkeypatch.setenv(name, value)
    env_limits = ServerConfig.from_args(serve_args([]), keys=keys, storage=storage).limits
    assert (env_limits.scrub_memory_bytes, env_limits.scrub_cpu_seconds) == (1024 * MIB, 11)
    assert (env_limits.scrub_wall_seconds, env_limits.header_deadline) == (13.5, 9.0)


@pytest.mark.parametrize(
    "argv",
    [
        ["--scrub-memory-bytes=0"],
        ["--scrub-memory-bytes=lots"],
        ["--scrub-memory-bytes=99999T"],
        ["--scrub-cpu-seconds=0"],
        ["--scrub-cpu-seconds=1.5"],
        ["--scrub-cpu-seconds=1000000"],
        ["--scrub-wall-seconds=0"],
        ["--scrub-wall-seconds=-3"],
        ["--scrub-wall-seconds=nan"],
        ["--scrub-wall-seconds=inf"],
        ["--header-timeout=0"],
        ["--header-timeout=soon"],
        ["--idle-timeout=nan"],
    ],
)
def test_bad_worker_limits_are_refused(
    argv: list[str], editor_identity: EditorKeys, tmp_path: Path
) -> None:
    from leakdrop.server import ConfigError

    option = argv[0].split("=")[0].removeprefix("--").replace("-", "_")
    with pytest.raises(ConfigError, match=option):
        ServerConfig.from_args(serve_args(argv), keys=editor_identity.keys_dir, storage=tmp_path)


def noise_png() -> bytes:
    """Two megabytes that do not compress: the worker must allocate to receive them."""
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.frombytes("RGB", (800, 800), os.urandom(800 * 800 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("limit", "fr_reason", "en_reason"),
    [
        (
            {"scrub_memory_bytes": 1024 * 1024},
            "trop grand ou trop complexe pour être nettoyé sans risque",
            "too large or too complex to clean safely",
        ),
        ({"scrub_wall_seconds": 0.001}, "le nettoyage a pris trop de temps", "cleaning timed out"),
    ],
)
def test_worker_limits_reach_the_worker(
    make_server: Callable[..., Server],
    tmp_path: Path,
    limit: dict[str, Any],
    fr_reason: str,
    en_reason: str,
) -> None:
    """A worker held to 1 MiB of address space cannot take a 2 MB image in; one given a
    millisecond cannot answer in time. Either way the file is kept as received."""
    png = noise_png()
    server = make_server(**limit)
    response = server.submit(multipart([("big.png", png), ("note.txt", b"text")]))
    assert response.status_code == 200, response.text
    assert f"NON NETTOYÉ</strong> — Raison\u00a0: {fr_reason}" in response.text
    opened = open_only(server, tmp_path)
    entry = opened.manifest["files"][0]
    assert entry["cleaned"] is False and entry["reason"] == en_reason
    assert opened.file(entry) == png
    # The default limits clean the same file.
    (server.storage / "submissions" / submissions(server.storage)[0].name).unlink()
    default = make_server()
    assert "NON NETTOYÉ" not in default.submit(multipart([("big.png", png)])).text


def test_name_and_about_from_the_environment_compose_sets(
    tmp_path: Path, editor_identity: EditorKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What docker/compose.yaml passes: LEAKDROP_NAME, and LEAKDROP_ABOUT empty (no folder
    set: the built-in text) or the mounted folder."""
    storage = tmp_path / "st"
    monkeypatch.setenv("LEAKDROP_NAME", "")
    monkeypatch.setenv("LEAKDROP_ABOUT", "")
    config = ServerConfig.from_args(serve_args([]), keys=editor_identity.keys_dir, storage=storage)
    assert config.name == "Technopoleaks" and config.about == {}
    about = tmp_path / "about"
    about.mkdir()
    (about / "fr.txt").write_text("Tenue par la rédaction de <Métropole>.\n\nAdresse : …")
    monkeypatch.setenv("LEAKDROP_NAME", "Fuites de la Métropole")
    monkeypatch.setenv("LEAKDROP_ABOUT", str(about))
    config = ServerConfig.from_args(serve_args([]), keys=editor_identity.keys_dir, storage=storage)
    page = Server(create_app(config), storage, editor_identity).request("GET", "/?lang=en").text
    assert "<title>Send documents · Fuites de la Métropole</title>" in page
    assert "Tenue par la rédaction de &lt;Métropole&gt;." in page
