"""Loading a user's model for ``actlab audit``: safe formats only, unless told otherwise.

    package.module:function   an importable factory called with no arguments
    FILE.pt2                  a torch.export archive
    FILE (TorchScript)        a torch.jit.save archive
Arbitrary pickles (torch.save of a whole model) run code when loaded: refused unless
``trust_pickle``.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

import torch
from torch import nn

__all__ = ["load_model", "SAFE_FORMATS"]

SAFE_FORMATS = "a factory 'package.module:function', a torch.export file (.pt2) or a TorchScript file"


def load_model(spec: str, trust_pickle: bool = False) -> nn.Module:
    if ":" in spec and not os.path.exists(spec):
        mod_name, _, fn_name = spec.partition(":")
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # like `python -m`: modules in the current folder import
        try:
            module = importlib.import_module(mod_name)
        except ImportError as exc:
            raise ValueError(f"cannot import {mod_name!r} for {spec!r}: {exc}") from None
        factory = getattr(module, fn_name, None)
        if not callable(factory):
            raise ValueError(f"{mod_name!r} has no callable {fn_name!r}")
        try:
            model = factory()
        except Exception as exc:
            raise ValueError(f"the factory {spec!r} raised {type(exc).__name__}: {exc}") from None
    elif not os.path.exists(spec):
        raise ValueError(f"no such file: {spec!r}; expected {SAFE_FORMATS}")
    elif spec.endswith(".pt2"):
        try:
            with warnings.catch_warnings():  # torch's own deprecation chatter while unpickling specs
                warnings.simplefilter("ignore", FutureWarning)
                model = torch.export.load(spec).module()
        except Exception as exc:
            raise ValueError(f"{spec!r} is not a readable torch.export archive: {exc}") from None
    else:
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated in torch ≥ 2.10, still loadable
                warnings.simplefilter("ignore", DeprecationWarning)
                model = torch.jit.load(spec, map_location="cpu")
        except Exception:
            if not trust_pickle:
                raise ValueError(
                    f"{spec!r} is not TorchScript; loading a pickle runs code from the file, so it is refused. "
                    f"Use {SAFE_FORMATS}, or pass --trust-pickle if you trust the file"
                ) from None
            try:
                model = torch.load(spec, map_location="cpu", weights_only=False)
            except Exception as exc:
                raise ValueError(f"cannot load {spec!r}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise ValueError(f"{spec!r} gave a {type(model).__name__}, expected a torch.nn.Module")
    return model.eval() if not isinstance(model, torch.fx.GraphModule) else model
