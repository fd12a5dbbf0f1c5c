"""Container health check: GET /healthz on the server's own port, exit 0 only on 200 "ok".

Standard library only (no curl in the image). Proxies from the environment are ignored: the
check must talk to this container's server and nothing else.
"""

import os
import sys
import urllib.request

_PORT = int(os.environ.get("LEAKDROP_PORT", "8080"))


def main() -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{_PORT}/healthz", timeout=4) as response:
            healthy = response.status == 200 and response.read(16) == b"ok"
    except OSError as exc:  # refused, reset, timeout, HTTP error: all mean "not healthy"
        print(f"unhealthy: {type(exc).__name__}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
