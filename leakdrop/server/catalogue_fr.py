"""The pages' words in French (`i18n.STRINGS["fr"]`): the same keys as
`catalogue_en`, each part of the site's words in its own table so that it can be read, and
changed, on its own."""

from __future__ import annotations

from typing import Final

# The landing page, the form, the receipt's frame, the error pages, the scrubbers' reasons
# and notes.
_PAGES: Final[dict[str, str]] = {
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


# Returning sources (codename, mailbox, follow-ups).
_MAILBOX: Final[dict[str, str]] = {
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


# The receipt's plain words: what each category of removed fields is (keys from
# `leakdrop.server.fields`), what no cleaning removes, and the scrubbers' warnings.
_RECEIPT: Final[dict[str, str]] = {
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


# Notes of the audio and plain-text scrubbers (issue 11).
_MEDIA_NOTES: Final[dict[str, str]] = {
    "note_audio_kept": (
        "Le son lui-même est intact (pas réencodé) : seules ses étiquettes (titre, auteur, "
        "logiciel, dates, images) ont été retirées."
    ),
    "note_plain_text": (
        "Rien n’est caché dans ce type de fichier : relisez son contenu, c’est lui qui "
        "pourrait vous identifier."
    ),
}


FR: Final[dict[str, str]] = {**_PAGES, **_MAILBOX, **_RECEIPT, **_MEDIA_NOTES}
