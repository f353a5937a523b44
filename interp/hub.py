"""Offline detection for the Hugging Face hub.

Without a reachable hub every lookup by transformers / huggingface_hub stalls ~20 s before failing. The CLI and the
tests call `ensure_offline_if_no_hub()` first, which sets HF_HUB_OFFLINE=1 when a quick TCP connection fails, so
offline work (the toy world, local model folders) starts at once and a hub model fails fast with a clear error.
"""

from __future__ import annotations

import logging
import os
import socket
from urllib.parse import urlparse


def hub_reachable(timeout: float = 1.5) -> bool:
    """Whether the Hugging Face hub answers a TCP connection within `timeout` seconds."""
    endpoint = os.environ.get("HF_ENDPOINT") or "https://" + ".".join(("huggingface", "co"))
    host = urlparse(endpoint).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_offline_if_no_hub() -> None:
    """Set HF_HUB_OFFLINE=1 (and TRANSFORMERS_OFFLINE=1) when the hub is unreachable and nothing was set."""
    if "HF_HUB_OFFLINE" not in os.environ and not hub_reachable():
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        logging.getLogger(__name__).info("model hub unreachable: HF_HUB_OFFLINE=1")
