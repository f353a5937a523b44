"""Unit pages: what the explorer shows of one unit (a dictionary feature or an MLP neuron), precomputed.

- `builder`: the one page builder over a unit x token activation matrix (quantile-bin examples in context,
  histograms, VocabProj logit tables, concept AUROCs) and the constants every page shares (bins, bars, labels);
- `features`: feature pages of any dictionary (interp.dictionary), their artifact (features.safetensors +
  features.json, with provenance) and its validation;
- `config` / `command`: `interp feature-pages --dictionary DIR [--cache DIR | --corpus SPEC] --out DIR`.

Neuron pages (interp.neurons.pages) are built by the same builder.
"""
