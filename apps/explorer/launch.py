"""`interp explore`: start the Streamlit explorer (apps/explorer/app.py) on a workspace, bound to 127.0.0.1 by
default."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from apps.workspace.config import BUILD_COMMAND, ExploreConfig
from apps.workspace.layout import Layout

APP = Path(__file__).resolve().parent / "app.py"


def streamlit_command(cfg: ExploreConfig) -> list[str]:
    """The `streamlit run` command line for cfg (headless unless a display is available or asked for)."""
    headless = cfg.headless == "yes" or (cfg.headless == "auto" and not os.environ.get("DISPLAY")
                                         and sys.platform.startswith("linux"))
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", cfg.address,
            "--server.port", str(cfg.port), "--server.headless", str(headless).lower(),
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--browser.serverAddress", cfg.address, "--browser.serverPort", str(cfg.port)]


def main(cfg: ExploreConfig) -> int:
    """CLI entry: run the app until interrupted (the workspace travels in INTERP_WORKSPACE)."""
    root = Path(cfg.workspace).resolve()
    if not Layout(root).manifest.is_file():
        print(f"note: {root} holds no workspace yet; the pages will say what to build ({BUILD_COMMAND} --out {root})")
    env = {**os.environ, "INTERP_WORKSPACE": str(root), "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    print(f"explorer on http://{cfg.address}:{cfg.port} (workspace {root}); Ctrl-C stops it", flush=True)
    # replace this process by the server, so a signal sent to `interp explore` (a supervisor's SIGTERM, a test's
    # teardown) reaches streamlit itself instead of orphaning it
    cmd = streamlit_command(cfg)
    os.execve(cmd[0], cmd, env)
    return 0  # not reached
