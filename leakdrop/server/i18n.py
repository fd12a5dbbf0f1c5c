"""The pages' words, in French (default) and English.

The language comes only from ``?lang=en`` in the address (links and the form's action
carry it). Never from Accept-Language: Tor Browser always announces English, and a choice
stored in a cookie would be state kept about the source.
"""

from __future__ import annotations

import re
from typing import Final

LANGS: Final = ("fr", "en")
DEFAULT_LANG: Final = "fr"


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT_LANG


def other_lang(lang: str) -> str:
    return "en" if lang == "fr" else "fr"


_FR: Final[dict[str, str]] = {
    "lang_name": "Français",
    "switch_to": "English",
    "skip": "Aller au formulaire",
    "about_title": "Qui sommes-nous\u00a0?",
    "about_default": (
        "Ce site est une boîte aux lettres anonyme pour les documents qui montrent "
        "comment la police et les collectivités surveillent la population\u00a0: "
        "reconnaissance faciale, vidéosurveillance algorithmique, plateformes «\u00a0ville "
        "sûre\u00a0».\n\nLes documents sont chiffrés dès leur arrivée pour les seuls "
        "journalistes de la rédaction\u00a0; le serveur ne peut pas les relire."
    ),
    "safety_title": "Avant d’envoyer\u00a0: restez en sécurité",
    "safety_tor": (
        "Utilisez le Navigateur Tor, réglé au niveau de sécurité «\u00a0Le plus sûr\u00a0» "
        "(bouclier en haut à droite). Cette page fonctionne sans JavaScript."
    ),
    "safety_device": (
        "N’envoyez rien depuis un appareil ou un réseau de votre employeur (ordinateur, "
        "téléphone, Wi-Fi du bureau)\u00a0: ils peuvent être surveillés. Utilisez un appareil "
        "personnel, depuis un autre lieu."
    ),
    "safety_removes": (
        "Ce serveur retire les métadonnées des PDF, des photos (JPEG, PNG, HEIC, WebP, "
        "TIFF, GIF) et des documents bureautiques (Word, Excel, PowerPoint, "
        "LibreOffice) et de chaque fichier d’une archive ZIP\u00a0: auteur, appareil, "
        "position GPS, dates, historique des révisions, commentaires."
    ),
    "safety_cannot_lead": "Il ne peut PAS retirer\u00a0:",
    "safety_cannot": (
        "les points jaunes de traçage que les imprimantes "
        "laissent sur les pages imprimées puis scannées\u00a0; ce que dit le contenu lui-même "
        "(noms, tournures, détails que peu de personnes connaissent, filigranes propres "
        "à chaque destinataire)\u00a0; le «\u00a0bruit\u00a0» du capteur qui relie une photo à "
        "l’appareil qui l’a prise. Pensez aussi à qui avait accès au document."
    ),
    "safety_other_types": (
        "Les autres types de fichiers sont acceptés mais gardés tels quels\u00a0: la page de "
        "reçu vous dira ce qui n’a pas pu être nettoyé."
    ),
    "form_title": "Envoyer des documents",
    "form_either": "Envoyez des fichiers, un message, ou les deux.",
    "files_label": "Fichiers (un ou plusieurs)",
    "files_hint": "Jusqu’à {max_files} fichiers, {max_size} au total.",
    "files_hint_one": "Un seul fichier, {max_size} au plus.",
    "message_label": "Message (facultatif)",
    "message_hint": (
        "Dites-nous ce que sont ces documents et pourquoi ils comptent. N’écrivez pas "
        "votre nom. {max_chars} caractères au plus."
    ),
    "submit": "Envoyer",
    "submit_hint": (
        "L’envoi peut prendre du temps sur Tor\u00a0: gardez cette page ouverte jusqu’au reçu."
    ),
    "receipt_title": "Reçu\u00a0: vos documents sont arrivés",
    "receipt_lead": (
        "Votre envoi a été reçu et chiffré pour la rédaction. Le serveur ne garde "
        "aucune copie lisible."
    ),
    "receipt_files": "Fichiers reçus",
    "receipt_saved_as": "enregistré sous",
    "receipt_type": "type détecté",
    "type_unknown": "inconnu",
    "type_text": "texte brut",
    "receipt_size": "taille",
    "receipt_cleaned_none": "Nettoyé\u00a0: aucune métadonnée identifiante trouvée.",
    "receipt_not_cleaned": "NON NETTOYÉ",
    "receipt_not_cleaned_why": "Raison\u00a0:",
    "receipt_not_cleaned_kept": (
        "Le fichier a été transmis tel quel. Ses métadonnées (auteur, dates, appareil, "
        "position) peuvent vous identifier\u00a0: la rédaction en est prévenue."
    ),
    "receipt_empty": "Ce fichier est vide (0\u00a0octet). Si ce n’est pas voulu, renvoyez-le.",
    "receipt_attached_to": "pièce jointe trouvée dans",
    "receipt_note": "Remarque\u00a0:",
    "receipt_warning_title": "Attention\u00a0: certains fichiers n’ont pas pu être nettoyés",
    "receipt_message": "Votre message ({chars}\u00a0caractères) a été reçu.",
    "receipt_message_one": "Votre message ({chars}\u00a0caractère) a été reçu.",
    "receipt_no_message": "Aucun message n’a été envoyé.",
    "next_title": "Et maintenant\u00a0?",
    "next_close": (
        "Fermez le Navigateur Tor. Il n’y a aucun code de reçu à garder\u00a0: ne conservez "
        "aucune trace de cet envoi."
    ),
    "next_no_resend": (
        "Ne renvoyez rien depuis un appareil ou un réseau de travail. Pour compléter, "
        "faites un nouvel envoi plus tard, de la même façon."
    ),
    "next_no_talk": (
        "N’en parlez pas, et ne changez pas vos habitudes\u00a0: la rédaction vérifiera les "
        "documents avant toute publication."
    ),
    "back": "Retour à l’accueil",
    "error_title": "L’envoi n’a pas abouti",
    "error_nothing_kept": "Rien de cet envoi n’a été conservé.",
    "error_retry": "Revenir au formulaire",
    "err_malformed": (
        "La requête reçue était incomplète ou mal formée (connexion interrompue\u00a0?). "
        "Réessayez depuis le formulaire."
    ),
    "err_no_files": (
        "Rien n’a été envoyé\u00a0: choisissez au moins un fichier, ou écrivez un message."
    ),
    "err_too_large": (
        "L’envoi dépasse la taille maximale ({max_size} au total). Envoyez les fichiers "
        "en plusieurs fois."
    ),
    "err_too_many_files": (
        "Trop de fichiers (au plus {max_files} par envoi). Envoyez-les en plusieurs fois, "
        "ou regroupez-les dans une archive ZIP\u00a0: chaque fichier qu’elle contient est "
        "nettoyé à son tour."
    ),
    "err_message_too_long": (
        "Le message est trop long (au plus {max_chars} caractères). Raccourcissez-le ou "
        "joignez-le comme fichier texte."
    ),
    "err_full": (
        "Le serveur n’a plus assez de place pour recevoir cet envoi. Réessayez dans quelques jours."
    ),
    "err_busy": ("Le serveur reçoit déjà beaucoup d’envois. Réessayez dans quelques minutes."),
    "err_internal": "Une erreur s’est produite sur le serveur. Réessayez plus tard.",
    "err_not_found": "Cette page n’existe pas.",
    "err_method": "Cette adresse ne s’utilise pas ainsi.",
    "not_found_title": "Page introuvable",
    "method_title": "Requête non prise en charge",
    "reason:unsupported file type": "type de fichier non pris en charge",
    "reason:corrupt or unreadable file": "fichier corrompu ou illisible",
    "reason:ambiguous file type (readable as two formats)": (
        "type de fichier ambigu (lisible comme deux formats différents)"
    ),
    "reason:too large or too complex to clean safely": (
        "trop grand ou trop complexe pour être nettoyé sans risque"
    ),
    "reason:cleaning timed out": "le nettoyage a pris trop de temps",
    "reason:too many or too long links to list for checking": (
        "trop de liens, ou des liens trop longs, pour qu’ils soient tous listés et vérifiés"
    ),
    "reason:the cleaner crashed on this file": "le nettoyage a échoué sur ce fichier",
    "reason:the cleaner tried a forbidden operation": (
        "le nettoyage a tenté une opération interdite"
    ),
    "reason:the cleaning sandbox is not available on this server": (
        "l’isolement du nettoyage n’est pas disponible sur ce serveur"
    ),
    "reason:metadata remained after cleaning": "des métadonnées restaient après nettoyage",
    "reason:could not be cleaned": "n’a pas pu être nettoyé",
    "reason:too large to clean": "trop grand pour être nettoyé",
    "reason:encrypted with a password": "protégé par un mot de passe",
    "note_image_kept": (
        "L’image elle-même est intacte (pas recompressée)\u00a0: seules ses métadonnées ont "
        "été retirées."
    ),
    "note_orientation_kept": (
        "L’orientation de la photo a été gardée\u00a0: c’est la seule donnée EXIF restante."
    ),
    "note_converted_png": "Converti en PNG, sans perte de qualité.",
    "note_converted_tiff": "Converti en TIFF, sans perte de qualité, toutes pages gardées.",
    "note_more_images_one": (
        "Une autre image contenue dans ce fichier est transmise comme fichier séparé."
    ),
    "note_more_images": (
        "{count} autres images contenues dans ce fichier sont transmises comme fichiers séparés."
    ),
    "note_drawing_kept": "Le dessin est gardé à l’identique.",
    "note_emf_plus_dropped": (
        "La couche EMF+ a été retirée\u00a0; le dessin de base (GDI) est gardé."
    ),
    "note_icc_replaced": (
        "Les profils de couleur (ICC) ont été remplacés par des espaces de couleur "
        "standard\u00a0: les teintes peuvent changer légèrement."
    ),
    "note_empty": "Fichier vide (0\u00a0octet).",
    "note_other": "Une remarque technique sur ce fichier a été transmise à la rédaction.",
}

_EN: Final[dict[str, str]] = {
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

STRINGS: Final[dict[str, dict[str, str]]] = {"fr": _FR, "en": _EN}


#: The scrubbers' notes are fixed English phrases, joined by "; " when there are several.
#: Each known phrase -> the key of its words for the source.
_NOTE_KEYS: Final[dict[str, str]] = {
    "lossless: compressed image data kept byte for byte": "note_image_kept",
    "lossless: image data kept byte for byte, only metadata removed": "note_image_kept",
    "orientation kept (EXIF with only that tag)": "note_orientation_kept",
    "converted to PNG (lossless)": "note_converted_png",
    "converted to TIFF (lossless)": "note_converted_tiff",
    "drawing records kept byte for byte": "note_drawing_kept",
    "EMF+ layer dropped, its GDI drawing kept": "note_emf_plus_dropped",
    "ICC colour profiles replaced by device colour spaces": "note_icc_replaced",
    "empty file (0 bytes)": "note_empty",
}
_MORE_IMAGES: Final = re.compile(r"([1-9][0-9]{0,5}) more image\(s\) given as separate files")
_GENERIC_REASON: Final = "reason:could not be cleaned"


def reason_text(lang: str, reason: str | None) -> str | None:
    """A scrubber's (English, value-free) reason in the page's language.

    Only reasons known here are shown: the text comes back from the cleaning worker, which
    parses hostile files; a worker taken over by one must not get to write to the source
    (say, a fake instruction). Anything else reads "could not be cleaned".
    """
    if reason is None:
        return None
    strings = STRINGS[lang]
    return strings.get("reason:" + reason, strings[_GENERIC_REASON])


def note_lines(lang: str, note: str | None) -> list[str]:
    """A scrubber's note as sentences for the source, in the page's language.

    Known phrases only, for the reason given in `reason_text`; any other phrase becomes
    one generic line (the editors read the exact note in the manifest).
    """
    if not note:
        return []
    strings = STRINGS[lang]
    lines: list[str] = []
    for phrase in note.split("; "):
        key = _NOTE_KEYS.get(phrase.strip())
        if key is not None:
            line = strings[key]
        elif (more := _MORE_IMAGES.fullmatch(phrase.strip())) is not None:
            count = int(more.group(1))
            line = (
                strings["note_more_images_one"]
                if count == 1
                else strings["note_more_images"].format(count=count)
            )
        else:
            line = strings["note_other"]
        if line not in lines:
            lines.append(line)
    return lines


def warning_lines(lang: str, codes: tuple[str, ...]) -> list[str]:
    """The scrubbers' warning codes in the page's words; a code not known here (the wire
    lets only `scrubbers.WARNING_CODES` through) is not shown."""
    strings = STRINGS[lang]
    lines = [strings["warning:" + code] for code in codes if "warning:" + code in strings]
    return list(dict.fromkeys(lines))


def human_size(lang: str, size: int) -> str:
    """`size` as people read it in their file manager: powers of 1024 named Ko/Mo/Go in
    French and KB/MB/GB in English (as Windows shows them), the number and its unit held
    together by a non-breaking space."""
    if lang == "fr":
        units = ("octet" if size in (0, 1) else "octets", "Ko", "Mo", "Go", "To")
    else:
        units = ("byte" if size == 1 else "bytes", "KB", "MB", "GB", "TB")
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            text = f"{value:.0f}" if unit == units[0] or value >= 100 else f"{value:.1f}"
            if text.endswith(".0"):
                text = text[:-2]
            if lang == "fr":
                text = text.replace(".", ",")
            return f"{text}\u00a0{unit}"
        value /= 1024
    raise AssertionError("unreachable")


# Returning sources (codename, mailbox, follow-ups): kept apart so that each part of the
# site's words can be read, and changed, on its own.
_FR_MAILBOX: Final[dict[str, str]] = {
    "receipt_codename_title": "Votre nom de code, pour revenir",
    "receipt_codename_lead": (
        "Avec ces sept mots, vous pourrez lire les réponses de la rédaction et lui écrire "
        "de nouveau. Ils ne s’affichent qu’une fois\u00a0: le serveur ne les garde pas et "
        "ne pourra jamais vous les redonner."
    ),
    "receipt_codename_advice": (
        "Recopiez-les à la main sur papier, et gardez ce papier chez vous. Jamais sur un "
        "appareil de votre employeur, ni dans un fichier, une note ou une photo."
    ),
    "receipt_codename_back": (
        "Pour revenir dans quelques jours\u00a0: ouvrez cette adresse dans le Navigateur "
        "Tor, puis «\u00a0Lire les réponses\u00a0»."
    ),
    "receipt_codename_no_switch": (
        "Cette page n’a pas de lien vers l’anglais\u00a0: le quitter ferait perdre votre "
        "nom de code."
    ),
    "receipt_mailbox_failed": (
        "Aucune boîte aux lettres n’a pu être ouverte pour vous\u00a0: la rédaction ne "
        "pourra pas vous répondre. Vos documents, eux, sont bien arrivés."
    ),
    "receipt_followup": (
        "Cet envoi a été ajouté à votre conversation avec la rédaction\u00a0; votre nom de "
        "code reste le même."
    ),
    "mailbox_link": "Vous avez déjà envoyé quelque chose\u00a0? Lire les réponses",
    "mailbox_title": "Lire les réponses de la rédaction",
    "mailbox_lead": (
        "Tapez votre nom de code\u00a0: les sept mots reçus lors de votre premier envoi."
    ),
    "mailbox_label": "Nom de code",
    "mailbox_hint": "Les majuscules, les accents et les tirets ne comptent pas.",
    "mailbox_submit": "Ouvrir ma boîte",
    "mailbox_unknown": (
        "Aucune boîte aux lettres avec ce nom de code. Vérifiez les mots et leur ordre, "
        "puis réessayez."
    ),
    "mailbox_invalid": "Un nom de code est fait de sept mots, séparés par des espaces.",
    "conversation_title": "Votre conversation avec la rédaction",
    "conversation_replies": "Réponses de la rédaction",
    "conversation_reply_day": "Reçue le {day}",
    "conversation_none": "Pas encore de réponse. Revenez dans quelques jours.",
    "conversation_unreadable": "Cette réponse n’a pas pu être ouverte.",
    "followup_title": "Écrire de nouveau à la rédaction",
    "followup_lead": (
        "Un message, des fichiers, ou les deux. Ce formulaire sert une seule fois, pendant "
        "30\u00a0minutes."
    ),
    "delete_title": "Effacer les réponses lues",
    "delete_lead": "Les réponses affichées ci-dessus seront effacées du serveur, définitivement.",
    "delete_submit": "Effacer ces réponses",
    "deleted_title": "Réponses effacées",
    "deleted_none": "Aucune réponse n’était à effacer.",
    "deleted_one": "1\u00a0réponse a été effacée du serveur.",
    "deleted_many": "{count}\u00a0réponses ont été effacées du serveur.",
    "err_token": (
        "Ce formulaire a expiré ou a déjà servi. Rouvrez votre boîte avec votre nom de code."
    ),
}

_EN_MAILBOX: Final[dict[str, str]] = {
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

_FR.update(_FR_MAILBOX)
_EN.update(_EN_MAILBOX)


# The receipt's plain words: what each category of removed fields is (keys from
# `leakdrop.server.fields`), what no cleaning removes, and the scrubbers' warnings.
_FR_RECEIPT: Final[dict[str, str]] = {
    "receipt_removed_lead": "Nettoyé. Retiré de ce fichier\u00a0:",
    "receipt_removed_details_one": "Le nom technique du champ retiré",
    "receipt_removed_details_many": "Les noms techniques des {count}\u00a0champs retirés",
    "field:gps": "la position GPS (le lieu de la prise de vue)",
    "field:camera": "la marque, le modèle et le numéro de série de l’appareil",
    "field:author": "le nom de l’auteur et des autres personnes",
    "field:paths": (
        "des chemins de fichiers, des liens vers d’autres fichiers, le nom de l’ordinateur"
    ),
    "field:dates": "des dates et des heures",
    "field:software": "le logiciel de création ou de retouche",
    "field:properties": (
        "les propriétés du document (titre, société, étiquettes, champs personnalisés)"
    ),
    "field:comments": "des commentaires et des descriptions",
    "field:history": "l’historique des révisions et des modifications",
    "field:ids": "des identifiants uniques, qui relient le fichier à ses autres versions",
    "field:thumbnails": "des vignettes et des images cachées",
    "field:attachments": "des pièces jointes intégrées (listées à part ci-dessous)",
    "field:scripts": "des scripts, des macros et des actions automatiques",
    "field:signatures": "des signatures numériques, des mots de passe et des droits d’édition",
    "field:printer": "des réglages d’imprimante",
    "field:colour": "des profils de couleur, qui peuvent nommer l’appareil",
    "field:blocks": (
        "des blocs de métadonnées (XMP, IPTC, EXIF), qui peuvent contenir auteur, lieu, "
        "dates et logiciel"
    ),
    "field:settings": "des réglages de l’appareil et de l’image",
    "field:filesystem": (
        "des traces de l’ordinateur où il a été compressé (droits, numéros d’utilisateur)"
    ),
    "field:other": "d’autres données cachées",
    "receipt_plain_text": (
        "Texte brut\u00a0: ce type de fichier n’a pas de métadonnées cachées. Vérifiez "
        "son contenu, qui est transmis tel quel."
    ),
    "warning:form-values": "les valeurs saisies dans des champs de formulaire",
    "warning:annotation-text": "des commentaires et des annotations",
    "warning:hyperlinks": (
        "des liens cliquables, qui peuvent contenir un code de suivi propre à chaque destinataire"
    ),
    "warning:page-content": (
        "le contenu d’une page web enregistrée, qui peut montrer qui était connecté"
    ),
    "warning:embedded-not-cleaned": "une partie du fichier qui n’a pas pu être nettoyée",
    "cannot_title": "Ce qu’aucun nettoyage ne retire",
    "cannot_lead": "Le nettoyage retire les métadonnées, pas le contenu. Il reste\u00a0:",
    "cannot_content": (
        "ce que disent les documents eux-mêmes\u00a0: noms, tournures, détails que peu de "
        "personnes connaissent, et qui avait accès à quel document\u00a0;"
    ),
    "cannot_dots": (
        "les points jaunes de traçage que les imprimantes laissent sur une page imprimée "
        "puis scannée\u00a0;"
    ),
    "cannot_watermarks": (
        "les filigranes propres à chaque exemplaire, et les liens de suivi propres à "
        "chaque destinataire\u00a0;"
    ),
    "cannot_noise": (
        "le «\u00a0bruit\u00a0» du capteur, qui relie une photo à l’appareil qui l’a prise."
    ),
    "cannot_found": "Trouvé dans vos fichiers, et transmis tel quel\u00a0:",
    "demo_title": "Démonstration.",
    "demo_text": (
        "Ce site n’est pas une vraie boîte aux lettres\u00a0: la clé qui ouvre les envois "
        "est sur ce serveur même. N’envoyez aucun vrai document."
    ),
}

_EN_RECEIPT: Final[dict[str, str]] = {
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

_FR.update(_FR_RECEIPT)
_EN.update(_EN_RECEIPT)


def plural(lang: str, count: int, one: str, many: str) -> str:
    """The template `one` or `many` for `count`: French puts 0 and 1 in the singular."""
    singular = count in (0, 1) if lang == "fr" else count == 1
    return one if singular else many


# Notes of the audio and plain-text scrubbers (issue 11): kept apart, like the mailbox words.
_FR_MEDIA_NOTES: Final[dict[str, str]] = {
    "note_audio_kept": (
        "Le son lui-même est intact (pas réencodé) : seules ses étiquettes (titre, auteur, "
        "logiciel, dates, images) ont été retirées."
    ),
    "note_plain_text": (
        "Rien n’est caché dans ce type de fichier : relisez son contenu, c’est lui qui "
        "pourrait vous identifier."
    ),
}
_EN_MEDIA_NOTES: Final[dict[str, str]] = {
    "note_audio_kept": (
        "The sound itself is untouched (not re-encoded): only its tags (title, author, "
        "software, dates, pictures) were removed."
    ),
    "note_plain_text": (
        "Nothing is hidden in this kind of file: check its content, which is what could "
        "identify you."
    ),
}
_FR.update(_FR_MEDIA_NOTES)
_EN.update(_EN_MEDIA_NOTES)
_NOTE_KEYS.update(
    {
        "audio data kept byte for byte, only tags removed": "note_audio_kept",
        "nothing hidden in this kind of file — check its content": "note_plain_text",
    }
)
