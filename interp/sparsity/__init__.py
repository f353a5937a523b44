"""Activation sparsity measured as the sparsity papers measure it (`interp sparsity`): one module per measure family
(zeros, magnitude, ppl, hotcold, dormant, massive), the streaming run (run.py) and its artifact (artifacts.py)."""
