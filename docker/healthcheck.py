"""Container health check: GET /healthz on this container's own port; exit 0 only on 200 "ok".

    healthcheck.py          the drop's port, from LEAKDROP_PORT (default 8080)
    healthcheck.py PORT     another listener's port (compose.yaml: the pickup's 8081)

Standard library only (no curl in the image). Proxies from the environment are ignored: the
check must talk to this container's server and nothing else. /healthz reveals nothing (both
listeners answer it without a token, with the two letters "ok").
"""

import os
import sys
import urllib.request


def _port(argv: list[str]) -> int | None:
    text = argv[1] if len(argv) > 1 else os.environ.get("LEAKDROP_PORT", "8080")
    if len(argv) > 2 or not text.isdigit() or not 0 < int(text) < 65536:
        return None
    return int(text)


def main(argv: list[str]) -> int:
    port = _port(argv)
    if port is None:
        print("usage: healthcheck.py [PORT]", file=sys.stderr)
        return 1  # not 2: Docker reserves that exit code of a health check
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=4) as response:
            healthy = response.status == 200 and response.read(16) == b"ok"
    except OSError as exc:  # refused, reset, timeout, HTTP error: all mean "not healthy"
        print(f"unhealthy: {type(exc).__name__}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
