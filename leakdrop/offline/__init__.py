"""The editors' air-gapped laptop: `leakdrop keygen`, `leakdrop open`, `leakdrop reply`.

`leakdrop.offline.keygen` makes an editor's age identity (its passphrase rule:
`leakdrop.offline.passphrase`); `leakdrop.offline.opener` decrypts, verifies and extracts
submissions and writes the OUT/index.html overview; `leakdrop.offline.reply` seals a reply
to a source's mailbox. Standard library, PyNaCl and pyca/cryptography only, with
`leakdrop.sealing`, `leakdrop.submission` and `leakdrop.keys`: nothing here may import a
server package (tests/test_offline_install.py imports every module under this package with
those blocked). Nothing is imported here, so each command loads only what it needs.
"""
