"""Nothing lost, nothing stale: a command replaces or deletes only what it can prove it made, and checks what it
needs before touching anything; a workspace step is reused only while what it was built from is unchanged.

Each refused case runs through the CLI's entry point and asserts a non-zero exit, one `interp:` line naming the
problem and the fix, no traceback, and byte-identical files in the folder it was pointed at.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from apps.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from snapshots import snapshot as _snapshot  # noqa: E402

WS = ["--layer", "1", "--cache-tokens", "4096", "--sae-tokens", "2048", "--sae-batch-size", "512", "--d-sae", "32",
      "--k", "4", "--snmf-k", "4", "--snmf-tokens", "1024", "--archs", "topk", "--examples-per-bin", "2"]
"""A tiny workspace: cache, one SAE, an SNMF and their pages in a few seconds."""
BUILT = ["cache", "saes", "snmf", "features"]
STEP_FOLDERS = ["cache", "saes", "snmf", "shipped", "features", "neurons", "universal", "steering", "patching"]




def _refused(argv: list[str], protected: Path, capsys, *needles: str) -> str:
    """Run argv; assert it fails with one `interp:` line holding every needle and leaves `protected` as it was."""
    before = _snapshot(protected) if protected.exists() else None
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("interp:")]
    assert code not in (0, None), err
    assert "Traceback" not in err and len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert (_snapshot(protected) if protected.exists() else None) == before
    return lines[0]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, one_torch_thread):
    root = tmp_path_factory.mktemp("ws") / "ws"
    assert main(["workspace", "build", "--out", str(root), "--steps", *BUILT, *WS]) == 0
    return root


@pytest.fixture(scope="module")
def neurons_run(tmp_path_factory, one_torch_thread):
    out = tmp_path_factory.mktemp("neurons") / "n"
    assert main(["neurons", "--tokens", "512", "--out", str(out), "--device", "cpu"]) == 0
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _steps(root: Path) -> dict:
    return json.loads((root / "workspace.json").read_text())["steps"]


# --- a workspace never touches a folder no build of it made ---------------------------------------------------

@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("step", STEP_FOLDERS)
def test_a_step_folder_the_workspace_did_not_make_is_kept(step, force, tmp_path, capsys):
    root = tmp_path / "mine"
    (root / step).mkdir(parents=True)
    (root / step / "notes.txt").write_text("my notes")
    argv = ["workspace", "build", "--out", str(root), "--steps", step, *WS, *(["--force", step] if force else [])]
    _refused(argv, root, capsys, str(root / step), "no build of this workspace made it", "--overwrite")


@pytest.mark.parametrize("steps", [["saes"], ["snmf"], ["features"], ["saes", "features"], ["snmf", "features"]])
def test_a_step_without_the_cache_fails_before_creating_anything(steps, tmp_path, capsys):
    root = tmp_path / "new"
    line = _refused(["workspace", "build", "--out", str(root), "--steps", *steps, *WS], tmp_path, capsys,
                    "reads the cache step's artifact", "--steps cache")
    assert not root.exists() and f"--out {root}" in line


@pytest.mark.parametrize("steps", [["saes"], ["snmf"], ["features"], ["saes", "--force", "saes"]])
def test_an_empty_workspace_with_only_user_files_elsewhere_keeps_them(steps, tmp_path, capsys):
    root = tmp_path / "ws"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "todo.txt").write_text("keep me")
    _refused(["workspace", "build", "--out", str(root), "--steps", *steps, *WS], root, capsys, "--steps cache")


# --- a workspace reuses a step only while its inputs are intact and current ------------------------------------

def _flip(path: Path, at: int = 4000) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("steps", [["saes"], ["snmf"], ["features"], ["saes", "--force", "saes"],
                                   ["features", "--force", "features"], ["saes", "snmf", "features"]])
def test_a_damaged_cache_is_never_read(steps, workspace, tmp_path, capsys):
    root = _copy(workspace, tmp_path / "ws")
    _flip(next((root / "cache" / "shards").glob("*hook_post*")))
    _refused(["workspace", "build", "--out", str(root), "--steps", *steps, *WS], root, capsys,
             "is damaged", "checksum mismatch", "--steps cache")


@pytest.mark.parametrize("steps", [["features"], ["features", "--force", "features"]])
def test_damaged_sae_weights_are_never_read(steps, workspace, tmp_path, capsys):
    root = _copy(workspace, tmp_path / "ws")
    _flip(next((root / "saes").rglob("*.safetensors")), at=200)
    _refused(["workspace", "build", "--out", str(root), "--steps", *steps, *WS], root, capsys,
             f"{root / 'saes'} is damaged", "--steps saes")


@pytest.mark.parametrize("steps", [["features"], ["saes", "features"], ["snmf", "features"]])
def test_stale_steps_are_never_read(steps, workspace, tmp_path, capsys, one_torch_thread):
    root = _copy(workspace, tmp_path / "ws")
    assert main(["workspace", "build", "--out", str(root), "--steps", "cache", *WS, "--cache-tokens", "8192"]) == 0
    capsys.readouterr()
    args = [*WS, "--cache-tokens", "8192"]
    _refused(["workspace", "build", "--out", str(root), "--steps", *steps, *args], root, capsys,
             "is stale (built from an earlier cache", "--steps")


# --- commands over a finished run of theirs or another's --------------------------------------------------------

@pytest.mark.parametrize("extra", [[], ["--tokens", "1024"], ["--model", "toy-gelu-s1"], ["--seed", "3"],
                                   ["--split", "train"], ["--top-k", "4"]],
                         ids=["same", "tokens", "model", "seed", "split", "top-k"])
def test_neurons_never_replace_a_finished_run(extra, neurons_run, capsys):
    _refused(["neurons", "--tokens", "512", "--out", str(neurons_run), *extra], neurons_run, capsys,
             "stats.json", "--overwrite")


@pytest.mark.parametrize("name", ["stats.json", "stats.safetensors", "checkpoint/notes.txt"])
def test_neurons_never_replace_files_they_did_not_make(name, tmp_path, capsys):
    out = tmp_path / "n"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    (out / name).write_text("mine")
    _refused(["neurons", "--tokens", "512", "--out", str(out)], out, capsys, name.split("/")[0], "--overwrite")


@pytest.mark.parametrize("name", ["universal.json", "universal.safetensors", "toy-gelu-s0/stats.json",
                                  "toy-gelu-s1/stats.safetensors", "checkpoint/notes.txt"])
def test_universal_never_replaces_a_finished_run(name, tmp_path, capsys):
    out = tmp_path / "u"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    (out / name).write_text("an earlier run of other models")
    _refused(["universal", "--models", "toy-gelu-s0", "toy-gelu-s1", "--tokens", "512", "--out", str(out)], out,
             capsys, name.split("/")[0], "--overwrite")


@pytest.mark.parametrize("existing", ["F.json", "F.html"])
def test_steer_bench_never_replaces_a_figure_or_its_json(existing, tmp_path, capsys):
    (tmp_path / existing).write_text("my figure")
    _refused(["steer-bench", "--dictionaries", str(tmp_path / "none"), "--figure", str(tmp_path / "F.html"),
              "--out", str(tmp_path / "bench")], tmp_path, capsys, existing, "--overwrite")


@pytest.mark.parametrize("existing", ["bench.json", "bench.safetensors", "figure.html", "figure.json"])
def test_steer_bench_never_replaces_an_earlier_benchmark(existing, tmp_path, capsys):
    out = tmp_path / "bench"
    out.mkdir()
    (out / existing).write_text("an earlier benchmark")
    _refused(["steer-bench", "--dictionaries", str(tmp_path / "none"), "--out", str(out)], out, capsys, existing,
             "--overwrite")


@pytest.mark.parametrize("existing", ["snmf.json", "snmf.safetensors", "eval.json", "checkpoint/notes.txt"])
def test_snmf_never_replaces_a_finished_run(existing, tmp_path, capsys):
    out = tmp_path / "s"
    (out / existing).parent.mkdir(parents=True)
    (out / existing).write_text("an earlier factorisation")
    _refused(["snmf", "--model", "toy-gelu-s0", "--layer", "1", "--k", "4", "--tokens", "1024", "--out", str(out)],
             out, capsys, existing.split("/")[0], "--overwrite")


@pytest.mark.parametrize("existing", ["notes.txt", "shards/mine.bin", "draft.tmp"])
def test_cache_never_clears_a_folder_that_is_not_a_cache(existing, tmp_path, capsys):
    out = tmp_path / "c"
    (out / existing).parent.mkdir(parents=True)
    (out / existing).write_text("mine")
    _refused(["cache", "--hooks", "blocks.0.mlp.hook_post", "--tokens", "1024", "--out", str(out)], out, capsys,
             "holds no activation cache", "--overwrite")


@pytest.mark.parametrize("existing", ["steering.json", "steering.safetensors"])
def test_steer_never_replaces_an_earlier_run(existing, tmp_path, capsys):
    out = tmp_path / "steer"
    out.mkdir()
    (out / existing).write_text("an earlier run")
    _refused(["steer", "--neuron", "2:5", "--alpha", "3", "--max-new-tokens", "2", "--out", str(out)], out, capsys,
             existing, "--overwrite")


# --- stale state ------------------------------------------------------------------------------------------------

def test_a_rebuilt_cache_marks_what_read_it_stale(workspace, tmp_path, one_torch_thread):
    root = _copy(workspace, tmp_path / "ws")
    assert main(["workspace", "build", "--out", str(root), "--steps", "cache", *WS, "--cache-tokens", "8192"]) == 0
    steps = _steps(root)
    assert steps["cache"]["status"] == "built" and steps["cache"]["settings"]["cache_tokens"] == 8192
    for step in ("saes", "snmf", "features"):
        assert steps[step]["status"] == "stale", steps[step]
        assert "earlier cache" in steps[step]["reason"] and f"--steps {step}" in steps[step]["reason"]
    assert main(["workspace", "build", "--out", str(root), "--steps", *BUILT, *WS, "--cache-tokens", "8192"]) == 0
    assert {s: r["status"] for s, r in _steps(root).items()} == {"cache": "up to date", "saes": "built",
                                                                  "snmf": "built", "features": "built"}


def test_flipped_cache_bytes_are_found_and_the_suggested_command_repairs_them(workspace, tmp_path, capsys,
                                                                              one_torch_thread):
    root = _copy(workspace, tmp_path / "ws")
    _flip(next((root / "cache" / "shards").glob("*hook_post*")))
    line = _refused(["workspace", "build", "--out", str(root), "--steps", "features", *WS], root, capsys, "damaged")
    suggested = line.split("build it first: interp ")[1].split()
    assert main([*suggested, *WS]) == 0  # the suggested command works
    steps = _steps(root)
    assert steps["cache"]["status"] == "built"  # the damaged shard was computed again
    assert main(["workspace", "build", "--out", str(root), "--steps", *BUILT, *WS]) == 0
    assert all(r["status"] == "up to date" for r in _steps(root).values())


def test_force_rebuilds_the_requested_steps_that_read_the_forced_one(workspace, tmp_path, one_torch_thread):
    root = _copy(workspace, tmp_path / "ws")
    assert main(["workspace", "build", "--out", str(root), "--steps", *BUILT, "--force", "saes", *WS]) == 0
    assert {s: r["status"] for s, r in _steps(root).items()} == {"cache": "up to date", "saes": "built",
                                                                  "snmf": "up to date", "features": "built"}


def test_a_rebuild_removes_only_what_the_workspace_made(workspace, tmp_path, capsys, one_torch_thread):
    """A note beside the SAEs survives a rebuild with other settings; the workspace's own SAE is replaced."""
    root = _copy(workspace, tmp_path / "ws")
    (root / "features" / "notes.txt").write_text("my notes")
    assert main(["workspace", "build", "--out", str(root), "--steps", "features", *WS, "--examples-per-bin", "3"]) == 0
    assert (root / "features" / "notes.txt").read_text() == "my notes"
    assert _steps(root)["features"]["settings"]["examples_per_bin"] == 3
    (root / "saes" / "notes.txt").write_text("my notes")
    capsys.readouterr()
    assert main(["workspace", "build", "--out", str(root), "--steps", "saes", *WS, "--d-sae", "16"]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("interp:")]
    assert len(err) == 1 and "notes.txt" in err[0] and "move them out" in err[0]
    assert (root / "saes" / "notes.txt").read_text() == "my notes"
