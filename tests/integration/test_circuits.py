"""Circuit discovery on the shipped toy model: the found set is checked by patching exactly it; CLI artifacts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from circuits.discovery import Node, discover_circuit, head_roles, patch_set
from circuits.patching.results import load_results
from circuits.tasks import ioi_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_circuit_restores_threshold_and_is_minimal(toy_model):
    task = ioi_task(toy_model, n=16)
    c = discover_circuit(toy_model, task, threshold=0.8, mlps=[])
    assert c.recovered >= 0.8 and c.nodes and all(n.head is not None for n in c.nodes)
    assert c.recovered == pytest.approx(patch_set(toy_model, task, c.nodes), abs=1e-6)
    for n in c.nodes:  # pruned: no single member can go
        assert patch_set(toy_model, task, [m for m in c.nodes if m != n]) < 0.8
    all_heads = [Node(la, h) for la in range(4) for h in range(4)]
    assert patch_set(toy_model, task, all_heads + [Node(la) for la in range(4)]) == pytest.approx(1.0, abs=1e-3)


def test_head_roles_find_the_s2_attending_head(toy_model):
    ev = head_roles(toy_model, ioi_task(toy_model, n=16))
    layer, head = divmod(int(ev.end_to_s2.argmax()), 4)
    assert ev.end_to_s2[layer, head] > 0.5 and ev.role(layer, head) in ("S-suppression", "S-inhibition")
    assert ev.s2_to_s1.shape == (4, 4) and float(ev.s2_to_s1.max()) <= 1.0


@pytest.mark.slow
def test_patch_cli_writes_scores_and_summary(tmp_path):
    out = tmp_path / "p"
    r = subprocess.run([sys.executable, "-m", "apps.cli", "patch", "--model", "toy-gelu-s0", "--task", "ioi",
                        "--method", "attribution", "--n-prompts", "8", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "attribution" and summary["results"]["resid_pre"]["axes"] == ["layer", "pos"]
    res = load_results(out)
    assert res["head_out"].scores.shape == (4, 4)
    bad = subprocess.run([sys.executable, "-m", "apps.cli", "patch", "--components", "heads"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown component" in bad.stderr


def test_config_component_names_match_the_table():
    from circuits.config import COMPONENT_NAMES
    from circuits.patching.components import COMPONENTS

    assert tuple(COMPONENTS) == COMPONENT_NAMES
