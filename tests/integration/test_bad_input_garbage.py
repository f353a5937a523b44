"""Garbage in, numbers out: inputs that used to pass as text or as numbers and give results measured on garbage.

Each case runs a command in-process through the CLI's entry point and asserts its exit code, one line on stderr
naming the option or file and the fix (or, where the input is usable but suspect, rc 0 and a one-line warning with
the numbers), no traceback, and that the files that were there before are byte-identical after. The classes:
- files that are not UTF-8 text (binary, Latin-1, UTF-16) as a corpus, a task file or a concepts file: refused;
- text the model's tokenizer mostly does not know (corpora, prompts, task prompts, concepts): counted and warned;
- non-finite float options (nan, inf) of every command: refused, by the option's name;
- a degenerate patching metric (clean == corrupted, a tiny gap): an error or a warning with the numbers;
- --tokens past the disk, and more tokens than a finite corpus holds: refused before planning / said loudly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import typing
import warnings
from pathlib import Path

import pytest

from apps.cli import all_commands, main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from snapshots import snapshot as _digest  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENGLISH = ("The committee reviewed the quarterly budget and postponed its decision until further analysis of "
           "the infrastructure proposals was available.\n") * 40
PAIR = {"clean": "When Mary and John went to the store , John gave a drink to",
        "corrupted": "When Mary and John went to the store , Mary gave a drink to", "answer": "Mary", "wrong": "John"}
"""A task pair in the toy model's words."""


def _bytes_of_binary() -> bytes:
    return bytes(range(256)) * 16 + os.urandom(2048)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """The bad inputs, written once: every case checks they are byte-identical afterwards."""
    root = tmp_path_factory.mktemp("garbage")
    binary = _bytes_of_binary()
    (root / "binary.bin").write_bytes(binary)
    (root / "binary.txt").write_bytes(binary)
    (root / "corpus.txt.gz").write_bytes(b"\x1f\x8b\x08\x00" + binary)
    latin = "Le café crème était brûlé; naïve façade à l'hôtel.\n" * 40
    (root / "latin1.txt").write_bytes(latin.encode("latin-1"))
    (root / "utf16.txt").write_bytes(latin.encode("utf-16"))
    (root / "latin1.jsonl").write_bytes("".join(json.dumps({"text": ln}, ensure_ascii=False) + "\n"
                                                for ln in latin.splitlines()).encode("latin-1"))
    (root / "mixed").mkdir()
    (root / "mixed" / "a.txt").write_text("the cat sat\n" * 20)
    (root / "mixed" / "b.txt").write_bytes(latin.encode("latin-1"))
    (root / "english.txt").write_text(ENGLISH)
    (root / "short.txt").write_text("the cat saw the dog and the bird\n" * 120)  # ~1,000 tokens on the toy model
    # task files
    (root / "task-binary.jsonl").write_bytes(binary)
    (root / "task-latin1.csv").write_bytes(("clean,corrupted,answer,wrong\n" + ",".join(
        ["Le café de Mary", "Le café de John", "Mary", "John"]) + "\n").encode("latin-1"))
    (root / "task-utf16.jsonl").write_bytes((json.dumps(PAIR) + "\n").encode("utf-16"))
    (root / "task-same.jsonl").write_text(json.dumps({**PAIR, "corrupted": PAIR["clean"]}) + "\n")
    (root / "task-answer-is-wrong.jsonl").write_text(json.dumps({**PAIR, "wrong": PAIR["answer"]}) + "\n")
    unknown = {**PAIR, "clean": PAIR["clean"].replace("store", "xylophone emporium"),
               "corrupted": PAIR["corrupted"].replace("store", "xylophone emporium")}
    (root / "task-unknown.jsonl").write_text(json.dumps(unknown) + "\n")
    # concepts files
    (root / "concepts-binary.json").write_bytes(binary)
    (root / "concepts-latin1.json").write_bytes(json.dumps({"café": ["café", "crème"]},
                                                           ensure_ascii=False).encode("latin-1"))
    (root / "concepts-unknown.json").write_text(json.dumps({"animals": ["cat", "dog", "xylophone", "quasar",
                                                                        "zeppelin"]}))
    (root / "mine.txt").write_text("a file of the user's that nothing may touch")
    return root


def _run(argv: list[str], capsys) -> tuple[int, list[str], list[str]]:
    """(exit code, the stderr lines the CLI wrote as `interp: ...`, warning messages), after checking no traceback."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    lines = [ln for ln in out.err.splitlines() if ln.startswith("interp:")]
    return code, lines, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _refused(argv: list[str], files: Path, capsys, *words: str, code: int | None = None) -> str:
    """Run a case that must fail: one error line holding every word of `words`; the inputs untouched."""
    before = _digest(files)
    rc, lines, _ = _run(argv, capsys)
    assert rc != 0 and (code is None or rc == code), (rc, lines)
    errors = [ln for ln in lines if ln.startswith("interp: error") or ": error:" in ln]
    assert len(errors) == 1, lines
    assert all(w in errors[0] for w in words), (words, errors[0])
    assert _digest(files) == before
    return errors[0]


def _warned(argv: list[str], files: Path, capsys, *words: str) -> str:
    """Run a case that must succeed with a one-line warning holding every word of `words`; inputs untouched."""
    before = _digest(files)
    rc, lines, warned = _run(argv, capsys)
    assert rc == 0, lines
    hits = [w for w in warned if all(x in w for x in words)]
    assert hits and "\n" not in hits[0], (words, warned)
    assert _digest(files) == before
    return hits[0]


# --- files that are not text --------------------------------------------------------------------------------------

NOT_TEXT = {"binary.bin": "not a text file", "binary.txt": "not a text file", "corpus.txt.gz": "not a text file",
            "latin1.txt": "not UTF-8 text", "utf16.txt": "not a text file", "latin1.jsonl": "not UTF-8 text",
            "mixed": "not UTF-8 text"}
CORPUS_COMMANDS = {
    "cache": ["cache", "--tokens", "256", "--hooks", "blocks.0.mlp.hook_post"],
    "neurons": ["neurons", "--tokens", "2048"],
    "train-sae": ["train-sae", "--hook", "blocks.0.mlp.hook_post", "--d-sae", "32", "--tokens", "1024",
                  "--batch-size", "256", "--eval", "false", "--progress", "false"],
    "snmf": ["snmf", "--k", "4", "--tokens", "512"],
}


@pytest.mark.parametrize("name", list(NOT_TEXT))
@pytest.mark.parametrize("command", list(CORPUS_COMMANDS))
def test_a_corpus_that_is_not_utf8_text_is_refused(command, name, files, tmp_path, capsys):
    argv = [*CORPUS_COMMANDS[command], "--corpus", str(files / name), "--n-ctx", "32", "--out", str(tmp_path / "o")]
    line = _refused(argv, files, capsys, NOT_TEXT[name], "UTF-8", str(files / name) if name != "mixed" else "b.txt")
    assert "iconv" in line or "give a UTF-8 text file" in line
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("*.safetensors"))


@pytest.mark.parametrize("name, words", [
    ("task-binary.jsonl", ("task file", "not a text file")),
    ("task-latin1.csv", ("task file", "not UTF-8 text", "iconv")),
    ("task-utf16.jsonl", ("task file", "not a text file")),
])
@pytest.mark.parametrize("command", ["patch", "patch-compare"])
def test_a_task_file_that_is_not_utf8_text_is_refused(command, name, words, files, tmp_path, capsys):
    out = tmp_path / ("o" if command == "patch" else "o.json")
    _refused([command, "--task", str(files / name), "--out", str(out)], files, capsys, *words, str(files / name))
    assert not out.exists()


@pytest.mark.parametrize("name, words", [
    ("concepts-binary.json", ("--concepts", "not a text file")),
    ("concepts-latin1.json", ("--concepts", "not UTF-8 text")),
])
def test_a_concepts_file_that_is_not_utf8_text_is_refused(name, words, files, tmp_path, capsys):
    _refused(["neurons", "--tokens", "2048", "--concepts", str(files / name), "--out", str(tmp_path / "o")],
             files, capsys, *words, str(files / name))


# --- text the model does not know ---------------------------------------------------------------------------------

def test_english_on_a_toy_model_is_warned_about_with_its_share(files, tmp_path, capsys):
    line = _warned(["cache", "--tokens", "256", "--hooks", "blocks.0.mlp.hook_post", "--n-ctx", "32",
                    "--corpus", str(files / "english.txt"), "--out", str(tmp_path / "c")], files, capsys,
                   "english.txt", "does not know", "%", "toyworld")
    share = float(line.split("(")[1].split("%")[0])
    assert share > 2


def test_a_prompt_with_unknown_words_names_them(files, tmp_path, capsys):
    _warned(["steer", "--neuron", "2:5", "--alpha", "1", "--max-new-tokens", "2", "--prompt",
             "the cat saw a xylophone", "--out", str(tmp_path / "s")], files, capsys, "--prompt", "xylophone",
            "does not know")


def test_task_prompts_with_unknown_words_are_warned_about(files, tmp_path, capsys):
    _warned(["patch", "--task", str(files / "task-unknown.jsonl"), "--out", str(tmp_path / "p")], files, capsys,
            "task-unknown", "does not know", "%", "reword")


def test_concepts_most_of_whose_strings_are_not_tokens_are_warned_about(files, tmp_path, capsys):
    _warned(["neurons", "--tokens", "2048", "--n-ctx", "64", "--concepts", str(files / "concepts-unknown.json"),
             "--out", str(tmp_path / "n")], files, capsys, "concepts-unknown.json", "xylophone", "%")


# --- numbers that are not numbers ---------------------------------------------------------------------------------

NEEDS = {"steer": ["--neuron", "2:5"], "steer-bench": ["--dictionaries", "x"], "universal": ["--models", "a", "b"]}
"""What a command needs besides the option tried so that its own checks get as far as the option."""


def _float_options() -> list[tuple[str, str]]:
    """(command, option) for every float option of every command (read from the config dataclasses)."""
    def walk(cls) -> list[str]:
        hints, out = typing.get_type_hints(cls), []
        for f in dataclasses.fields(cls):
            if f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory()):
                out += walk(type(f.default_factory()))
            elif hints[f.name] in (float, float | None) or "[float" in str(hints[f.name]):
                out.append(f.name)
        return out
    return [(c.name, o) for c in all_commands() for o in walk(c.config)]


FLOAT_OPTIONS = _float_options()


@pytest.mark.parametrize("command, option", FLOAT_OPTIONS, ids=[f"{c}--{o}" for c, o in FLOAT_OPTIONS])
def test_a_nan_option_is_refused_by_name_for_every_command(command, option, files, capsys):
    flag = "--" + option.replace("_", "-")
    line = _refused([*command.split(), *NEEDS.get(command, []), flag, "nan"], files, capsys, "nan", code=2)
    assert flag in line or option in line  # the option named, as the CLI or the config spells it


@pytest.mark.parametrize("argv", [
    ["train-sae", "--arch", "jumprelu", "--init-threshold=inf"],
    ["train-sae", "--arch", "jumprelu", "--init-threshold=-inf"],
    ["snmf", "--tol=inf"],
    ["patch", "--max-memory=inf"],
    ["steer", "--neuron", "2:5", "--alpha=-inf"],
    ["toyworld", "train", "--weight-decay=inf"],
], ids=lambda a: " ".join(a))
def test_an_infinite_option_is_refused(argv, files, capsys):
    _refused(argv, files, capsys, "is not a finite number", "finite value", argv[-1].split("=")[0], code=2)


def test_clean_equal_to_corrupted_is_an_error_with_the_numbers(files, tmp_path, capsys):
    line = _refused(["patch", "--task", str(files / "task-same.jsonl"), "--out", str(tmp_path / "p")], files, capsys,
                    "same metric", "clean ", "corrupted ", "NaN", "give corrupted prompts")
    assert any(ch.isdigit() for ch in line) and not (tmp_path / "p" / "scores.safetensors").exists()


def test_answer_equal_to_wrong_is_a_degenerate_metric_error(files, tmp_path, capsys):
    _refused(["patch", "--task", str(files / "task-answer-is-wrong.jsonl"), "--out", str(tmp_path / "p")], files,
             capsys, "same metric", "NaN")
    assert not (tmp_path / "p" / "scores.safetensors").exists()


def test_a_tiny_clean_corrupted_gap_is_warned_about_with_the_numbers(files, tmp_path, capsys):
    task = tmp_path / "tiny-gap.jsonl"
    # the corrupted prompt changes a word the answer does not depend on: on toy-gelu-s0 the gap is about 0.01
    task.write_text(json.dumps({**PAIR, "corrupted": PAIR["clean"].replace("store", "park")}) + "\n")
    line = _warned(["patch", "--task", str(task), "--out", str(tmp_path / "p")], files, capsys, "differ by only",
                   "clean 14.9", "corrupted 14.9", "outside 0..1", "change the answer more")
    assert "0.0104" in line


# --- counts larger than the disk or the corpus --------------------------------------------------------------------

@pytest.mark.parametrize("tokens", ["999999999999999", str(10**12)])
def test_tokens_past_the_disk_are_refused_before_anything_is_planned(tokens, files, tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("mine")
    out = tmp_path / "c"
    _refused(["cache", "--tokens", tokens, "--hooks", "blocks.0.mlp.hook_post", "--out", str(out)], files, capsys,
             f"--tokens {int(tokens):,}", "GiB in all", "give fewer --tokens")
    assert not out.exists() and (tmp_path / "mine.txt").read_text() == "mine"


def test_snmf_tokens_past_the_memory_are_refused_before_anything_is_held(files, tmp_path, capsys):
    out = tmp_path / "s"
    _refused(["snmf", "--k", "4", "--tokens", "999999999999999", "--out", str(out)], files, capsys,
             "--tokens 999,999,999,999,999", "GiB of memory", "ask for fewer")
    assert not out.exists() or not any(out.rglob("*.safetensors"))


@pytest.mark.parametrize("argv", [
    ["cache", "--tokens", "5000", "--hooks", "blocks.0.mlp.hook_post"],
    ["neurons", "--tokens", "5000", "--split", "all"],
], ids=lambda a: a[0])
def test_more_tokens_than_a_finite_corpus_holds_says_so(argv, files, tmp_path, capsys):
    _warned([*argv, "--corpus", str(files / "short.txt"), "--n-ctx", "32", "--out", str(tmp_path / "o")], files,
            capsys, "short.txt", "holds only", "--tokens 5,000", "give more text")


def test_an_evaluation_on_a_corpus_shorter_than_its_tokens_says_so(files, tmp_path, capsys):
    from saes import build_sae, sae_config
    from saes import io as sae_io

    sae_io.save(build_sae(sae_config("relu", d_in=512, d_sae=16, hook_name="blocks.0.mlp.hook_post",
                                     model_name="toy-gelu-s0")), tmp_path / "sae")
    corpus = tmp_path / "numbered.txt"  # distinct lines: some of them fall in the held-out split
    corpus.write_text("".join(f"the cat saw the dog and the bird number {i}\n" for i in range(400)))
    _warned(["eval-sae", "--sae", str(tmp_path / "sae"), "--corpus", str(corpus), "--n-ctx", "32", "--tokens",
             "50000", "--out", str(tmp_path / "e.json")], files, capsys, "numbered.txt", "heldout split",
            "holds only", "the evaluation (50,000 tokens)", "give more text")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
