"""Bad toy-world input is a one-line error naming the problem and the fix (issue 16, item 5)."""

from __future__ import annotations

import math

import pytest

from apps.cli import main
from interp.worlds.toy.corpus import CorpusConfig
from interp.worlds.toy2.ioi import ioi_prompts

BAD = [
    (dict(world="toy2", mix={"stroy": 1.0}), r"unknown toy2 family stroy in mix; valid: story, dialogue"),
    (dict(mix={"story": 1.0}), r"unknown toy1 family story in mix; valid: narrative"),
    (dict(world="toy2", mix={"ioi": -1.0}), r">= 0 with a positive sum.*none below"),
    (dict(world="toy2", mix={f: 0.0 for f in ("story", "dialogue", "ioi", "fact", "count", "agree", "coref", "list",
                                             "repeat")}), r"positive sum"),
    (dict(world="toy2", mix={"fact": math.nan}), r">= 0"),
    (dict(ioi=0.0, narrative=0.0, fact=0.0, count=0.0, listing=0.0, repeat=0.0), r"positive sum"),
    (dict(world="toy2", ioi=0.5), r"ioi= are toy1 family weights; for toy2 give them as mix="),
    (dict(world="toy2", ioi_forms=("met+later",)), r"met\+later are held out.*split='heldout'"),
    (dict(world="toy2", ioi_forms=("met+nothing",)), r"unknown IOI form\(s\) met\+nothing: a form is intro\+transfer"),
    (dict(ioi_forms=("met+plain",)), r"toy2 IOI forms; toy1 has fixed templates"),
    (dict(world="toy3"), r"unknown toy world 'toy3'; valid: toy1, toy2"),
]


@pytest.mark.parametrize("kwargs,message", BAD)
def test_bad_corpus_configs_fail_with_one_clear_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as e:
        CorpusConfig(**kwargs)
    assert "\n" not in str(e.value)


def test_heldout_forms_are_fine_for_the_heldout_split_and_prompts():
    assert CorpusConfig(world="toy2", split="heldout", ioi_forms=("met+later",)).ioi_forms == ("met+later",)
    with pytest.raises(ValueError, match="held out"):
        ioi_prompts(2, kind="train", form="met+later")
    with pytest.raises(ValueError, match="unknown IOI prompt kind"):
        ioi_prompts(2, kind="test")


@pytest.mark.parametrize("args,message", [
    (["--world", "toy2", "--mix", "stroy=1"], "unknown toy2 family stroy"),
    (["--world", "toy2", "--mix", "ioi"], "--mix entry 'ioi' is not family=weight: write e.g. --mix ioi=0.5,story=0"),
    (["--world", "toy2", "--ioi-forms", "met+later"], "held out and never used for training"),
])
def test_the_generate_command_reports_bad_options_in_one_line(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["toyworld", "generate", *args, "--tokens", "256", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c").exists()
