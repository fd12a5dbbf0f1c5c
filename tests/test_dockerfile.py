"""docker/Dockerfile read as text: what the image build installs is exactly what the lock files
pin, with their hashes enforced (issue 16, "Nothing is pinned").

- every `pip download` / `pip install` of a dependency carries --require-hashes and reads a
  lock file; the only exception is the project's own wheel, built in the builder stage, which
  is installed with --no-deps and --no-index, its hash recorded by the build (wheels.sha256);
- every entry of both lock files has a sha256 hash, and nothing but pinned entries is there;
- docker/requirements.lock covers exactly the dependency closure of `.[server]` (as installed
  in this environment, from the same pyproject.toml).
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
LOCKS = (DOCKER / "requirements.lock", DOCKER / "build-requirements.lock")


def _instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined: list[str] = []
    current = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            joined.append(current.strip())
        current = ""
    return joined


def _pip_commands() -> list[str]:
    commands = []
    for instruction in _instructions():
        if not instruction.startswith("RUN "):
            continue
        for command in re.split(r";|&&", instruction):
            if re.search(r"\bpip\S*\s+(install|download|wheel)\b", command):
                commands.append(" ".join(command.split()))
    return commands


def test_every_pip_step_enforces_the_lock_or_is_the_local_wheel() -> None:
    commands = _pip_commands()
    verbs = [re.search(r"\b(install|download|wheel)\b", c).group(1) for c in commands]  # type: ignore[union-attr]
    assert verbs.count("download") == 2 and verbs.count("wheel") == 1, commands
    for command, verb in zip(commands, verbs, strict=True):
        if verb == "wheel":
            # The project alone, offline, against the locked back-end.
            assert {"--no-deps", "--no-index", "--no-build-isolation"} <= set(command.split())
        elif "--require-hashes" in command.split():
            assert re.search(r"-r \S+\.lock\b", command), command
            assert "--only-binary=:all:" in command or "--no-index" in command, command
        else:
            # Only the wheel the builder made from this checkout (its hash: wheels.sha256).
            assert {"--no-deps", "--no-index"} <= set(command.split()), command
            assert re.search(r"leakdrop-\*\.whl|\$2", command), command
    text = DOCKERFILE.read_text()
    assert "sha256sum /dist/*.whl > /wheels.sha256" in text
    assert "sha256sum --check --quiet /usr/local/share/leakdrop/wheels.sha256" in text
    # No index at install time: what the builder fetched (and checked) is what runs.
    for command, verb in zip(commands, verbs, strict=True):
        if verb == "install":
            assert "--no-index" in command.split(), command


def test_lock_files_are_copied_before_the_source() -> None:
    """The dependency layer stays cached while only the source changes."""
    instructions = _instructions()
    lock_copy = next(i for i, s in enumerate(instructions) if "docker/requirements.lock" in s)
    source_copy = next(i for i, s in enumerate(instructions) if s.startswith("COPY leakdrop"))
    assert lock_copy < source_copy
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    for lock in LOCKS:
        assert f"!docker/{lock.name}" in ignore


def _lock_entries(lock: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for entry in lock.read_text().replace("\\\n", " ").splitlines():
        if not entry.strip() or entry.lstrip().startswith("#"):
            continue
        match = re.fullmatch(
            r"([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)\s*", entry
        )
        assert match, f"{lock.name}: not a pinned entry with hashes: {entry!r}"
        entries[_canonical(match.group(1))] = match.group(2)
    return entries


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_lock_entry_is_pinned_with_a_hash() -> None:
    for lock in LOCKS:
        assert _lock_entries(lock), lock


def _closure() -> set[str]:
    """Names of everything `pip install '.[server]'` installs besides leakdrop itself."""
    seen: set[str] = set()
    todo = [(req, "server") for req in metadata.requires("leakdrop") or []]
    while todo:
        text, extra = todo.pop()
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = _canonical(requirement.name)
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for extra_name in requirement.extras or {""}:
            todo += [(r, extra_name) for r in metadata.requires(name) or []]
    return {key.partition("[")[0] for key in seen}


def test_lock_covers_exactly_the_server_dependency_closure() -> None:
    locked = set(_lock_entries(DOCKER / "requirements.lock"))
    closure = _closure()
    assert locked == closure, (
        f"missing from the lock: {sorted(closure - locked)}; not needed: {sorted(locked - closure)}"
        " (refresh with `scripts/dev lock`)"
    )
