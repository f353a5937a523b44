"""Config of `interp feature-pages` (free of torch so the CLI builds its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..options import CorpusOptions, Options, OutputOptions, RecordedModelOptions, RuntimeOptions, at_least


@dataclass
class PagesCorpusOptions(CorpusOptions):
    """The text to run the model on when no --cache is given."""

    corpus: str = ""
    """Without --cache: the text whose activations the pages show ('toyworld', 'python-docs', a .txt file or
    folder, .jsonl / .parquet, a datasets folder or hf:NAME); default: the toy world for the shipped toy models. Its
    activations at the dictionary's hook are cached in OUT/cache (resumable). Not allowed together with --cache. On a
    model of no toy world 'toyworld' is toy1's sentences as English text with each word's labels on the token that
    completes it, so the pages' concepts are scored on any model."""


@dataclass
class PagesOutput(OutputOptions):
    """Where the pages go."""

    out: str = ""
    """Folder for features.safetensors + features.json (and, with --corpus, the activation cache in OUT/cache)."""


@dataclass
class FeaturePagesConfig(Options):
    """Feature pages (examples by quantile bin, histograms, logits, concepts) of any dictionary folder."""

    dictionary: str = ""
    """Dictionary folder interp opens (an SAE in SAELens format of any registered architecture, or an SNMF
    folder)."""
    cache: str = ""
    """Activation cache (`interp cache`) holding the dictionary's hook; its model, weight processing and corpus are
    the pages'. Without it the model runs on --corpus."""
    tokens: int = 65_536
    """Without --cache: how many corpus tokens to cache and show."""
    examples_per_bin: int = 5
    """Examples shown per quantile bin of a feature's positive activations."""
    concept_tokens: int = 8192
    """Tokens sampled to score features as detectors of the corpus's ground-truth concepts (labelled corpora)."""
    seed: int = 0
    """Seed of the example samples (and of the toy-world text with --corpus toyworld)."""
    lm: RecordedModelOptions = field(default_factory=RecordedModelOptions)
    data: PagesCorpusOptions = field(default_factory=PagesCorpusOptions)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: PagesOutput = field(default_factory=PagesOutput)

    def __post_init__(self):
        if not self.dictionary:
            raise ValueError("give the dictionary folder with --dictionary DIR")
        if not self.output.out:
            raise ValueError("give the folder for the pages with --out DIR")
        if self.cache and self.data.corpus:
            raise ValueError("give either --cache DIR (activations already cached) or --corpus SPEC (run the model), "
                             "not both")
        at_least(1, tokens=self.tokens, examples_per_bin=self.examples_per_bin, concept_tokens=self.concept_tokens)
        at_least(0, seed=self.seed)
