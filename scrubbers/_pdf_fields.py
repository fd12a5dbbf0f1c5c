"""The keys of a PDF that identify its author, and the names they are reported under.

Data only: `scrubbers._pdf_walk` removes these wherever it finds them, and
`scrubbers._pdf_prune` leaves them to it (each removed key is reported once, by this name).
"""

from __future__ import annotations

# Keys that only ever hold metadata or active content, wherever they appear.
DROP_ANYWHERE: dict[str, str] = {
    "/PieceInfo": "pdf:PieceInfo",  # private app data (Photoshop keeps IPTC/EXIF there)
    "/LastModified": "pdf:LastModified",
    "/AA": "pdf:AA",  # additional actions: scripts run on open/close/focus
    "/JS": "pdf:JavaScript",
    "/Thumb": "pdf:Thumb",  # a thumbnail can show a page as it was before an edit
    "/OPI": "pdf:OPI",  # prepress proxy: holds the high-res file's path on the author's disk
    "/AF": "pdf:AF",  # associated files (attachments are extracted before the walk)
    "/OutputIntents": "pdf:OutputIntents",  # ICC output profiles, with free-text fields
}
# Keys of the document catalog.
CATALOG_DROP: dict[str, str] = {
    "/OpenAction": "pdf:OpenAction",
    "/Perms": "pdf:Perms",  # usage-rights / DocMDP signatures: a certificate and a date
    "/SpiderInfo": "pdf:SpiderInfo",  # web capture: source URLs and capture settings
    "/Collection": "pdf:Collection",
    "/DSS": "pdf:signature",  # document security store: certificates, OCSP, CRLs
    "/NeedsRendering": "pdf:XFA",  # asks the viewer to render the (removed) XFA
}
# Name trees of the catalog's /Names dictionary.
NAMES_DROP: dict[str, str] = {
    "/JavaScript": "pdf:JavaScript",
    "/EmbeddedFiles": "pdf:EmbeddedFiles",
    "/IDS": "pdf:web-capture",
    "/URLS": "pdf:web-capture",
}
# Actions that run code or reach outside the document. A remote or launch target is a path
# on the author's disk ("C:\\Users\\<name>\\..."), a submit target phones home when opened.
BAD_ACTIONS: dict[str, str] = {
    "/JavaScript": "pdf:JavaScript",
    "/Launch": "pdf:action/Launch",
    "/GoToR": "pdf:action/GoToR",
    "/GoToE": "pdf:action/GoToE",
    "/ImportData": "pdf:action/ImportData",
    "/SubmitForm": "pdf:action/SubmitForm",
}
# Authorship of markup annotations: who commented, when, and the thread of replies.
ANNOT_AUTHORSHIP = ("/M", "/CreationDate", "/NM", "/RC", "/Popup", "/IRT")
# Standard Info keys, reported by name; any other key is "custom" (its name may itself be a
# value: Microsoft labels put the tenant's GUID in the key).
INFO_KEYS = frozenset(
    {
        "/Title",
        "/Author",
        "/Subject",
        "/Keywords",
        "/Creator",
        "/Producer",
        "/CreationDate",
        "/ModDate",
        "/Trapped",
        "/Company",
        "/Manager",
        "/Comments",
        "/SourceModified",
    }
)
# Trailer keys that are file structure (cross-reference stream, encryption); qpdf copies any
# other key to the output, so anything else goes.
TRAILER_KEEP = frozenset(
    {
        "/Root",
        "/Size",
        "/Prev",
        "/XRefStm",
        "/Encrypt",
        "/Type",
        "/W",
        "/Index",
        "/Length",
        "/Filter",
        "/DecodeParms",
    }
)
