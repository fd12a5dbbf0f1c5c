"""The pickup listener: editors fetch ciphertext over their own authenticated onion service.

`leakdrop.pickup.store` (standard library) lists, hashes and deletes finished submissions;
`leakdrop.pickup.expiry` (standard library) is the retention pass (`leakdrop expire`, and
the listener's timer); `leakdrop.pickup.app` is the ASGI application; `leakdrop.pickup.run`
starts it with uvicorn (`leakdrop pickup`). Nothing is imported here, so `leakdrop expire`
needs no server package.
"""
