"""The `interp` CLI: generated from config dataclasses, every command's help works, bad input is one clear line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from apps.cli import all_commands, build_parser, main

INTERP = [sys.executable, "-m", "apps.cli"]


def test_every_command_has_help_from_its_config_docstrings(capsys):
    for cmd in all_commands():
        with pytest.raises(SystemExit) as e:
            main(cmd.name.split() + ["--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert f"interp {cmd.name}" in out
        import dataclasses

        for f in dataclasses.fields(cmd.config):
            assert "--" + f.name.replace("_", "-") in out, (cmd.name, f.name)


def test_options_become_config_fields():
    parser = build_parser(all_commands())
    args = parser.parse_args(["toyworld", "train", "--seed", "3", "--act", "relu", "--d-model", "64"])
    assert (args.config.seed, args.config.act, args.config.d_model) == (3, "relu", 64)
    with pytest.raises(SystemExit):
        parser.parse_args(["toyworld", "train", "--act", "tanh"])


def test_generate_writes_a_labelled_corpus(tmp_path):
    out = tmp_path / "c"
    r = subprocess.run(INTERP + ["toyworld", "generate", "--tokens", "3000", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    data = np.load(out / "corpus.npz")
    assert data["tokens"].size >= 3000 and data["labels"].shape[:2] == data["tokens"].shape


def test_invalid_values_give_one_clear_line_not_a_traceback():
    r = subprocess.run(INTERP + ["toyworld", "generate", "--tokens", "0"], capture_output=True, text=True)
    assert r.returncode == 2 and "tokens must be >= 1" in r.stderr and "Traceback" not in r.stderr


def test_building_the_parser_does_not_load_torch():
    """`interp --help` must stay instant: configs are import-light, the heavy modules load only when a command runs."""
    code = ("import sys, apps.cli as c; c.build_parser(c.all_commands()); "
            "print(sorted(m for m in ('torch', 'transformer_lens', 'streamlit') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
