"""The source-facing ASGI application.

Routes: ``GET /`` (about, safety advice, the form), ``POST /submit`` (streamed upload ->
receipt; ``?followup=TOKEN`` for a returning source), ``GET|POST /mailbox`` (codename ->
the editors' replies and a follow-up form), ``POST /mailbox/delete``, ``GET
/static/style.css``, ``GET /healthz`` (``ok``, for the container). Nothing else: no API
docs, no redirects to elsewhere, no cookies, no scripts.

`create_app` returns the FastAPI app wrapped in `_Guard`, the outermost layer, so that
*every* response — pages, errors, 404s, the stylesheet, and the last-resort 500 — carries
the security headers, and no exception (whose text could hold something a source sent)
ever reaches the server's log with more than its type name.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from leakdrop._listener import security_headers
from leakdrop.codename import CodenameError
from leakdrop.mailboxes import MailboxError, Mailboxes, NoSuchMailboxError
from leakdrop.sealing import HybridRecipient
from leakdrop.server.config import ServerConfig
from leakdrop.server.errors import (
    ClientGoneError,
    ConfigError,
    InternalError,
    MalformedRequestError,
    SubmissionError,
    TooLargeError,
)
from leakdrop.server.i18n import pick_lang
from leakdrop.server.mailroom import Mailroom, PendingAddress, TokenError
from leakdrop.server.pages import STATIC, Pages
from leakdrop.server.pipeline import Processor
from leakdrop.server.storage import Storage
from leakdrop.submission import ReplyAddress

log = logging.getLogger("leakdrop.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = security_headers(CSP)
#: Headers never sent: who we are, validators that make a browser revalidate (ETag,
#: Last-Modified would also tell when the file changed), and any state.
_DROPPED: Final = frozenset(
    {b"server", b"etag", b"last-modified", b"set-cookie", b"date", b"x-powered-by"}
    | {name for name, _ in SECURITY_HEADERS}
)
_HTML: Final = "text/html; charset=utf-8"
#: The mailbox forms carry one short field (a codename, a token): 4 KiB is plenty.
MAX_SMALL_FORM_BYTES: Final = 4096


async def _small_form(request: Request) -> dict[str, list[str]]:
    """An application/x-www-form-urlencoded body, read up to `MAX_SMALL_FORM_BYTES`."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        raise MalformedRequestError("not a urlencoded form")
    untrusted_body = bytearray()
    async for chunk in request.stream():
        untrusted_body += chunk
        if len(untrusted_body) > MAX_SMALL_FORM_BYTES:
            raise TooLargeError("form too large")
    try:
        return parse_qs(untrusted_body.decode("utf-8"), max_num_fields=4)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequestError("bad form") from exc


def _one(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values and len(values) == 1 else None


def _lang_of(scope: Scope) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("lang")
    return pick_lang(values[0] if values else None)


class _Guard:
    """Outermost ASGI layer: security headers on every response; a last-resort 500 page
    that logs only the exception's type."""

    def __init__(self, app: ASGIApp, pages: Pages) -> None:
        self._app = app
        self._pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in _DROPPED
                ]
                headers.extend(SECURITY_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._app(scope, receive, guarded_send)
        except Exception as exc:  # noqa: BLE001 - the message could quote what a source sent
            log.error("internal error (%s)", type(exc).__name__)
            if started:
                return
            body = self._pages.error(_lang_of(scope), "internal", submission=False).encode()
            await guarded_send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", _HTML.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await guarded_send({"type": "http.response.body", "body": body})


def create_app(config: ServerConfig) -> ASGIApp:
    """The application for `config`. Prepares the storage (creates the folders, sweeps
    leftovers of a previous run) before returning."""
    storage = Storage(config.storage)
    swept = storage.prepare()
    if swept:
        log.warning("storage: removed %d leftover file(s) of an interrupted run", swept)
    mailboxes = Mailboxes(config.storage)
    try:
        mailboxes.prepare()
    except MailboxError as exc:
        raise ConfigError(str(exc)) from exc
    mailroom = Mailroom(
        mailboxes,
        post_quantum=all(isinstance(r, HybridRecipient) for r in config.recipients),
    )
    pages = Pages(config)
    processor = Processor(config, storage)
    stylesheet = (STATIC / "style.css").read_bytes()

    app = FastAPI(
        docs_url=None, redoc_url=None, openapi_url=None, swagger_ui_oauth2_redirect_url=None
    )
    app.state.processor = processor
    app.state.storage = storage

    def html(text: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(text, status_code=status, media_type="text/html")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        lang = pick_lang(request.query_params.get("lang"))
        page = "method" if exc.status_code == 405 else "not_found"
        return html(pages.error(lang, page, submission=False), exc.status_code)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # Starlette's last-resort handler: our page instead of its plain text. The
        # exception then reaches `_Guard`, which logs its type only.
        lang = pick_lang(request.query_params.get("lang"))
        return html(pages.error(lang, "internal", submission=False), 500)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        lang = pick_lang(request.query_params.get("lang"))
        return html(pages.error(lang, "malformed", submission=True), 400)

    @app.get("/")
    async def index(request: Request) -> Response:
        return html(pages.index(pick_lang(request.query_params.get("lang"))))

    @app.get("/submit")
    async def submit_get(request: Request) -> Response:
        # A reload of the receipt's address, or a bookmark: go to the form (no re-POST).
        lang = pick_lang(request.query_params.get("lang"))
        return RedirectResponse(f"/?lang={lang}", status_code=303)

    @app.post("/submit")
    async def submit(request: Request) -> Response:
        lang = pick_lang(request.query_params.get("lang"))
        untrusted_followup = request.query_params.get("followup")
        codename = derivation = None
        reply: ReplyAddress | PendingAddress
        if untrusted_followup is not None:
            try:
                reply = mailroom.take_followup(untrusted_followup)
            except TokenError:
                return html(pages.error(lang, "token", submission=True), 400)
        else:
            codename, derivation = mailroom.new_source(lang)
            reply = derivation
        try:
            receipt = await processor.submit(
                request.receive,
                content_type=request.headers.get("content-type"),
                content_length=request.headers.get("content-length"),
                reply=reply,
            )
        except ClientGoneError:
            # Nobody is there to read a page; nothing was kept.
            return Response(status_code=400)
        except SubmissionError as exc:
            if isinstance(exc, InternalError):
                # The message is the exception type only: never a name or a value.
                log.error("submission failed: %s", exc)
            return html(pages.error(lang, exc.page, submission=True), exc.status)
        finally:
            if derivation is not None and derivation.result() is None:
                derivation.cancel()  # the submission failed before it needed the keys
        # The mailbox is made only now: a refused submission leaves nothing behind.
        address = derivation.result() if derivation is not None else None
        opened = address is not None and mailroom.open_mailbox(address)
        return html(
            pages.receipt(
                lang,
                receipt,
                codename=codename if opened else None,
                followup=untrusted_followup is not None,
                mailbox_failed=derivation is not None and not opened,
            )
        )

    @app.get("/mailbox")
    async def mailbox_form(request: Request) -> Response:
        return html(pages.mailbox(pick_lang(request.query_params.get("lang"))))

    @app.post("/mailbox")
    async def mailbox(request: Request) -> Response:
        lang = pick_lang(request.query_params.get("lang"))
        try:
            untrusted_codename = _one(await _small_form(request), "codename")
            if untrusted_codename is None:
                raise CodenameError("no codename")
            conversation = await mailroom.open_conversation(untrusted_codename)
        except CodenameError:
            return html(pages.mailbox(lang, "mailbox_invalid"), 400)
        except NoSuchMailboxError:
            return html(pages.mailbox(lang, "mailbox_unknown"), 404)
        except SubmissionError as exc:
            if isinstance(exc, InternalError):
                log.error("mailbox failed: %s", exc)
            return html(pages.error(lang, exc.page, submission=False), exc.status)
        return html(pages.conversation(lang, conversation))

    @app.post("/mailbox/delete")
    async def mailbox_delete(request: Request) -> Response:
        lang = pick_lang(request.query_params.get("lang"))
        try:
            count = mailroom.delete_read(_one(await _small_form(request), "token"))
        except TokenError:
            return html(pages.error(lang, "token", submission=False), 400)
        except SubmissionError as exc:
            if isinstance(exc, InternalError):
                log.error("mailbox delete failed: %s", exc)
            return html(pages.error(lang, exc.page, submission=False), exc.status)
        return html(pages.deleted(lang, count))

    @app.get("/static/style.css")
    async def style() -> Response:
        return Response(stylesheet, media_type="text/css; charset=utf-8")

    @app.get("/healthz")
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    return _Guard(app, pages)
