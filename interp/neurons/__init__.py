"""MLP neuron analysis: streamed statistics, detectors, universal neurons (imports nothing heavy here)."""
