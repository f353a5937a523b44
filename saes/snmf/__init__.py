"""SNMF of MLP activations (Shafran, Geiger & Geva 2025, docs/methods.md §3): the solver (full-batch reference and
streaming), its activation sources, the SNMF dictionary, and the `interp snmf` command."""
