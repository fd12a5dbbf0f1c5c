"""The pages' words in English (`i18n.STRINGS["en"]`): the same keys as
`catalogue_fr`, each part of the site's words in its own table so that it can be read, and
changed, on its own."""

from __future__ import annotations

from typing import Final

# The landing page, the form, the receipt's frame, the error pages, the scrubbers' reasons
# and notes.
_PAGES: Final[dict[str, str]] = {
    "lang_name": "English",
    "switch_to": "Français",
    "skip": "Skip to the form",
    "about_title": "Who we are",
    "about_default": (
        "This site is an anonymous drop box for documents that show how police and "
        "local governments watch people: facial recognition, algorithmic video "
        "surveillance, \u201csafe city\u201d platforms.\n\nDocuments are encrypted on "
        "arrival for the newsroom’s journalists only; this server cannot read them back."
    ),
    "safety_title": "Before you send: stay safe",
    "safety_tor": (
        "Use Tor Browser, set to the \u201cSafest\u201d security level (the shield icon, top "
        "right). This page works without JavaScript."
    ),
    "safety_device": (
        "Do not send anything from a device or network of your employer (computer, "
        "phone, office Wi-Fi): they may be monitored. Use a personal device, from "
        "somewhere else."
    ),
    "safety_removes": (
        "This server removes the metadata of PDFs, photos (JPEG, PNG, HEIC, WebP, TIFF, "
        "GIF), office documents (Word, Excel, PowerPoint, LibreOffice) and each file "
        "in a ZIP archive: author, "
        "device, GPS location, dates, revision history, comments."
    ),
    "safety_cannot_lead": "It cannot remove:",
    "safety_cannot": (
        "the yellow tracking dots printers leave on pages that were "
        "printed then scanned; what the content itself says (names, wording, details "
        "few people know, watermarks made for each recipient); the sensor \u201cnoise\u201d "
        "that ties a photo to the camera that took it. Think about who had access to "
        "the document, too."
    ),
    "safety_other_types": (
        "Other file types are accepted but kept as they are: the receipt page will tell "
        "you what could not be cleaned."
    ),
    "form_title": "Send documents",
    "form_either": "Send files, a message, or both.",
    "files_label": "Files (one or more)",
    "files_hint": "Up to {max_files} files, {max_size} in total.",
    "files_hint_one": "One file only, {max_size} at most.",
    "message_label": "Message (optional)",
    "message_hint": (
        "Tell us what these documents are and why they matter. Do not write your name. "
        "At most {max_chars} characters."
    ),
    "submit": "Send",
    "submit_hint": "Uploads can be slow over Tor: keep this page open until the receipt.",
    "receipt_title": "Receipt: your documents arrived",
    "receipt_lead": (
        "Your submission was received and encrypted for the newsroom. The server keeps "
        "no readable copy."
    ),
    "receipt_files": "Files received",
    "receipt_saved_as": "saved as",
    "receipt_type": "detected type",
    "type_unknown": "unknown",
    "type_text": "plain text",
    "receipt_size": "size",
    "receipt_cleaned_none": "Cleaned: no identifying metadata found.",
    "receipt_not_cleaned": "NOT CLEANED",
    "receipt_not_cleaned_why": "Reason:",
    "receipt_not_cleaned_kept": (
        "The file was passed on as it was. Its metadata (author, dates, device, "
        "location) may identify you: the newsroom is told so."
    ),
    "receipt_empty": "This file is empty (0 bytes). If that is not intended, send it again.",
    "receipt_attached_to": "attachment found in",
    "receipt_note": "Note:",
    "receipt_warning_title": "Warning: some files could not be cleaned",
    "receipt_message": "Your message ({chars} characters) was received.",
    "receipt_message_one": "Your message ({chars} character) was received.",
    "receipt_no_message": "No message was sent.",
    "next_title": "What now?",
    "next_close": (
        "Close Tor Browser. There is no receipt code to keep: keep no trace of this submission."
    ),
    "next_no_resend": (
        "Do not send anything again from a work device or network. To add something, "
        "make a new submission later, the same way."
    ),
    "next_no_talk": (
        "Do not talk about it, and do not change your habits: the newsroom will check "
        "the documents before anything is published."
    ),
    "back": "Back to the home page",
    "error_title": "The submission did not go through",
    "error_nothing_kept": "Nothing of this submission was kept.",
    "error_retry": "Back to the form",
    "err_malformed": (
        "The request we received was incomplete or malformed (connection interrupted?). "
        "Try again from the form."
    ),
    "err_no_files": "Nothing was sent: choose at least one file, or write a message.",
    "err_too_large": (
        "The submission is larger than allowed ({max_size} in total). Send the files in "
        "several parts."
    ),
    "err_too_many_files": (
        "Too many files (at most {max_files} per submission). Send them in several "
        "parts, or put them in a ZIP archive: each file in it is cleaned in turn."
    ),
    "err_message_too_long": (
        "The message is too long (at most {max_chars} characters). Shorten it or attach "
        "it as a text file."
    ),
    "err_full": (
        "The server does not have enough space left for this submission. Try again in a few days."
    ),
    "err_busy": "The server is receiving many submissions. Try again in a few minutes.",
    "err_internal": "Something went wrong on the server. Try again later.",
    "err_not_found": "This page does not exist.",
    "err_method": "This address is not used that way.",
    "not_found_title": "Page not found",
    "method_title": "Request not supported",
    "reason:unsupported file type": "unsupported file type",
    "reason:corrupt or unreadable file": "corrupt or unreadable file",
    "reason:ambiguous file type (readable as two formats)": (
        "ambiguous file type (readable as two formats)"
    ),
    "reason:too large or too complex to clean safely": ("too large or too complex to clean safely"),
    "reason:cleaning timed out": "cleaning timed out",
    "reason:too many or too long links to list for checking": (
        "too many or too long links to list for checking"
    ),
    "reason:the cleaner crashed on this file": "the cleaner crashed on this file",
    "reason:the cleaner tried a forbidden operation": "the cleaner tried a forbidden operation",
    "reason:the cleaning sandbox is not available on this server": (
        "the cleaning sandbox is not available on this server"
    ),
    "reason:metadata remained after cleaning": "metadata remained after cleaning",
    "reason:could not be cleaned": "could not be cleaned",
    "reason:too large to clean": "too large to clean",
    "reason:encrypted with a password": "encrypted with a password",
    "note_image_kept": (
        "The image itself is untouched (not re-compressed): only its metadata was removed."
    ),
    "note_orientation_kept": "The photo’s orientation was kept: it is the only EXIF data left.",
    "note_converted_png": "Converted to PNG, without loss of quality.",
    "note_converted_tiff": "Converted to TIFF, without loss of quality, every page kept.",
    "note_more_images_one": "One more image in this file is passed on as a separate file.",
    "note_more_images": "{count} more images in this file are passed on as separate files.",
    "note_drawing_kept": "The drawing is kept exactly as it was.",
    "note_emf_plus_dropped": "The EMF+ layer was removed; the basic (GDI) drawing is kept.",
    "note_icc_replaced": (
        "Colour profiles (ICC) were replaced by standard colour spaces: colours may shift slightly."
    ),
    "note_empty": "Empty file (0 bytes).",
    "note_other": "A technical note about this file was passed on to the newsroom.",
}


# Returning sources (codename, mailbox, follow-ups).
_MAILBOX: Final[dict[str, str]] = {
    "receipt_codename_title": "Your codename, to come back",
    "receipt_codename_lead": (
        "With these seven words you can read the newsroom’s replies and write to it "
        "again. They are shown only once: the server does not keep them and can never "
        "give them back to you."
    ),
    "receipt_codename_advice": (
        "Copy them by hand onto paper, and keep the paper at home. Never on a device of "
        "your employer’s, nor in a file, a note or a photo."
    ),
    "receipt_codename_back": (
        "To come back in a few days: open this address in Tor Browser, then "
        "\u201cRead the replies\u201d."
    ),
    "receipt_codename_no_switch": (
        "This page has no link to French: leaving it would lose your codename."
    ),
    "receipt_mailbox_failed": (
        "No mailbox could be opened for you: the newsroom will not be able to reply. Your "
        "documents did arrive."
    ),
    "receipt_followup": (
        "This submission was added to your conversation with the newsroom; your codename "
        "stays the same."
    ),
    "mailbox_link": "Sent something before? Read the replies",
    "mailbox_title": "Read the newsroom’s replies",
    "mailbox_lead": "Type your codename: the seven words you got with your first submission.",
    "mailbox_label": "Codename",
    "mailbox_hint": "Capitals, accents and hyphens do not matter.",
    "mailbox_submit": "Open my mailbox",
    "mailbox_unknown": (
        "No mailbox with this codename. Check the words and their order, then try again."
    ),
    "mailbox_invalid": "A codename is seven words, separated by spaces.",
    "conversation_title": "Your conversation with the newsroom",
    "conversation_replies": "The newsroom’s replies",
    "conversation_reply_day": "Received on {day}",
    "conversation_none": "No reply yet. Come back in a few days.",
    "conversation_unreadable": "This reply could not be opened.",
    "followup_title": "Write to the newsroom again",
    "followup_lead": ("A message, files, or both. This form works once, for 30 minutes."),
    "delete_title": "Delete the replies you read",
    "delete_lead": "The replies shown above will be deleted from the server, for good.",
    "delete_submit": "Delete these replies",
    "deleted_title": "Replies deleted",
    "deleted_none": "There was no reply to delete.",
    "deleted_one": "1 reply was deleted from the server.",
    "deleted_many": "{count} replies were deleted from the server.",
    "err_token": (
        "This form has expired or was already used. Open your mailbox again with your codename."
    ),
}


# The receipt's plain words: what each category of removed fields is (keys from
# `leakdrop.server.fields`), what no cleaning removes, and the scrubbers' warnings.
_RECEIPT: Final[dict[str, str]] = {
    "receipt_removed_lead": "Cleaned. Removed from this file:",
    "receipt_removed_details_one": "The technical name of the removed field",
    "receipt_removed_details_many": "The technical names of the {count} removed fields",
    "field:gps": "the GPS position (where the photo was taken)",
    "field:camera": "the camera’s make, model and serial number",
    "field:author": "the author’s name and other people’s names",
    "field:paths": "file paths, links to other files, the computer’s name",
    "field:dates": "dates and times",
    "field:software": "the software used to make or edit it",
    "field:properties": "document properties (title, company, labels, custom fields)",
    "field:comments": "comments and descriptions",
    "field:history": "the history of revisions and changes",
    "field:ids": "unique identifiers, which link the file to its other versions",
    "field:thumbnails": "thumbnails and hidden images",
    "field:attachments": "embedded attachments (listed separately below)",
    "field:scripts": "scripts, macros and automatic actions",
    "field:signatures": "digital signatures, passwords and editing permissions",
    "field:printer": "printer settings",
    "field:colour": "colour profiles, which can name the device",
    "field:blocks": (
        "metadata blocks (XMP, IPTC, EXIF), which can hold author, place, dates and software"
    ),
    "field:settings": "camera and image settings",
    "field:filesystem": ("traces of the computer it was zipped on (permissions, user numbers)"),
    "field:other": "other hidden data",
    "receipt_plain_text": (
        "Plain text: this kind of file has no hidden metadata. Check its content, which is "
        "passed on as it is."
    ),
    "warning:form-values": "values typed into form fields",
    "warning:annotation-text": "comments and annotations",
    "warning:hyperlinks": (
        "clickable links, which can carry a tracking code made for each recipient"
    ),
    "warning:page-content": "the content of a saved web page, which can show who was logged in",
    "warning:embedded-not-cleaned": "a part of the file that could not be cleaned",
    "cannot_title": "What no cleaning removes",
    "cannot_lead": "Cleaning removes metadata, not content. What remains:",
    "cannot_content": (
        "what the documents themselves say: names, wording, details few people know, and "
        "who had access to which document;"
    ),
    "cannot_dots": "the yellow tracking dots printers leave on a page printed then scanned;",
    "cannot_watermarks": (
        "watermarks made for each copy, and tracking links made for each recipient;"
    ),
    "cannot_noise": (
        "the sensor’s \u201cnoise\u201d, which ties a photo to the camera that took it."
    ),
    "cannot_found": "Found in your files, and passed on as it is:",
    "demo_title": "Demonstration.",
    "demo_text": (
        "This site is not a real drop box: the key that opens the submissions is on this "
        "very server. Do not send any real document."
    ),
}


# Notes of the audio and plain-text scrubbers (issue 11).
_MEDIA_NOTES: Final[dict[str, str]] = {
    "note_audio_kept": (
        "The sound itself is untouched (not re-encoded): only its tags (title, author, "
        "software, dates, pictures) were removed."
    ),
    "note_plain_text": (
        "Nothing is hidden in this kind of file: check its content, which is what could "
        "identify you."
    ),
}


EN: Final[dict[str, str]] = {**_PAGES, **_MAILBOX, **_RECEIPT, **_MEDIA_NOTES}
