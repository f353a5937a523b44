"""`interp patch` on your own model: task files, mixed prompt lengths, IOI from the model's vocabulary, one-line
errors for bad input, and chunking under --max-memory. Tiny random Hugging Face models with a byte-level BPE
tokenizer are built at test time (tests/tiny_models.py); the tokenizer is trained on IOI-like text so that a dozen
first names are single tokens."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import torch
import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import bpe_tokenizer, tiny_model  # noqa: E402

from apps.cli import main  # noqa: E402
from circuits.patching.activation import generic_activation_patch  # noqa: E402
from circuits.patching.components import COMPONENTS  # noqa: E402
from circuits.patching.memory import estimate_memory  # noqa: E402
from circuits.patching.results import load_results  # noqa: E402
from circuits.patching.run import patch_task  # noqa: E402
from circuits.tasks import TaskGroups, as_groups, classic_ioi_task, file_task  # noqa: E402
from interp.models import load_model, model_fingerprint  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = "Mary John Alice Bob Sarah Tom Emma James Lucy Peter Paul Amy".split()
LONG = "When {a} and {b} went to the store, {c} gave a drink to"
SHORT = "Then {a} and {b} walked home, {c} said to"


def _names_corpus(folder: Path) -> Path:
    rng = random.Random(0)
    lines = []
    for _ in range(600):
        a, b = rng.sample(NAMES, 2)
        lines.append(f"When {a} and {b} went to the store, {b} gave a drink to {a}. Then {a} walked home, {b} said "
                     f"hello.")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.txt").write_text("\n".join(lines) + "\n")
    return folder / "corpus.txt"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """family -> folder of a tiny random model whose tokenizer has single-token names; "plain": one without."""
    root = tmp_path_factory.mktemp("your-models")
    tok = bpe_tokenizer(root / "tok", _names_corpus(root / "text"))
    out = {family: tiny_model(family, root / family, tok) for family in ("gpt2", "llama")}
    out["plain"] = tiny_model("gpt2", root / "plain")  # trained on text whose names are several tokens
    return out


def _pair(template: str, io: str, s: str, abc: tuple[str, str, str]) -> dict:
    return {"clean": template.format(a=io, b=s, c=s), "corrupted": template.format(a=abc[0], b=abc[1], c=abc[2]),
            "answer": f" {io}", "wrong": f" {s}"}


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(n_long: int, n_short: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n_long + n_short):
        io, s, x, y, z = rng.sample(NAMES, 5)
        rows.append(_pair(LONG if i < n_long else SHORT, io, s, (x, y, z)))
    return rows


def _patch(capsys, *args: str) -> tuple[int, str, str]:
    """Return code, stdout and the error lines of stderr (transformers' loading bars are not errors)."""
    code = main(["patch", "--threads", "1", *args])
    captured = capsys.readouterr()
    return code, captured.out, "\n".join(line for line in captured.err.splitlines() if "interp: error" in line)


@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize("method", ["activation", "attribution"])
def test_task_file_end_to_end(models, tmp_path, capsys, family, method):
    task_file = _write_jsonl(tmp_path / "pairs.jsonl", _rows(4, 0))
    out = tmp_path / "out"
    code, stdout, err = _patch(capsys, "--model", str(models[family]), "--task", str(task_file), "--method", method,
                               "--components", "resid_pre", "head_out", "--out", str(out))
    assert code == 0, err
    assert str(models[family]) in stdout and "pairs.jsonl" in stdout  # the summary line names model and task
    summary = json.loads((out / "summary.json").read_text())
    prov = summary["provenance"]
    assert prov["model"] == {"name": str(models[family]), "weight_processing": "default",
                             "fingerprint": model_fingerprint(str(models[family]))}
    assert prov["task"]["xxh3_128"] == xxhash.xxh3_128(task_file.read_bytes()).hexdigest()
    assert prov["task"]["file"] == str(task_file.resolve()) and prov["task"]["rows"] == 4
    res = load_results(out)
    assert res["resid_pre"].scores.shape[0] == 2 and res["head_out"].scores.shape == (2, 4)
    assert res["resid_pre"].labels["pos"][-1] == "END" and torch.isfinite(res["resid_pre"].scores).all()


def test_mixed_lengths_equal_patching_each_group(models, tmp_path, capsys):
    task_file = _write_jsonl(tmp_path / "mixed.jsonl", _rows(3, 2, seed=1))
    out = tmp_path / "out"
    code, _, err = _patch(capsys, "--model", str(models["gpt2"]), "--task", str(task_file), "--components",
                          "resid_pre", "head_out", "--out", str(out))
    assert code == 0, err
    model = load_model(str(models["gpt2"]))
    task, _ = file_task(model, task_file)
    assert isinstance(task, TaskGroups) and [g.n_prompts for g in task.groups] == [2, 3]
    combined = load_results(out)
    change = {"resid_pre": 0.0, "head_out": 0.0}
    clean = corrupted = 0.0
    for i, group in enumerate(task.groups):
        saved = load_results(out, group=i)
        w = group.n_prompts / task.n_prompts
        for name in change:
            alone = generic_activation_patch(model, group, COMPONENTS[name])
            torch.testing.assert_close(saved[name].scores, alone.scores, atol=1e-5, rtol=1e-5)
            raw = generic_activation_patch(model, group, COMPONENTS[name], normalise=False)
            delta = raw.scores - raw.baselines.corrupted
            if name == "resid_pre":  # positions aligned at the end: the shorter group has no first positions
                delta = torch.nn.functional.pad(delta, (combined[name].scores.shape[1] - delta.shape[1], 0))
            change[name] = change[name] + w * delta
        clean, corrupted = clean + w * raw.baselines.clean, corrupted + w * raw.baselines.corrupted
    assert combined["resid_pre"].baselines.clean == pytest.approx(clean, abs=1e-5)
    for name in change:
        torch.testing.assert_close(combined[name].scores, change[name] / (clean - corrupted), atol=1e-5, rtol=1e-5)
    assert combined["resid_pre"].labels["pos"][-1] == "END"


BAD = {
    "missing column": ('{"clean": "When Mary and John went", "corrupted": "When Alice and Bob went", "answer": " Mary"}'
                       "\n", "no 'wrong'"),
    "multi-token answer": (json.dumps(_pair(LONG, "Mary", "John", ("Alice", "Bob", "Tom")) | {"answer": " Mary Alice"})
                           + "\n", "answer ' Mary Alice' is 2 tokens"),
    "empty file": ("\n", "holds no prompt pairs"),
    "pair lengths": (json.dumps(_pair(LONG, "Mary", "John", ("Alice", "Bob", "Tom"))
                                | {"corrupted": "When Alice and Bob went home, Tom said to"}) + "\n",
                     "reword the corrupted prompt"),
    "not json": ("clean,corrupted\n", "is not JSON"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_task_file_is_one_line_and_writes_nothing(models, tmp_path, capsys, case):
    text, expected = BAD[case]
    task_file = tmp_path / "bad.jsonl"
    task_file.write_text(text)
    out = tmp_path / "out"
    code, _, err = _patch(capsys, "--model", str(models["gpt2"]), "--task", str(task_file), "--out", str(out))
    assert code == 1 and expected in err and str(task_file) in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_bad_csv_header_names_the_fix(models, tmp_path, capsys):
    task_file = tmp_path / "bad.csv"
    task_file.write_text("clean,corrupted,answer\nWhen Mary and John went,When Alice and Bob went, Mary\n")
    code, _, err = _patch(capsys, "--model", str(models["gpt2"]), "--task", str(task_file), "--out",
                          str(tmp_path / "out"))
    assert code == 1 and "no column(s) wrong" in err and len(err.strip().splitlines()) == 1


def test_csv_task_file_equals_jsonl(models, tmp_path):
    import csv

    rows = _rows(2, 1, seed=3)
    with (tmp_path / "pairs.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["clean", "corrupted", "answer", "wrong"])
        writer.writeheader()
        writer.writerows(rows)
    model = load_model(str(models["gpt2"]))
    from_csv, _ = file_task(model, tmp_path / "pairs.csv")
    from_jsonl, _ = file_task(model, _write_jsonl(tmp_path / "pairs.jsonl", rows))
    for a, b in zip(as_groups(from_csv), as_groups(from_jsonl)):
        assert torch.equal(a.clean, b.clean) and torch.equal(a.answer, b.answer) and torch.equal(a.wrong, b.wrong)


def test_builtin_ioi_draws_names_from_the_vocabulary(models, tmp_path, capsys):
    code, stdout, err = _patch(capsys, "--model", str(models["gpt2"]), "--task", "ioi", "--n-prompts", "8",
                               "--method", "attribution", "--out", str(tmp_path / "padded"))
    assert code == 0, err
    padded_summary = json.loads((tmp_path / "padded" / "summary.json").read_text())
    assert padded_summary["provenance"]["batching"]["padded"] and "left-padded into one batch" in stdout
    out = tmp_path / "ioi"
    code, stdout, err = _patch(capsys, "--model", str(models["gpt2"]), "--task", "ioi", "--n-prompts", "8",
                               "--method", "attribution", "--batching", "groups", "--out", str(out))
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert not summary["provenance"]["batching"]["padded"]
    assert summary["provenance"]["task"]["name"] == "ioi" and "ioi" in stdout
    model = load_model(str(models["gpt2"]))
    task = classic_ioi_task(model, n=8)
    groups = as_groups(task)
    assert sum(g.n_prompts for g in groups) == 8 and len(summary["groups"]) == len(groups)
    names = {model.to_single_token(f" {n}") for n in NAMES}
    for g in groups:
        assert set(g.answer.tolist()) <= names and (g.answer != g.wrong).all()
        assert g.pos_labels[-1] == "END" and {"N1", "N2", "S2"} <= set(g.pos_labels)
        s2 = g.pos_labels.index("S2")
        assert (g.clean[:, s2] == g.wrong).all()  # the repeated subject is the wrong answer


def test_builtin_ioi_without_single_token_names_is_clear(models, tmp_path, capsys):
    code, _, err = _patch(capsys, "--model", str(models["plain"]), "--task", "ioi", "--out", str(tmp_path / "o"))
    assert code == 1 and "single tokens of this model" in err and "--task FILE" in err
    assert not (tmp_path / "o").exists()


def test_toy_world_tasks_refuse_other_models(models, tmp_path, capsys):
    code, _, err = _patch(capsys, "--model", str(models["gpt2"]), "--task", "gender", "--out", str(tmp_path / "o"))
    assert code == 1 and "toy world" in err and "--task ioi" in err and "--task FILE" in err


@pytest.mark.parametrize("method", ["activation", "attribution", "relp"])
def test_chunks_under_a_small_budget_equal_one_run(models, tmp_path, method):
    model = load_model(str(models["gpt2"]))
    task, _ = file_task(model, _write_jsonl(tmp_path / "pairs.jsonl", _rows(6, 5, seed=2)))  # two lengths
    comps = ["resid_pre", "head_out", "mlp"]
    est = estimate_memory(model, method, comps, max(g.n_pos for g in as_groups(task)))
    budget = est.weights + 2 * (est.per_prompt + est.per_row) + est.per_row  # <= 2 prompts a chunk
    for normalise in (False, True):
        whole = patch_task(model, task, method, comps, normalise=normalise)
        chunked = patch_task(model, task, method, comps, normalise=normalise, max_memory=budget)
        assert whole.chunks == 2 and chunked.chunks >= 6
        for name in comps:
            want = whole.results[name].scores
            # a random model's clean and corrupted metrics differ by ~1e-3: normalising scales rounding up ~1e3-fold
            tol = 1e-6 * float(want.abs().max()) if not normalise else 1e-3
            torch.testing.assert_close(chunked.results[name].scores, want, atol=tol, rtol=1e-4)
            assert chunked.results[name].labels == whole.results[name].labels


def test_max_memory_chunks_and_refuses_from_the_cli(models, tmp_path, capsys):
    task_file = _write_jsonl(tmp_path / "pairs.jsonl", _rows(6, 0, seed=4))
    model = load_model(str(models["gpt2"]))
    est = estimate_memory(model, "attribution", ["resid_pre"], as_groups(file_task(model, task_file)[0])[0].n_pos)
    runs = {}
    for name, gb in (("whole", 0), ("chunked", (est.weights + 2.5 * est.per_prompt) / 1e9)):
        code, stdout, err = _patch(capsys, "--model", str(models["gpt2"]), "--task", str(task_file), "--method",
                                   "attribution", "--components", "resid_pre", "--max-memory", str(gb), "--out",
                                   str(tmp_path / name))
        assert code == 0, err
        runs[name] = load_results(tmp_path / name)["resid_pre"].scores
    assert json.loads((tmp_path / "chunked" / "summary.json").read_text())["provenance"]["memory"]["chunks"] == 3
    torch.testing.assert_close(runs["chunked"], runs["whole"], atol=1e-5, rtol=1e-4)
    code, _, err = _patch(capsys, "--model", str(models["gpt2"]), "--task", str(task_file), "--max-memory", "1e-6",
                          "--out", str(tmp_path / "refused"))
    assert code == 1 and "raise --max-memory" in err and not (tmp_path / "refused").exists()


THIRD = "Afterwards {a} and {b} had a long talk, and {c} wrote a letter to"


@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize("method", ["activation", "attribution", "relp"])
def test_padded_batch_equals_groups_patched_apart(models, tmp_path, family, method):
    """Prompts of three lengths, left-padded into one batch with an attention mask, give the numbers of the
    length groups patched one by one and combined (rotary and learned positions, every component kind)."""
    model = load_model(str(models[family]))
    rows = _rows(2, 2, seed=5)
    rng = random.Random(6)
    for _ in range(2):
        io, s, x, y, z = rng.sample(NAMES, 5)
        rows.append(_pair(THIRD, io, s, (x, y, z)))
    task, _ = file_task(model, _write_jsonl(tmp_path / "three.jsonl", rows))
    assert isinstance(task, TaskGroups) and len({g.n_pos for g in task.groups}) == 3
    comps = ["resid_pre", "attn_out", "mlp_out", "head_out", "head_out_by_pos"]
    apart = patch_task(model, task, method, comps, normalise=False, batching="groups")
    padded_run = patch_task(model, task, method, comps, normalise=False, batching="padded")
    assert len(apart.groups) == 3 and len(padded_run.groups) == 1
    assert padded_run.groups[0].n_prompts == task.n_prompts
    for name in comps:
        want, got = apart.results[name], padded_run.results[name]
        assert got.scores.shape == want.scores.shape and got.labels == want.labels
        tol = 1e-5 * float(want.scores.abs().max())
        torch.testing.assert_close(got.scores, want.scores, atol=tol, rtol=1e-4)
        assert got.baselines.clean == pytest.approx(want.baselines.clean, abs=1e-5)


def test_batching_choice_is_checked(models):
    model = load_model(str(models["gpt2"]))
    task = classic_ioi_task(model, n=6)
    with pytest.raises(ValueError, match="batching must be one of auto, padded, groups"):
        patch_task(model, task, "attribution", ["resid_pre"], batching="pad")


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_classic_ioi_groups_know_their_roles(models, family):
    """Each prompt of the classic IOI task records the token positions of IO, S1, S2 and END, so the head-role
    evidence runs on any model (on prompts of several lengths, group by group)."""
    from circuits.discovery import head_evidence

    model = load_model(str(models[family]))
    task = classic_ioi_task(model, n=10, seed=3)
    for group in as_groups(task):
        for i in range(group.n_prompts):
            words = model.to_str_tokens(group.clean[i])
            io, s = model.to_string(group.answer[i:i + 1]), model.to_string(group.wrong[i:i + 1])
            assert words[group.roles["io"][i]] == io and words[group.roles["s1"][i]] == s
            assert words[group.roles["s2"][i]] == s and group.roles["end"][i] == group.n_pos - 1
            assert group.roles["io"][i] != group.roles["s1"][i]
        ev = head_evidence(model, group, group.roles)
        shape = (model.cfg.n_layers, model.cfg.n_heads)
        assert ev.end_to_io.shape == shape and ev.dla.shape == shape and torch.isfinite(ev.dla).all()
        assert ((ev.s2_to_s1 >= 0) & (ev.s2_to_s1 <= 1)).all()
    half = as_groups(task)[0].subset(slice(0, 1))
    assert set(half.roles) == {"io", "s1", "s2", "end"} and half.roles["io"].shape == (1,)
