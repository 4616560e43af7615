"""The compiled passes of the extractor (compiled_walk.pyx), where they are built for the
lxml that is installed; None otherwise, and the Python passes run (docs/extraction.md)."""
from __future__ import annotations

import logging

from lxml import etree

log = logging.getLogger(__name__)


def load():
    """The compiled_walk module, or None (with a warning) where it is not built or was
    built for another lxml: it reads lxml's element proxies by their C layout, which
    only the lxml it was built against is known to have. `make install` builds it."""
    try:
        from archiver.extract import compiled_walk
    except (ImportError, ValueError) as exc:      # not built, or lxml's layout changed
        log.warning("the compiled extraction passes are not available (%s): text "
                    "extraction runs in Python, slower; `make install` builds them", exc)
        return None
    if compiled_walk.BUILT_FOR != etree.__version__:
        log.warning("the compiled extraction passes were built for lxml %s, not the "
                    "installed %s: text extraction runs in Python, slower; `make install` "
                    "builds them again", compiled_walk.BUILT_FOR, etree.__version__)
        return None
    return compiled_walk


COMPILED = load()
