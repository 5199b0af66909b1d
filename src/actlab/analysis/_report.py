"""What an audit returns: one row per module (or ONNX node) and the verdict on the whole."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from ..affine import AffineMap

__all__ = ["ModuleRow", "AuditReport"]


@dataclass(frozen=True)
class ModuleRow:
    name: str  # qualified name ("" is the whole model)
    type: str
    affine: bool | None  # None: not decided (see reason)
    residual: float | None  # combination-test residual; None when decided without a test
    tolerance: float | None
    owns_nonlinearity: bool  # nonlinear while all its called children are affine
    reason: str
    tested: bool = False  # judged by the combination test (else by construction or by its children)
    depth: int = 0  # nesting depth (0: the whole model), for tree views
    source: str = ""  # an ONNX node's torch module, when the file names it
    map: AffineMap | None = field(default=None, repr=False)  # with module_maps=True, when affine

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "map"}
        if d["residual"] is not None and not math.isfinite(d["residual"]):
            d["residual"] = None
        d["map"] = None if self.map is None else self.map.to_dict()
        return d


@dataclass(frozen=True)
class AuditReport:
    rows: list[ModuleRow]
    is_affine: bool
    first_nonlinear: str | None  # first owner in execution order: "module", "module:node", "node" (root's code) or "" (root, unattributed)
    nodes: list[dict] = field(default_factory=list)  # torch.fx nodes found nonlinear inside forward code
    unattributed: list[str] = field(default_factory=list)  # nonlinear forward code no node explains
    residual: float | None = None  # the whole model's combination residual (None: decided by construction)
    tolerance: float = 0.0
    domain: str = ""
    note: str = ""
    seconds: float = 0.0  # wall time of the audit (the map excluded: it is built on first access)
    build_map: Callable[[], AffineMap] | None = field(default=None, repr=False, compare=False)
    _map: list = field(default_factory=list, repr=False, compare=False)

    @property
    def of_graph(self) -> bool:
        """Rows are an ONNX graph's nodes (one level under the graph), not a module tree."""
        return bool(self.rows) and self.rows[0].type.startswith("ONNX graph")

    @property
    def first_row(self) -> str | None:
        """The name of the row to highlight: the first nonlinear node of a graph, else the
        first owner's module (its node after ':' dropped)."""
        if self.of_graph:
            return self.nodes[0]["node"] if self.nodes else None
        return None if self.first_nonlinear is None else self.first_nonlinear.partition(":")[0]

    @property
    def map(self) -> AffineMap | None:
        """The whole model's map on the inputs (linearised at their mean, certified on them) when
        it is affine and the map fits ``max_bytes``; built on first access (it costs
        min(d_in, 3·d_out) single-input passes), then kept."""
        if not self._map:
            self._map.append(self.build_map() if self.build_map is not None else None)
        return self._map[0]

    def to_dict(self) -> dict:
        return {
            "is_affine": self.is_affine,
            "first_nonlinear": self.first_nonlinear,
            "residual": self.residual if self.residual is not None and math.isfinite(self.residual) else None,
            "tolerance": self.tolerance,
            "domain": self.domain,
            "note": self.note,
            "seconds": self.seconds,
            "modules": [r.to_dict() for r in self.rows],
            "nodes": self.nodes,
            "unattributed": self.unattributed,
            "map": None if self.map is None else self.map.to_dict(),
        }

    def _repr_html_(self) -> str:
        from .._html import audit_html

        return audit_html(self)
