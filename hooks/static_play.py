"""MkDocs hook: the static playground into the site, as site/play/index.html (``make docs``).

The page carries kernel.c compiled to WebAssembly. Without the toolchain (clang, lld's wasm-ld,
wasi-libc, clang's wasm32 builtins) the rest of the site is built and the log says what to install; the docs' links to
play/ then lead nowhere until it is.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.static_play")


def on_post_build(config, **kwargs) -> None:
    from actlab.play.static_site import write

    try:
        path = write(Path(config["site_dir"]) / "play")
    except RuntimeError as exc:
        log.info(f"the static playground (site/play/) was not built: {exc}")
        return
    log.info(f"the static playground: {path} ({path.stat().st_size / 1024:.0f} KB)")
