"""Walls between a cleaning worker and everything else on the machine.

Every worker runs under the same uid as the server and as the other workers: a memory bug in
a parser that lets the file run code must not become reading the plaintext of the other
files being cleaned at that moment (nor of the server, which holds every upload in RAM),
changing what is stored, or reaching the network. Three walls, each set in the worker before
it reads a byte of the file (and the first one in the server and the fork server too):

- Not dumpable (``PR_SET_DUMPABLE`` 0): the kernel then refuses ``/proc/<pid>/mem``,
  ``process_vm_readv`` and ``ptrace`` on the process to anyone without ``CAP_SYS_PTRACE``,
  same uid or not, and writes no core file of it.
- No capabilities: a server run as root (the tests, an admin's quick try) would otherwise
  keep ``CAP_SYS_PTRACE`` in its workers, and the first wall would not hold for them.
- A seccomp filter (libseccomp, through `pyseccomp`), see `_FORBIDDEN`.

Why the filter *kills* (``SCMP_ACT_KILL_PROCESS``) instead of returning ``EPERM``: no parser
does any of these things on a file, so a call is proof that the worker runs someone else's
code. An error would let that code try the next way round; death gives it no second try, and
its exit status (``SIGSYS``) is a reason the parent names without trusting the worker.
Two calls get ``ENOSYS`` instead: ``clone3`` and ``openat2`` pass their arguments in memory,
where a filter cannot look, and glibc (threads) and other libraries fall back from ``ENOSYS``
to ``clone`` and ``openat``, whose flags the filter does check.

Why forks are stopped by the filter and not by ``RLIMIT_NPROC`` alone: that limit counts
every task of the uid (the server's threads, the other workers, every container sharing the
uid), is not enforced at all for root, and counts threads too, which libheif needs to decode
HEIF: a limit of 0 would refuse every photo from a phone. The worker still gets an
``RLIMIT_NPROC`` (`limit_tasks`): a bound on the uid's tasks a little above what it counts at
start, so that even a broken filter could not turn a worker into a fork bomb.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import resource
import signal
import tempfile
from collections.abc import Iterator
from typing import Any, Final

from scrubbers.errors import SandboxUnavailableError

#: How a worker killed by its seccomp filter exits (``-SIGSYS`` as multiprocessing reports).
FORBIDDEN_SIGNAL: Final = signal.SIGSYS
#: Tasks a worker may add to its uid's count: decoder threads (libheif starts a few per
#: image), never processes (the filter kills those).
THREAD_ALLOWANCE: Final = 64

_PR_SET_DUMPABLE: Final = 4
_CAPABILITY_VERSION_3: Final = 0x20080522
_SYS_CAPSET: Final = {"x86_64": 126, "aarch64": 91}
_CLONE_THREAD: Final = 0x00010000
# Flags of open/openat that write, create or truncate. O_TMPFILE needs O_WRONLY or O_RDWR.
_WRITE_FLAGS: Final = (
    (os.O_ACCMODE, os.O_WRONLY),
    (os.O_ACCMODE, os.O_RDWR),
    (os.O_CREAT, os.O_CREAT),
    (os.O_TRUNC, os.O_TRUNC),
)

#: Killed whatever their arguments. Besides the issue's list (other processes' memory, new
#: sockets, exec, new processes): the calls that change or remove stored files (a worker
#: has the server's uid and could otherwise delete sealed submissions), and those that open
#: ways around the filter or the kernel's checks (io_uring runs opens the filter never sees).
_FORBIDDEN: Final = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "execve",
    "execveat",
    "fork",
    "vfork",
    "creat",
    "truncate",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "mkdir",
    "mkdirat",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "mknod",
    "mknodat",
    "chmod",
    "fchmodat",
    "chown",
    "lchown",
    "fchownat",
    "tkill",
    "pidfd_open",
    "pidfd_getfd",
    "pidfd_send_signal",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "userfaultfd",
    "bpf",
    "perf_event_open",
    "mount",
    "umount2",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
)
#: Signals only to itself: a worker must not stop or kill another worker (or the server).
_SIGNALS_TO_SELF_ONLY: Final = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")

_libc = ctypes.CDLL(None, use_errno=True)


class ConfinementError(OSError):
    """A wall could not be set up: the worker must not touch the file."""


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise ConfinementError(code, f"{what}: {os.strerror(code)}")


def make_undumpable() -> None:
    """``PR_SET_DUMPABLE`` 0 for the calling process (kept across fork, reset by exec)."""
    _check(_libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def is_dumpable() -> bool:
    return bool(_libc.prctl(3, 0, 0, 0, 0))  # PR_GET_DUMPABLE


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def drop_capabilities() -> None:
    """Empty the effective, permitted and inheritable sets (and with them the ambient one)."""
    number = _SYS_CAPSET.get(os.uname().machine)
    if number is None:
        raise ConfinementError(errno.ENOSYS, f"capset: unknown machine {os.uname().machine}")
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()  # all zero: no capability at all
    _check(_libc.syscall(number, ctypes.byref(header), ctypes.byref(data)), "capset")


def _tasks_of(uid: int) -> int:
    # Runs in every worker, over every process of the machine: two fields found in the
    # status text, not the whole of it parsed.
    tasks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as status:
                text = status.read()
        except OSError:
            continue  # exited while counted, or hidden
        owner, threads = _status_field(text, b"Uid"), _status_field(text, b"Threads")
        if owner is not None and threads is not None and int(owner.split()[0]) == uid:
            tasks += int(threads)
    return tasks


def _status_field(text: bytes, name: bytes) -> bytes | None:
    start = text.find(b"\n" + name + b":")
    if start < 0:
        return None
    start += len(name) + 2
    end = text.find(b"\n", start)
    return text[start:] if end < 0 else text[start:end]


def limit_tasks() -> None:
    """``RLIMIT_NPROC``: the uid's tasks seen now plus `THREAD_ALLOWANCE`.

    Only an outer bound (see the module's text): it is what the kernel checks at every clone
    of this process, against every task of the uid, and root is exempt from it."""
    uid = os.getuid()
    if uid == 0:
        # The kernel never applies it to the root user (whatever its capabilities): counting
        # every task of the machine would buy nothing.
        return
    ceiling = _tasks_of(uid) + THREAD_ALLOWANCE
    _soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_NPROC, (ceiling, ceiling))


#: The sonames pyseccomp looks up; both have been stable for over a decade (glibc 2.x,
#: libseccomp 2.x, whose filters this module writes).
_SONAMES: Final = {"c": "libc.so.6", "seccomp": "libseccomp.so.2"}


@contextlib.contextmanager
def _sonames_without_ldconfig() -> Iterator[None]:
    # pyseccomp finds libc and libseccomp with ctypes.util.find_library, which on Linux runs
    # `ldconfig -p` in a subprocess for each: 45 ms of every one-shot `leakdrop scrub`, whose
    # workers import the binding themselves. A soname the dynamic loader opens is the
    # answer find_library would give; anything else still goes the long way.
    long_way = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        soname = _SONAMES.get(name)
        if soname is not None:
            try:
                ctypes.CDLL(soname)
            except OSError:
                pass
            else:
                return soname
        return long_way(name)

    ctypes.util.find_library = find_library
    try:
        yield
    finally:
        ctypes.util.find_library = long_way


def import_seccomp_binding() -> Any:  # pyseccomp ships no types
    """The libseccomp binding, imported without running ldconfig (raises ConfinementError)."""
    try:
        with _sonames_without_ldconfig():
            import pyseccomp
    except (ImportError, RuntimeError) as exc:  # the package, or libseccomp, is missing
        raise ConfinementError(errno.ENOSYS, f"seccomp: {exc}") from exc
    return pyseccomp


#: The rules every worker shares, built once in the process the workers fork from (see
#: `prepare_filter`); None until then.
_shared_rules: Any = None


def _build_shared_rules(seccomp: Any) -> Any:
    kill = seccomp.KILL_PROCESS
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in _FORBIDDEN:
        rules.add_rule(kill, name)
    rules.add_rule(kill, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, 0))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "openat2")
    for mask, value in _WRITE_FLAGS:
        rules.add_rule(kill, "open", seccomp.Arg(1, seccomp.MASKED_EQ, mask, value))
        rules.add_rule(kill, "openat", seccomp.Arg(2, seccomp.MASKED_EQ, mask, value))
    # Staying non-dumpable is part of the wall.
    rules.add_rule(kill, "prctl", seccomp.Arg(0, seccomp.EQ, _PR_SET_DUMPABLE))
    return rules


def prepare_filter() -> None:
    """Build the filter's shared rules in this process, for the workers forked from it.

    Adding the rules through the binding costs about 2 ms, loading them 0.3 ms: paid once in
    the fork server instead of for every file. Each worker gets its own copy of them with
    its memory and adds only the rules that name its own pid. Nothing is installed here: the
    fork server itself stays unfiltered (it must fork)."""
    global _shared_rules
    if _shared_rules is None:
        seccomp = import_seccomp_binding()
        try:
            _shared_rules = _build_shared_rules(seccomp)
        except OSError as exc:
            raise ConfinementError(exc.errno, f"seccomp: {exc.strerror}") from exc


def load_filter() -> None:
    """Install the worker's seccomp filter (irreversible; inherited by its threads)."""
    seccomp = import_seccomp_binding()
    me = os.getpid()
    kill = seccomp.KILL_PROCESS
    try:
        # This process's copy of the shared rules: a worker is a fork, so adding to them
        # changes nothing in the process they were built in, nor in any other worker.
        rules = _shared_rules if _shared_rules is not None else _build_shared_rules(seccomp)
        for name in _SIGNALS_TO_SELF_ONLY:
            rules.add_rule(kill, name, seccomp.Arg(0, seccomp.NE, me))
        rules.load()
    except OSError as exc:
        raise ConfinementError(exc.errno, f"seccomp: {exc.strerror}") from exc


def confine_worker() -> None:
    """All the walls, in the order they can still be set: the filter last (after it, the
    process could no longer read /proc to count, nor is there anything left to set)."""
    limit_tasks()
    make_undumpable()
    drop_capabilities()
    load_filter()


#: Longest path a Unix socket can bind (``sun_path`` is 108 bytes with its terminating NUL).
_MAX_SOCKET_PATH: Final = 107
#: What multiprocessing's fork server adds under the temporary folder for its socket
#: (``pymp-XXXXXXXX/listener-XXXXXXXX``, random parts of 8 characters).
_FORK_SERVER_SOCKET_TAIL: Final = len("/pymp-XXXXXXXX/listener-XXXXXXXX")


def check_sandbox() -> None:
    """Raise `SandboxUnavailableError` when this machine cannot start the cleaning workers
    the server uses, with what to change; the server checks before it accepts a file.

    The fork server listens on a Unix socket in the temporary folder (``TMPDIR``): under a
    long folder the path does not fit, the fork server never starts, and every file would be
    kept not cleaned. (Not an abstract socket: any local process could connect to one.)"""
    folder = os.fsencode(tempfile.gettempdir())
    if len(folder) + _FORK_SERVER_SOCKET_TAIL > _MAX_SOCKET_PATH:
        raise SandboxUnavailableError(
            f"the temporary folder's path is {len(folder)} bytes long: the cleaning fork "
            f"server's socket in it must fit in {_MAX_SOCKET_PATH} bytes; set TMPDIR to a "
            f"folder of at most {_MAX_SOCKET_PATH - _FORK_SERVER_SOCKET_TAIL} bytes"
        )
