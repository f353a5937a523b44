"""`interp explore`: start the Streamlit explorer (apps/explorer/app.py) on a workspace, bound to 127.0.0.1 by
default.

The app has no authentication: every page reads the workspace, and the Open and Features pages read dictionary and
feature-page folders inside the workspace and the folders given with `--allow` (apps.explorer.access; nothing else
on the server). Binding another
address than the loopback prints a warning saying so. Streamlit's developer toolbar (Deploy, Rerun, Clear cache) is
hidden (`--client.toolbarMode minimal`), and the full garbage collection Streamlit runs after every rerun is off
(NO_POST_RUN_GC). The server runs through apps.explorer.warm, which fills the explorer's caches as it starts.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from apps.workspace.config import BUILD_COMMAND, ExploreConfig
from apps.workspace.layout import Layout

APP = Path(__file__).resolve().parent / "app.py"
WORKSPACE_ENV, ALLOW_ENV = "INTERP_WORKSPACE", "INTERP_ALLOW"
TOOLBAR = ("--client.toolbarMode", "minimal")
"""No Deploy button nor developer menu: the explorer is a viewer, not a Streamlit project."""
NO_POST_RUN_GC = ("--runner.postScriptGC", "false")
"""Streamlit runs a full gc.collect() after every rerun by default: with torch and TransformerLens loaded (~500k
objects) it takes ~300 ms and holds back the rerun's last messages, half of a click-to-page time
(bench/explorer_render.py). Python's generational collector still runs as usual."""


def streamlit_command(cfg: ExploreConfig) -> list[str]:
    """The `streamlit run` command line for cfg (headless unless a display is available or asked for)."""
    headless = cfg.headless == "yes" or (cfg.headless == "auto" and not os.environ.get("DISPLAY")
                                         and sys.platform.startswith("linux"))
    return [sys.executable, "-m", "apps.explorer.warm", "run", str(APP), "--server.address", cfg.address,
            "--server.port", str(cfg.port), "--server.headless", str(headless).lower(),
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *TOOLBAR, *NO_POST_RUN_GC,
            "--browser.serverAddress", cfg.address, "--browser.serverPort", str(cfg.port)]


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses no other machine reaches."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:  # a host name: assume it is reachable from elsewhere
        return False


def exposure_warnings(cfg: ExploreConfig) -> list[str]:
    """What `interp explore` warns about before starting: a non-loopback address, --allow folders that are missing."""
    out = []
    if not is_loopback(cfg.address):
        out.append(f"warning: the explorer has no authentication; bound to {cfg.address}, anyone who can reach "
                   f"port {cfg.port} on this machine can read the workspace and the --allow folders. Bind 127.0.0.1 "
                   f"(the default) and use an SSH tunnel to reach it from elsewhere.")
    out += [f"warning: --allow {d}: no such folder" for d in cfg.allow if not Path(d).expanduser().is_dir()]
    return out


def check_bind(address: str, port: int) -> None:
    """Refuse, before the server starts (its own failure is a traceback from inside Streamlit), an --address that
    is no address of this machine and a --port already in use."""
    import errno

    try:
        infos = socket.getaddrinfo(address.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ValueError(f"--address {address!r} is neither an IP address nor a host name this machine resolves: "
                         f"give e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)") from None
    family, _, _, _, where = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(where)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ValueError(f"--port {port} is in use on {address}: give another --port") from None
            raise ValueError(f"--address {address} cannot be bound here ({e.strerror}): give an address of this "
                             f"machine, e.g. 127.0.0.1") from None


def environment(cfg: ExploreConfig) -> dict[str, str]:
    """The server's environment: the workspace and the allowed folders (absolute, os.pathsep-separated)."""
    allow = os.pathsep.join(str(Path(d).expanduser().resolve()) for d in cfg.allow)
    return {**os.environ, WORKSPACE_ENV: str(Path(cfg.workspace).expanduser().resolve()), ALLOW_ENV: allow,
            "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}


def main(cfg: ExploreConfig) -> int:
    """CLI entry: run the app until interrupted (the workspace travels in INTERP_WORKSPACE, --allow in
    INTERP_ALLOW)."""
    check_bind(cfg.address, cfg.port)
    env = environment(cfg)
    root = Path(env[WORKSPACE_ENV])
    if not Layout(root).manifest.is_file():
        print(f"note: {root} holds no workspace yet; the pages will say what to build ({BUILD_COMMAND} --out {root})")
    for line in exposure_warnings(cfg):
        print(line, file=sys.stderr)
    print(f"explorer on http://{cfg.address}:{cfg.port} (workspace {root}); Ctrl-C stops it", flush=True)
    # replace this process by the server, so a signal sent to `interp explore` (a supervisor's SIGTERM, a test's
    # teardown) reaches streamlit itself instead of orphaning it
    cmd = streamlit_command(cfg)
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(workspace: str | Path, cwd: str | Path, port: int | None = None, timeout: float = 120) -> Iterator[str]:
    """`interp explore --workspace W` run as a subprocess from folder `cwd` (its log in cwd/server.log), yielding its
    URL once it answers /_stcore/health; the server runs in its own process group, ended (SIGTERM, then SIGKILL) on
    exit, so nothing outlives the caller. For the browser test and bench/explorer_render.py."""
    port = port or free_port()
    interp = Path(sys.executable).with_name("interp")
    exe = [str(interp)] if interp.exists() else [sys.executable, "-m", "apps.cli"]
    cmd = [*exe, "explore", "--workspace", str(Path(workspace).resolve()), "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with open(Path(cwd) / "server.log", "w+") as log:  # a file, not a pipe nobody reads: a full pipe stalls it
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                                env={**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")})
        try:
            deadline = time.time() + timeout
            while not _healthy(url):
                if proc.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"interp explore did not come up: {log.read()}")
                time.sleep(0.3)
            yield url
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok"
    except OSError:
        return False
