"""Refusals: submissions over a limit, empty or malformed requests, lying lengths, a full
disk. Each gets its error page in the asked language, and nothing is stored."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable

import pytest
from support.asgi_app import Server, assert_error_page, assert_nothing_stored, make_server, server
from support.submissions import BOUNDARY, CONTENT_TYPE, multipart, part_head, submissions

__all__ = ["make_server", "server"]  # the fixtures


# -------------------------------------------------------------------------------- refusals


def test_oversize_by_content_length(make_server: Callable[..., Server]) -> None:
    server = make_server(max_submission_bytes=64 * 1024)
    body = multipart([("big.bin", os.urandom(300 * 1024))])
    assert_error_page(server.submit(body, lang="en"), 413, "en", "larger than allowed")
    assert_error_page(server.submit(body), 413, "fr", "dépasse la taille maximale")
    assert_nothing_stored(server)


def test_oversize_while_streaming_without_content_length(
    make_server: Callable[..., Server],
) -> None:
    server = make_server(max_submission_bytes=256 * 1024)
    sent = 0

    async def chunked() -> AsyncIterator[bytes]:
        nonlocal sent
        yield part_head("files", "big.bin")
        for _ in range(64):  # 4 MiB: refused long before the end
            sent += 64 * 1024
            yield os.urandom(64 * 1024)
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    response = server.submit(chunked(), lang="en")  # type: ignore[arg-type]
    assert_error_page(response, 413, "en", "larger than allowed")
    assert_nothing_stored(server)


def test_files_over_the_limit_even_when_body_fits(make_server: Callable[..., Server]) -> None:
    # Two files of 40 KiB each under a 64 KiB limit: refused while the second streams in.
    server = make_server(max_submission_bytes=64 * 1024)
    body = multipart([("a.bin", os.urandom(40 * 1024)), ("b.bin", os.urandom(40 * 1024))])
    assert_error_page(server.submit(body, lang="en"), 413, "en", "larger than allowed")
    assert_nothing_stored(server)


def test_too_many_files(make_server: Callable[..., Server]) -> None:
    server = make_server(max_files=3)
    ok = server.submit(multipart([(f"{i}.txt", b"x") for i in range(3)]))
    assert ok.status_code == 200
    submissions(server.storage)[0].unlink()
    response = server.submit(multipart([(f"{i}.txt", b"x") for i in range(4)]), lang="en")
    assert_error_page(response, 413, "en", "Too many files (at most 3")
    assert_nothing_stored(server)


def test_message_too_long(make_server: Callable[..., Server]) -> None:
    server = make_server(max_message_chars=100)
    body = multipart([("a.txt", b"x")], message="é" * 101)
    assert_error_page(server.submit(body, lang="en"), 413, "en", "message is too long")
    assert_nothing_stored(server)
    ok = server.submit(multipart([("a.txt", b"x")], message="é" * 100))
    assert ok.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        f"--{BOUNDARY}--\r\n".encode(),  # no part at all
        multipart([], message=" \r\n\t "),  # a blank message is no message
        # What a browser sends when nothing was picked nor typed: an empty file part with
        # an empty name, and an empty message.
        part_head("files", "") + b"\r\n" + multipart([], message=""),
    ],
    ids=["no-part", "blank-message", "browser-empty-form"],
)
def test_empty_submission_is_refused(server: Server, body: bytes) -> None:
    assert_error_page(server.submit(body, lang="en"), 400, "en", "Nothing was sent")
    assert_error_page(server.submit(body), 400, "fr", "Rien n’a été envoyé")
    assert_nothing_stored(server)


MALFORMED: list[tuple[str, bytes, str]] = [
    ("garbage", b"this is not multipart at all", CONTENT_TYPE),
    ("truncated", multipart([("a.txt", b"abc")])[:-30], CONTENT_TYPE),
    ("no-closing-boundary", part_head("files", "a.txt") + b"abc", CONTENT_TYPE),
    ("urlencoded", b"files=abc", "application/x-www-form-urlencoded"),
    ("no-boundary", multipart([("a.txt", b"abc")]), "multipart/form-data"),
    ("bad-boundary", multipart([("a.txt", b"abc")]), "multipart/form-data; boundary=" + "x" * 80),
    ("unknown-field", part_head("extra") + b"v\r\n" + f"--{BOUNDARY}--\r\n".encode(), CONTENT_TYPE),
    (
        "two-messages",
        multipart([("a", b"x")], "m")[: -len(BOUNDARY) - 6]
        + b"\r\n"
        + part_head("message")
        + b"again\r\n"
        + f"--{BOUNDARY}--\r\n".encode(),
        CONTENT_TYPE,
    ),
    (
        "no-disposition",
        f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nabc\r\n--{BOUNDARY}--\r\n".encode(),
        CONTENT_TYPE,
    ),
    (
        "header-too-long",
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="'.encode()
        + b"a" * (70 * 1024)
        + f'"\r\n\r\nabc\r\n--{BOUNDARY}--\r\n'.encode(),
        CONTENT_TYPE,
    ),
    (
        "message-not-utf8",
        multipart([("a.txt", b"abc")]).replace(
            f"--{BOUNDARY}--".encode(),
            part_head("message")[2:].join([b"--", b""])
            + b"\xff\xfe\r\n"
            + f"--{BOUNDARY}--".encode(),
            1,
        ),
        CONTENT_TYPE,
    ),
]


@pytest.mark.parametrize(("label", "body", "ctype"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests(server: Server, label: str, body: bytes, ctype: str) -> None:
    response = server.submit(body, lang="en", headers={"Content-Type": ctype})
    assert_error_page(response, 400, "en", "incomplete or malformed")
    assert_nothing_stored(server)


@pytest.mark.parametrize("declared_delta", [+1000, -10], ids=["claims-more", "claims-less"])
def test_lying_content_length(server: Server, declared_delta: int) -> None:
    body = multipart([("a.txt", b"abc" * 100)])
    response = server.submit(
        body, lang="en", headers={"Content-Length": str(len(body) + declared_delta)}
    )
    assert_error_page(response, 400, "en", "incomplete or malformed")
    assert_nothing_stored(server)


def test_bad_content_length_header(server: Server) -> None:
    body = multipart([("a.txt", b"abc")])
    response = server.submit(body, lang="en", headers={"Content-Length": "12abc"})
    assert_error_page(response, 400, "en", "incomplete or malformed")


def test_server_full_below_free_space_threshold(make_server: Callable[..., Server]) -> None:
    server = make_server(min_free_bytes=1 << 62)
    response = server.submit(multipart([("a.txt", b"abc")]), lang="en")
    assert_error_page(response, 507, "en", "not have enough space")
    assert_error_page(
        server.submit(multipart([("a.txt", b"abc")])), 507, "fr", "plus assez de place"
    )
    assert_nothing_stored(server)
