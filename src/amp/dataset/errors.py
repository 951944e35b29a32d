"""The errors of amp.dataset: a specification refused, a store refused, a render that failed."""

from __future__ import annotations

from ..errors import AmpError

__all__ = ["DatasetError", "RenderArgumentError", "SpecError", "StoreError", "DatasetUnavailable", "require"]


class DatasetError(AmpError, RuntimeError):
    """A dataset render failed (a shard's task failed, or the cluster could not be reached)."""


class RenderArgumentError(AmpError, ValueError):
    """An argument of amp.dataset.render is not acceptable (a count that is not a whole number...)."""


class SpecError(AmpError, ValueError):
    """A dataset specification is not acceptable; the message names the key, as a path."""


class StoreError(AmpError, ValueError):
    """A store is not the one this specification renders into: foreign, corrupt or of another shape."""


class DatasetUnavailable(AmpError, ImportError):
    """A package amp.dataset needs is not installed."""


def require(module: str):
    """Imports `module`, or says which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DatasetUnavailable(f"amp.dataset needs {module.split('.')[0]} ({exc}); install it with "
                                 "pip install 'amp-synth[dataset]'") from None
