"""The compiled passes of the extractor, where they are built for the lxml that is
installed; None otherwise, and the Python passes run (docs/extraction.md): the walk and
the furniture scan (compiled_walk.pyx), the container's choice and the filters over its
blocks (compiled_blocks.pyx)."""
from __future__ import annotations

import importlib
import logging

from lxml import etree

log = logging.getLogger(__name__)


def load(name: str = "compiled_walk"):
    """The compiled module archiver.extract.<name>, or None (with a warning) where it is
    not built or was built for another lxml: it reads lxml's element proxies by their C
    layout, which only the lxml it was built against is known to have. `make install`
    builds it."""
    try:
        module = importlib.import_module(f"archiver.extract.{name}")
    except (ImportError, ValueError) as exc:      # not built, or lxml's layout changed
        log.warning("the compiled extraction passes (%s) are not available (%s): text "
                    "extraction runs in Python, slower; `make install` builds them",
                    name, exc)
        return None
    if module.BUILT_FOR != etree.__version__:
        log.warning("the compiled extraction passes (%s) were built for lxml %s, not the "
                    "installed %s: text extraction runs in Python, slower; `make install` "
                    "builds them again", name, module.BUILT_FOR, etree.__version__)
        return None
    return module


COMPILED = load("compiled_walk")
COMPILED_BLOCKS = load("compiled_blocks")
