"""The one network probe: does a server (or the proxy for it) accept a connection in time?

The hub (`models/hub.py`) and W&B (`tracking/wandb_run.py`) ask this before they start their own
clients, whose retries wait for far longer than a user should wait for an offline answer.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.request
from urllib.parse import urlsplit


def reachable(url: str, timeout: float) -> bool:
    """True if the host serving `url` (or its proxy) accepts a TCP connection within `timeout`.

    The connect runs in a daemon thread so that a name lookup that hangs cannot stall us either.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = via.hostname or "", via.port or 80
    ok: list[bool] = []

    def connect() -> None:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
            ok.append(True)

    probe = threading.Thread(target=connect, daemon=True)
    probe.start()
    probe.join(timeout)
    return bool(ok)
