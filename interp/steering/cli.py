"""`interp steer`: build the direction, calibrate or take α, print base and steered generations side by side and
the tokens the direction promotes / suppresses; optionally save the steering artifact."""

from __future__ import annotations

from pathlib import Path

import torch
from transformer_lens import HookedTransformer

from interp import dictionary
from interp.models import check_hooks, load_model, prompt_tokens
from interp.provenance import check_hook, check_model, dictionary_record, model_record
from interp.runtime import start_run

from .apply import generate
from .calibration import calibrate
from .config import SteerConfig
from .io import save_steering
from .scores import token_change, vocab_proj
from .vectors import (
    SteeringVector,
    diff_in_means_concept,
    feature_vector,
    hook_shape,
    neuron_vector,
    parse_neuron,
    raw_vector,
)


def build_vector(model: HookedTransformer, cfg: SteerConfig) -> SteeringVector:
    """The steering vector the options describe (clear errors for bad indices, hooks and shapes)."""
    if cfg.hook:
        check_hooks(model, [cfg.hook])
    if cfg.dictionary:
        d = dictionary.load(cfg.dictionary)
        check_hook(cfg.hook, d.hook_name, f"the dictionary {cfg.dictionary}")
        return feature_vector(d, cfg.feature, model, name=cfg.dictionary)
    if cfg.neuron:
        return neuron_vector(model, *parse_neuron(cfg.neuron))
    if cfg.concept:
        return diff_in_means_concept(model, cfg.hook, cfg.concept)
    width = hook_shape(model, cfg.hook)
    if len(width) != 1 or not 0 <= cfg.feature < width[0]:
        raise ValueError(f"--feature {cfg.feature} out of range for hook {cfg.hook} of width {width}: valid "
                         f"0..{width[0] - 1}" if len(width) == 1 else f"hook {cfg.hook} is not flat: {width}")
    e = torch.zeros(width[0])
    e[cfg.feature] = 1.0
    return raw_vector(model, cfg.hook, e, basis_index=cfg.feature)


def _side_by_side(model: HookedTransformer, base, steered) -> list[str]:
    b = model.to_str_tokens(base.new_tokens)
    s = model.to_str_tokens(steered.new_tokens)
    w = max([len(t) for t in b] + [4])
    lines = [f"{'base':<{w}}  steered", f"{'-' * w}  {'-' * 7}"]
    for i in range(max(len(b), len(s))):
        bt, st = (b[i] if i < len(b) else ""), (s[i] if i < len(s) else "")
        lines.append(f"{bt:<{w}}  {st}{'' if bt == st else '   *'}")
    return lines


def main(cfg: SteerConfig) -> dict:
    if cfg.output.out:
        cfg.output.claim(*(Path(cfg.output.out) / f for f in ("steering.json", "steering.safetensors")))
    used = [dictionary_record(cfg.dictionary)] if cfg.dictionary else []
    model_name, processing = check_model(cfg.lm.model, cfg.lm.weight_processing, *used)
    model = load_model(model_name, start_run(cfg.run.device, cfg.run.threads).device, processing)
    vec = build_vector(model, cfg)
    prompt = prompt_tokens(model, cfg.prompt, "--prompt", cfg.max_new_tokens)
    record: dict = {}
    if cfg.kl_target is not None:
        cal = calibrate(model, vec, prompt, [cfg.kl_target], alpha_max=cfg.alpha_max)
        record["calibration"] = cal.to_json()
        pt = cal.points[0]
        if not pt.reached:
            raise ValueError(f"--kl-target {cfg.kl_target}: {pt.note}; raise --alpha-max or lower the target")
        alpha = float(pt.alpha)
        print(f"calibrated alpha = {alpha:.4g} (KL {pt.kl:.4g} at the last prompt token, target {cfg.kl_target})")
    else:
        alpha = float(cfg.alpha)
    base = generate(model, prompt, cfg.max_new_tokens, temperature=cfg.temperature, seed=cfg.seed)
    steered = generate(model, prompt, cfg.max_new_tokens, vec, alpha, cfg.temperature, cfg.seed)
    print(f"steering {model_name} ({processing} weight processing) along {vec.label()} with alpha = "
          f"{alpha:.4g}; prompt: {cfg.prompt!r}")
    print(f"base:    {base.text}\nsteered: {steered.text}\n")
    print("\n".join(_side_by_side(model, base, steered)))
    _, up, down = token_change(model, vec, steered.tokens[None], alpha, cfg.top_k)
    print(f"\npromoted (mean logit change):   {', '.join(f'{t} {v:+.2f}' for t, v in zip(up.tokens, up.values))}")
    print(f"suppressed (mean logit change): {', '.join(f'{t} {v:+.2f}' for t, v in zip(down.tokens, down.values))}")
    record.update(alpha=alpha, base=base.text, steered=steered.text, promoted=up.to_json(), suppressed=down.to_json())
    try:
        top, bottom = vocab_proj(model, vec, cfg.top_k)
        print(f"VocabProj top:    {', '.join(top.tokens)}\nVocabProj bottom: {', '.join(bottom.tokens)}")
        record.update(vocab_proj_top=top.to_json(), vocab_proj_bottom=bottom.to_json())
    except ValueError as e:  # hooks without a linear path to the logits
        print(f"VocabProj: {e}")
    if cfg.output.out:
        save_steering(cfg.output.out, [vec], [record], {**cfg.flat(), **model_record(model_name, processing)})
        print(f"wrote {cfg.output.out}/steering.json and steering.safetensors")
    return record
