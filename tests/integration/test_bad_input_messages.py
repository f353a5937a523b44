"""Bad input to every command, as classes (issue 24's "poor" outcomes): each case ends in exactly one line that names
the option or file at fault and the fix, never a traceback, and leaves every file that was there byte-identical.

The classes: a number out of its option's range (every int/float option is range-checked where its config is
built, naming that one option); a JSON file that does not parse (named, with line and column); an output path that
cannot be written (refused before any work); text fields that are not text; generation past the model's context;
an address the explorer cannot bind. Cases run in-process through `apps.cli.main` (stderr captured); parse-time
refusals exit 2, run-time ones return 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from snapshots import snapshot as _digest  # noqa: E402

from apps.cli import main  # noqa: E402

HOOK = "blocks.0.mlp.hook_post"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Pre-existing files the cases read or point at: a tiny SAE, broken JSON files, corpora whose text is not
    text, a file where a folder is expected."""
    from saes import build_sae, sae_config
    from saes import io as sae_io

    root = tmp_path_factory.mktemp("bad-input")
    sae_io.save(build_sae(sae_config("relu", d_in=512, d_sae=16, hook_name=HOOK, model_name="toy-gelu-s0")),
                root / "sae")
    broken = root / "broken-sae"
    broken.mkdir()
    (broken / "cfg.json").write_text('{"d_in": 512, "d_sae": ')
    (root / "cache").mkdir()
    (root / "cache" / "manifest.json").write_text('{"version": 1,')
    (broken / "sae_weights.safetensors").write_bytes((root / "sae" / "sae_weights.safetensors").read_bytes())
    (root / "broken.json").write_text("{not json")
    (root / "numbers.jsonl").write_text('{"text": 12345}\n{"text": 678}\n')
    (root / "a-file").write_text("mine")
    (root / "task.jsonl").write_text("not json at all\n")
    ws = root / "ws"
    ws.mkdir()
    (ws / "workspace.json").write_text("{broken")
    return root


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse and config __post_init__ refusals
        code = e.code
    return code, capsys.readouterr().err


# (id, argv with {d} for the inputs folder, exit code, substrings the one error line must hold)
CASES = [
    # ranges: every numeric option, named alone
    ("sparsity-ppl", ["sparsity", "--ppl", "150"], 2, ["--ppl 150", "must be in (0, 100)", "e.g. --ppl 1 5"]),
    ("snmf-tol", ["snmf", "--tol", "-1"], 2, ["--tol must be >= 0", "-1"]),
    ("snmf-eval-tokens", ["snmf", "--eval-tokens", "-5"], 2, ["--eval-tokens must be >= 0", "0: skip evaluation"]),
    ("snmf-seed", ["snmf", "--seed", "-3"], 2, ["--seed must be >= 0"]),
    ("snmf-top-m", ["snmf", "--top-m", "0"], 2, ["--top-m must be >= 1"]),
    ("snmf-checkpoint-every", ["snmf", "--checkpoint-every", "0"], 2, ["--checkpoint-every must be >= 1"]),
    ("snmf-patience", ["snmf", "--patience", "0"], 2, ["--patience must be >= 1, got 0"]),
    ("snmf-layer", ["snmf", "--layer", "-7"], 2, ["--layer must be >= -1", "middle layer"]),
    ("snmf-sparsity", ["snmf", "--sparsity", "1.5"], 2, ["--sparsity must be in (0, 1]"]),
    ("train-sae-eval-tokens", ["train-sae", "--eval-tokens", "-5"], 2, ["--eval-tokens must be >= 1, got -5"]),
    ("train-sae-log-every", ["train-sae", "--log-every", "0"], 2, ["--log-every must be >= 1, got 0"]),
    ("train-sae-checkpoint-every", ["train-sae", "--checkpoint-every", "-2"], 2, ["--checkpoint-every must be >= 0"]),
    ("train-sae-init-l0-above-d-sae", ["train-sae", "--arch", "jumprelu", "--d-sae", "64", "--init-l0", "500"], 2,
     ["--init-l0 500", "--d-sae 64", "give --init-l0 <= --d-sae"]),
    ("train-sae-data-seed", ["train-sae", "--data-seed", "-1"], 2, ["--data-seed must be >= 0"]),
    ("train-sae-seed", ["train-sae", "--seed", "-1"], 2, ["--seed must be >= 0"]),
    ("train-sae-d-sae", ["train-sae", "--d-sae", "0"], 2, ["--d-sae must be >= 1"]),
    ("train-sae-aux", ["train-sae", "--aux-coefficient", "-1"], 2, ["--aux-coefficient", ">= 0"]),
    ("train-sae-l1", ["train-sae", "--l1-coefficient", "-1"], 2, ["--l1-coefficient", ">= 0"]),
    ("train-sae-tokens-below-batch", ["train-sae", "--tokens", "100", "--batch-size", "256"], 2,
     ["--tokens 100 is less than one batch", "--batch-size 256"]),
    ("train-sae-lr-warmup", ["train-sae", "--lr-warmup", "2"], 2, ["--lr-warmup must be in [0, 1]"]),
    ("train-sae-warmup-plus-decay", ["train-sae", "--lr-warmup", "0.6", "--lr-decay", "0.6"], 2,
     ["--lr-warmup 0.6 plus --lr-decay 0.6", "lower one of them"]),
    ("train-sae-resample-until", ["train-sae", "--resample-until", "3"], 2, ["--resample-until must be in [0, 1]"]),
    ("train-sae-dead-window", ["train-sae", "--dead-window", "-1"], 2, ["--dead-window must be >= 0"]),
    ("train-sae-buffer-docs", ["train-sae", "--buffer-docs", "0"], 2, ["--buffer-docs must be >= 1"]),
    ("train-sae-init-threshold", ["train-sae", "--init-threshold", "-1"], 2, ["--init-threshold must be > 0"]),
    ("eval-sae-tokens", ["eval-sae", "--sae", "{d}/sae", "--tokens", "0"], 2, ["--tokens must be >= 1, got 0"]),
    ("eval-sae-ground-truth", ["eval-sae", "--sae", "{d}/sae", "--ground-truth-tokens", "-1"], 2,
     ["--ground-truth-tokens must be >= 0"]),
    ("eval-sae-seed", ["eval-sae", "--sae", "{d}/sae", "--seed", "-1"], 2, ["--seed must be >= 0"]),
    ("cache-shard-mb", ["cache", "--shard-mb", "0"], 2, ["--shard-mb must be >= 1, got 0"]),
    ("cache-seed", ["cache", "--seed", "-1"], 2, ["--seed must be >= 0"]),
    ("cache-n-ctx", ["cache", "--n-ctx", "1"], 2, ["--n-ctx must be >= 2"]),
    ("neurons-top-k", ["neurons", "--top-k", "0"], 2, ["--top-k must be >= 1, got 0"]),
    ("neurons-auroc-tokens", ["neurons", "--auroc-tokens", "-1"], 2, ["--auroc-tokens must be >= 0"]),
    ("universal-rotation-seed", ["universal", "--rotation-seed", "-1"], 2, ["--rotation-seed must be >= 0"]),
    ("universal-bigram-slots", ["universal", "--bigram-slots", "0"], 2, ["--bigram-slots must be >= 1"]),
    ("feature-pages-examples", ["feature-pages", "--dictionary", "{d}/sae", "--out", "{d}/pages-new",
                                "--examples-per-bin", "0"], 2, ["--examples-per-bin must be >= 1"]),
    ("feature-pages-seed", ["feature-pages", "--dictionary", "{d}/sae", "--out", "{d}/pages-new", "--seed", "-2"], 2,
     ["--seed must be >= 0"]),
    ("steer-feature-negative", ["steer", "--dictionary", "{d}/sae", "--feature", "-5", "--alpha", "1"], 2,
     ["--feature is a feature index", "must be >= 0, got -5"]),
    ("steer-feature-past-the-dictionary", ["steer", "--dictionary", "{d}/sae", "--feature", "99", "--alpha", "1"], 1,
     ["--feature 99", "has 16 features, valid indices 0..15"]),
    ("steer-neuron-past-the-layers", ["steer", "--neuron", "9:5", "--alpha", "1"], 1,
     ["--neuron 9:5", "layer 9 out of range", "0..3"]),
    ("steer-top-k", ["steer", "--neuron", "1:2", "--alpha", "1", "--top-k", "0"], 2, ["--top-k must be >= 1"]),
    ("steer-max-new-tokens", ["steer", "--neuron", "1:2", "--alpha", "1", "--max-new-tokens", "-1"], 2,
     ["--max-new-tokens must be >= 0"]),
    ("steer-alpha-max", ["steer", "--neuron", "1:2", "--kl-target", "0.5", "--alpha-max", "-1"], 2,
     ["--alpha-max must be > 0"]),
    ("steer-bench-n-docs", ["steer-bench", "--dictionaries", "{d}/sae", "--n-docs", "1"], 2,
     ["--n-docs must be >= 2, got 1"]),
    ("steer-bench-kl-budget", ["steer-bench", "--dictionaries", "{d}/sae", "--kl-budget", "0"], 2,
     ["--kl-budget must be > 0"]),
    ("patch-seed", ["patch", "--seed", "-1"], 2, ["--seed must be >= 0"]),
    ("patch-n-prompts", ["patch", "--n-prompts", "0"], 2, ["--n-prompts must be >= 1, got 0"]),
    ("patch-compare-max-memory", ["patch-compare", "--max-memory", "-1"], 2, ["--max-memory must be >= 0", "GB"]),
    ("workspace-seed", ["workspace", "build", "--out", "{d}/ws-new", "--seed", "-1"], 2, ["--seed must be >= 0"]),
    ("workspace-k-above-d-sae", ["workspace", "build", "--out", "{d}/ws-new", "--d-sae", "8", "--k", "16"], 2,
     ["--k 16 is more than --d-sae 8"]),
    ("workspace-snmf-tokens", ["workspace", "build", "--out", "{d}/ws-new", "--snmf-tokens", "10"], 2,
     ["--snmf-tokens must be >= 1024, got 10"]),
    ("toyworld-train-warmup", ["toyworld", "train", "--warmup-steps", "-1"], 2, ["--warmup-steps must be >= 0"]),
    ("toyworld-train-heads", ["toyworld", "train", "--n-heads", "0"], 2, ["--n-heads must be >= 1"]),
    ("toyworld-train-tokens", ["toyworld", "train", "--tokens", "10"], 2, ["--tokens 10 is less than one batch"]),
    ("toyworld-generate-seed", ["toyworld", "generate", "--seed", "-1"], 2, ["--seed must be >= 0"]),
    ("toyworld-eval-n-prompts", ["toyworld", "eval", "--n-prompts", "0"], 2, ["--n-prompts must be >= 1"]),
    ("explore-port", ["explore", "--port", "70000"], 2, ["--port must be in 1..65535"]),
    ("models-fetch-unknown", ["models", "fetch", "no-such-model"], 2, ["unknown model 'no-such-model'", "fetchable"]),
    ("ship-no-sae", ["dictionaries", "ship"], 2, ["give the trained SAE (or sweep) folder to ship with --sae FOLDER"]),
    ("ship-no-fingerprint", ["dictionaries", "ship", "--sae", "{d}/sae", "--out", "{d}/shipped"], 1,
     ["does not record the weights' fingerprint", "interp train-sae"]),
    ("ship-broken-cfg", ["dictionaries", "ship", "--sae", "{d}/broken-sae", "--out", "{d}/shipped"], 1,
     ["broken-sae/cfg.json is not valid JSON"]),
    ("ship-not-an-sae", ["dictionaries", "ship", "--sae", "{d}/cache", "--out", "{d}/shipped"], 1,
     ["holds no SAE", "--out folder of `interp train-sae`"]),
    ("ship-eval-tokens", ["dictionaries", "ship", "--sae", "{d}/sae", "--eval-tokens", "0"], 2,
     ["--eval-tokens must be >= 1"]),
    ("dictionaries-list-unknown-model", ["dictionaries", "list", "--model", "no-such-model"], 1,
     ["no-such-model is not a model dictionaries are shipped for", "toy-gelu-s0"]),
    ("shipped-unknown", ["eval-sae", "--sae", "shipped:no-such-dictionary"], 1,
     ["no shipped dictionary is named shipped:no-such-dictionary", "interp dictionaries list"]),
    # output paths: refused before any work
    ("cache-out-empty", ["cache", "--out", ""], 2, ["--out is empty", "give a folder path"]),
    ("train-sae-out-empty", ["train-sae", "--out", ""], 2, ["--out is empty"]),
    ("cache-out-under-a-file", ["cache", "--out", "{d}/a-file/cache"], 2, ["a-file, which is a file"]),
    ("train-sae-out-a-file", ["train-sae", "--out", "{d}/a-file"], 2, ["is an existing file, not a folder"]),
    ("eval-sae-out-under-a-file", ["eval-sae", "--sae", "{d}/sae", "--out", "{d}/a-file/e.json"], 2,
     ["a-file, which is a file", "--out"]),
    ("eval-sae-out-a-folder", ["eval-sae", "--sae", "{d}/sae", "--out", "{d}/sae"], 2,
     ["is a folder: give a file path"]),
    ("patch-compare-out-a-folder", ["patch-compare", "--out", "{d}/sae"], 2, ["is a folder: give a file path"]),
    ("workspace-out-an-sae", ["workspace", "build", "--out", "{d}/sae"], 2,
     ["holds an SAE (cfg.json), not a workspace"]),
    ("steer-bench-figure-a-folder", ["steer-bench", "--dictionaries", "{d}/sae", "--figure", "{d}/sae"], 2,
     ["--figure", "is a folder: give a file path"]),
    ("steer-bench-figure-under-a-file", ["steer-bench", "--dictionaries", "{d}/sae", "--figure", "{d}/a-file/f.html"],
     2, ["--figure", "a-file, which is a file"]),
    ("neurons-out-under-a-file", ["neurons", "--out", "{d}/a-file/n"], 2, ["which is a file"]),
    # JSON files that do not parse: named, with where
    ("eval-sae-broken-cfg", ["eval-sae", "--sae", "{d}/broken-sae"], 1,
     ["broken-sae/cfg.json is not valid JSON (Expecting value at line 1, column 24)", "train it again"]),
    ("steer-broken-dictionary", ["steer", "--dictionary", "{d}/broken-sae", "--feature", "0", "--alpha", "1"], 1,
     ["broken-sae/cfg.json is not valid JSON"]),
    ("train-sae-broken-cache-manifest", ["train-sae", "--cache", "{d}/cache", "--hook", HOOK, "--out", "{d}/sae-new"],
     1, ["cache/manifest.json is not valid JSON", "cache again"]),
    ("concept-table-broken-eval", ["concept-table", "--evals", "{d}/broken.json"], 1,
     ["broken.json is not valid JSON", "line 1, column 2"]),
    ("feature-pages-broken-dictionary", ["feature-pages", "--dictionary", "{d}/broken-sae", "--out",
                                         "{d}/pages-new"], 1, ["broken-sae/cfg.json is not valid JSON"]),
    ("workspace-broken-manifest", ["workspace", "build", "--out", "{d}/ws", "--steps", "cache"], 1,
     ["workspace.json is not valid JSON"]),
    ("patch-task-file-not-json", ["patch", "--task", "{d}/task.jsonl"], 1, ["task.jsonl"]),
    # text that is not text
    ("cache-jsonl-numbers", ["cache", "--corpus", "{d}/numbers.jsonl", "--tokens", "256", "--hooks", HOOK, "--out",
                             "{d}/cache-new"], 1, ["line 1's 'text' field holds int", "--text-column"]),
    # generation past the context; an address the explorer cannot bind
    ("steer-past-context", ["steer", "--neuron", "1:2", "--alpha", "1", "--prompt", "the cat " * 20,
                            "--max-new-tokens", "200"], 1,
     ["plus --max-new-tokens 200 is more than the model's context of 64", "give --max-new-tokens <= 23"]),
    ("explore-bad-address", ["explore", "--workspace", "{d}/ws", "--address", "not an ip!"], 1,
     ["--address 'not an ip!' is neither an IP address nor a host name", "127.0.0.1"]),
]


@pytest.mark.parametrize("argv, code, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_naming_the_fault(argv, code, needles, inputs, capsys, tmp_path, monkeypatch,
                                                one_torch_thread):
    monkeypatch.chdir(tmp_path)  # anything a case wrongly wrote into the current folder would show up here
    before = _digest(inputs)
    got, err = _run([a.replace("{d}", str(inputs)) for a in argv], capsys)
    lines = [ln for ln in err.splitlines() if ln.startswith("interp:")]
    assert got == code, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(n in lines[0] for n in needles), lines[0]
    assert _digest(inputs) == before and not any(tmp_path.iterdir())


def test_every_command_has_a_case():
    from apps.cli import all_commands

    covered = {" ".join(c[1][:2]) if c[1][0] in ("toyworld", "models", "workspace", "dictionaries") else c[1][0]
               for c in CASES}
    assert {c.name for c in all_commands()} <= covered


def test_json_errors_name_the_file(tmp_path):
    from interp.json_files import read_json

    (tmp_path / "x.json").write_text('{"a": 1,\n "b": }')
    with pytest.raises(ValueError, match=r"x.json is not valid JSON \(Expecting value at line 2, column 7\)"):
        read_json(tmp_path / "x.json")
    (tmp_path / "y.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="y.json is not a text"):
        read_json(tmp_path / "y.json")


def test_output_paths_are_checked_first_and_their_folders_made(inputs, tmp_path, capsys, one_torch_thread):
    """eval-sae --out in a folder that does not exist yet: the folder is made (the path was checked before the
    evaluation), instead of failing after the whole evaluation."""
    out = tmp_path / "missing" / "dir" / "e.json"
    assert main(["eval-sae", "--sae", str(inputs / "sae"), "--tokens", "256", "--ground-truth-tokens", "0",
                 "--out", str(out)]) == 0
    assert out.is_file() and "Traceback" not in capsys.readouterr().err


def test_patch_shows_progress(tmp_path, capsys, one_torch_thread):
    assert main(["patch", "--n-prompts", "4", "--components", "resid_pre", "--out", str(tmp_path / "p")]) == 0
    assert "activation patching" in capsys.readouterr().err  # the bar of prompts patched


NEGATIVE_MEANS_SOMETHING = {("neurons", "fire_threshold"), ("universal", "fire_threshold"), ("steer", "alpha")}
"""Numeric options where a large negative value is a valid setting (a threshold below zero, steering away)."""
REQUIRED = {"feature-pages": ["--dictionary", "x", "--out", "pages"], "steer": ["--neuron", "1:2", "--alpha", "1"],
            "steer-bench": ["--dictionaries", "x"], "eval-sae": ["--sae", "x"], "models fetch": ["smollm2-135m"]}
"""What each command needs besides the option under test, so that only that option can be at fault."""


def _numeric_options(cls) -> list[str]:
    import dataclasses
    import typing

    from interp.options import _nested_type

    hints, out = typing.get_type_hints(cls), []
    for f in dataclasses.fields(cls):
        nested = _nested_type(cls, f)
        if nested is not None:
            out += _numeric_options(nested)
        elif str(hints[f.name]) in ("<class 'int'>", "<class 'float'>", "int | None", "float | None", "list[int]",
                                    "list[float]") and not f.metadata.get("positional"):
            out.append(f.name)
    return out


def test_every_numeric_option_is_range_checked_naming_itself(capsys):
    """The class behind `--tol -1`, `--eval-tokens -5`: every int/float option of every command refuses a value far
    out of range when its config is built (exit 2, before any work), in one line that names that option."""
    from apps.cli import all_commands

    unchecked, misnamed, checked = [], [], 0
    for cmd in all_commands():
        for name in _numeric_options(cmd.config):
            if (cmd.name, name) in NEGATIVE_MEANS_SOMETHING:
                continue
            flag = "--" + name.replace("_", "-")
            code, err = _run([*cmd.name.split(), *REQUIRED.get(cmd.name, []), flag, "-1000000"], capsys)
            lines = [ln for ln in err.splitlines() if ln.startswith("interp:")]
            checked += 1
            if code != 2 or len(lines) != 1:
                unchecked.append(f"{cmd.name} {flag}")
            elif flag not in lines[0]:
                misnamed.append(f"{cmd.name} {flag}: {lines[0]}")
    assert checked > 100 and not unchecked and not misnamed, (unchecked, misnamed)
