"""Patching methods: batched activation patching, attribution patching (AtP) and relevance patching (RelP)."""

from .components import COMPONENTS, Component, component
from .results import PatchResult, load_results, save_results

__all__ = ["COMPONENTS", "Component", "PatchResult", "component", "load_results", "save_results"]
