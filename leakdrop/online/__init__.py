"""The newsroom's online machine: `leakdrop fetch`, `leakdrop bundle`, `leakdrop onion-auth-*`.

`leakdrop.online.fetch` downloads ciphertext from the pickup through Tor and sends the
laptop's replies; `leakdrop.online.bundle` gathers the wheels the air-gapped laptop installs
from; `leakdrop.online.onion_auth` makes an editor's Tor client-authorization key for the
pickup (and checks the public line the pickup's admin adds). Standard library and PyNaCl
only: what they share with the pickup (the id rule, the token syntax) comes from
`leakdrop.layout`, never from `leakdrop.pickup` or `leakdrop.server`. Nothing is imported
here, so each command loads only what it needs.
"""
