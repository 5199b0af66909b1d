"""Studies that outgrow one machine: grids of configurations × seeds, run resumably into a
folder, locally or as tasks on a Ray cluster (``actlab sweep``).

    rows = actlab.sweep("phase_diagram", "out/")            # a shipped spec, or a TOML file
    rows = actlab.sweep("my.toml", "out/", ray="auto")      # on the Ray cluster this machine belongs to
"""

from .presets import preset_path, presets
from .run import DryRun, load_spec, read_rows, sweep
from .spec import Spec, SpecError, parse_spec

__all__ = ["sweep", "load_spec", "read_rows", "Spec", "SpecError", "parse_spec", "presets", "preset_path", "DryRun"]
