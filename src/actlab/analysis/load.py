"""Loading a user's model for ``actlab audit``: safe formats only, unless told otherwise.

    package.module:function   an importable factory called with no arguments
    FILE.pt2                  a torch.export archive
    FILE.onnx                 an ONNX graph, run with onnxruntime (an OnnxFunction, not a module)
    hf:FOLDER                 a Hugging Face model folder (config.json + weights), with transformers
    FILE (TorchScript)        a torch.jit.save archive
Arbitrary pickles (torch.save of a whole model) run code when loaded: refused unless
``trust_pickle``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import warnings
from typing import Any

import torch
from torch import nn

from .. import onnx_model
from ..onnx_model import is_onnx_path
from ._exported import FixedBatch, from_exported

__all__ = ["load_model", "load_hf", "HFEmbeds", "SAFE_FORMATS"]

SAFE_FORMATS = ("a factory 'package.module:function', a torch.export file (.pt2), an ONNX file (.onnx), "
                "hf:FOLDER or a TorchScript file")


class HFEmbeds(nn.Module):
    """A Hugging Face model fed floating-point inputs: ``inputs_embeds`` (text models: one input is
    (tokens, hidden size)) or ``pixel_values`` (vision models); returns the last hidden state."""

    shape_is_default = True  # in_shape is a default (16 tokens): --input-shape may change it

    def __init__(self, model: nn.Module, key: str, in_shape: tuple[int, ...]):
        super().__init__()
        self.model, self.key, self.in_shape = model, key, in_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(**{self.key: x})
        return out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]


def load_hf(folder: str) -> HFEmbeds:
    """A local Hugging Face model folder (nothing is downloaded), wrapped as ``HFEmbeds``."""
    try:
        import transformers
    except ImportError:
        raise ValueError("hf:FOLDER needs transformers: pip install transformers") from None
    if not os.path.isfile(os.path.join(folder, "config.json")):
        raise ValueError(f"hf:{folder}: expected a folder with config.json and weights, got no {os.path.join(folder, 'config.json')}")
    try:
        model = transformers.AutoModel.from_pretrained(folder, local_files_only=True).eval()
    except Exception as exc:
        raise ValueError(f"hf:{folder}: transformers could not load it: {type(exc).__name__}: {str(exc)[:200]}") from None
    cfg = model.config
    params = inspect.signature(model.forward).parameters
    if "pixel_values" in params and getattr(cfg, "image_size", None):
        size = cfg.image_size if isinstance(cfg.image_size, int) else cfg.image_size[0]
        return HFEmbeds(model, "pixel_values", (getattr(cfg, "num_channels", 3), size, size))
    if "inputs_embeds" in params and getattr(cfg, "hidden_size", None):
        return HFEmbeds(model, "inputs_embeds", (16, cfg.hidden_size))  # 16 tokens by default
    raise ValueError(f"hf:{folder}: a {type(model).__name__} takes neither inputs_embeds nor pixel_values")


def load_model(spec: str, trust_pickle: bool = False) -> Any:
    """The model ``spec`` names (see the module docstring): an ``nn.Module``, or an
    ``OnnxFunction`` for an .onnx file. ``ValueError`` naming what was expected otherwise."""
    if spec.startswith("hf:"):
        return load_hf(spec[3:])
    if is_onnx_path(spec):
        if not os.path.exists(spec):
            raise ValueError(f"no such file: {spec!r}; expected {SAFE_FORMATS}")
        try:
            return onnx_model.load(spec)
        except ImportError as exc:
            raise ValueError(str(exc)) from None
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
                model = from_exported(torch.export.load(spec))
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
    return model if isinstance(model, (torch.fx.GraphModule, FixedBatch)) else model.eval()  # exported graphs refuse eval()
