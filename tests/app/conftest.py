"""A small explorer workspace, built once per test session through `interp workspace build` with tiny settings."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

TINY = ["--cache-tokens", "4096", "--sae-tokens", "4096", "--sae-batch-size", "512", "--d-sae", "128", "--k", "8",
        "--snmf-k", "12", "--snmf-tokens", "2048", "--neuron-tokens", "1024", "--universal-tokens", "1024",
        "--universal-models", "toy-gelu-s0", "toy-gelu-s1", "--steer-concepts", "colour:red", "--ioi-prompts", "3",
        "--examples-per-bin", "3", "--archs", "relu", "topk", "batchtopk", "--sparsity-tokens", "1024"]
"""Three SAE architectures, an SNMF, neurons, two seeds: every page has something to show, in well under a minute."""


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """Path of the built tiny workspace (do not modify it; copy what a test corrupts)."""
    import torch

    from apps.cli import main

    torch.set_num_threads(1)

    # INTERP_TEST_WORKSPACE: build into (and reuse) this folder; the build is resumable, so a rerun takes seconds
    keep = os.environ.get("INTERP_TEST_WORKSPACE")
    root = Path(keep) if keep else tmp_path_factory.mktemp("explorer") / "workspace"
    assert main(["workspace", "build", "--out", str(root), *TINY]) == 0
    return root


class Explorer:
    """Opens the explorer under streamlit.testing.v1.AppTest on a workspace and reads what it shows."""

    APP = str(Path(__file__).resolve().parents[2] / "apps" / "explorer" / "app.py")

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch

    def open(self, root, page: str | None = None, allow: list | None = None, **params):
        """The app on workspace `root` (INTERP_WORKSPACE; `allow`: INTERP_ALLOW), switched to `page` with URL
        query parameters `params`, after a run that raised nothing."""
        from streamlit.testing.v1 import AppTest

        self.monkeypatch.setenv("INTERP_WORKSPACE", str(root))
        self.monkeypatch.setenv("INTERP_ALLOW", os.pathsep.join(str(a) for a in allow or []))
        at = AppTest.from_file(self.APP, default_timeout=180)
        for k, v in params.items():
            at.query_params[k] = str(v)
        at.run()
        if page:
            at.switch_page(page).run()
        self.ok(at)
        return at

    @staticmethod
    def ok(at) -> None:
        assert not at.exception, [e.value for e in at.exception]

    @staticmethod
    def texts(at) -> str:
        """Every text element's value, markdown escapes removed."""
        parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
        parts += [e.value for e in at.error] + [w.value for w in at.warning] + [h.value for h in at.header]
        parts += [s.value for s in at.subheader]
        return re.sub(r"\\(.)", r"\1", "\n".join(parts))

    @staticmethod
    def charts(at) -> list[dict]:
        """The plotly figures on the page, as JSON."""
        return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]

    @staticmethod
    def metrics(at) -> dict[str, str]:
        return {m.label: m.value for m in at.metric}


@pytest.fixture
def explorer(monkeypatch) -> Explorer:
    return Explorer(monkeypatch)
