"""What an admin meets first: `--version`, `--help` that explains every option and names
its environment variable, and a bad port refused in one line before anything starts."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from leakdrop.cli import _build_parser

LEAKDROP = [str(Path(sys.executable).parent / "leakdrop")]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found[f"{prefix} {name}".strip()] = child
                    walk(f"{prefix} {name}", child)

    walk("", _build_parser())
    return found


def test_version_is_the_installed_one() -> None:
    done = subprocess.run([*LEAKDROP, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"leakdrop {version('leakdrop')}"


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_option_has_help(command: str) -> None:
    parser = _subcommands()[command]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        assert action.help, f"leakdrop {command} {'/'.join(action.option_strings) or action.dest}"


# Options an admin sets from the environment (docker/compose.yaml, docker/.env): the help
# must say which variable, or nobody finds it.
ENV_OPTIONS = {
    ("serve", "--host"): "LEAKDROP_HOST",
    ("serve", "--port"): "LEAKDROP_PORT",
    ("pickup", "--host"): "LEAKDROP_PICKUP_HOST",
    ("pickup", "--port"): "LEAKDROP_PICKUP_PORT",
    ("pickup", "--tokens"): "LEAKDROP_TOKENS",
    ("fetch", "--server"): "LEAKDROP_PICKUP_URL",
    ("fetch", "--token-file"): "LEAKDROP_TOKEN_FILE",
}


@pytest.mark.parametrize(("command", "option"), sorted(ENV_OPTIONS))
def test_help_names_the_environment_variable(command: str, option: str) -> None:
    done = subprocess.run(
        [*LEAKDROP, command, "--help"], capture_output=True, text=True, check=True
    )
    text = re.sub(r"\s+", " ", done.stdout)
    at = text.index(f" {option} ")
    assert f"[env {ENV_OPTIONS[command, option]}]" in text[at : at + 300]


@pytest.mark.parametrize("port", ["99999", "0", "-1", "x"])
def test_bad_port_is_one_line_before_anything_starts(port: str) -> None:
    done = subprocess.run(
        [*LEAKDROP, "serve", "--demo", "--port", port], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "listening" not in done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("leakdrop serve: error: argument --port")


SERVERS = {
    "serve": ["serve", "--demo"],
    "pickup": ["pickup", "--storage", "storage", "--tokens", "tokens.json"],
}


@pytest.mark.parametrize("command", sorted(SERVERS))
def test_port_in_use_is_one_line_and_nothing_listens(command: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*LEAKDROP, *SERVERS[command], "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "listening" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"leakdrop {command}: refusing to start: port {port} on 127.0.0.1 is already in use"
    )


@pytest.mark.parametrize("command", sorted(SERVERS))
@pytest.mark.parametrize("when", ["at once", "while serving"])
def test_ctrl_c_stops_without_a_traceback(command: str, when: str, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A terminal's Ctrl+C goes to the whole foreground process group: so does this one.
    proc = subprocess.Popen(
        [*LEAKDROP, *SERVERS[command], "--port", str(port)],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "listening on" in line:
            break
    if when == "while serving":
        with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert client.recv(100).startswith(b"HTTP/1.1")
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(60) == 0
    assert "Traceback" not in "".join(seen) + rest
