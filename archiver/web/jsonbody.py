"""How request bodies are read as JSON: any body the parser cannot take is a client error.

Python's parser raises RecursionError, not ValueError, on very deeply nested input
(`[[[[...`); Flask only turns ValueError into "not JSON", so that would be a 500.
"""
from __future__ import annotations

from flask.json.provider import DefaultJSONProvider


class RequestJSONProvider(DefaultJSONProvider):
    sort_keys = False

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None
