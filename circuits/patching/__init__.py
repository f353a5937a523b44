"""Patching methods (registry: circuits.patching.methods): batched activation patching, attribution patching (AtP)
and relevance patching (RelP).

The names below load on first use (PEP 562), so the torch-free registry (methods) can be imported by the configs
without importing torch through this package."""

from importlib import import_module

_EXPORTS = {"COMPONENTS": "components", "Component": "components", "component": "components",
            "PatchResult": "results", "load_results": "results", "save_results": "results"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
