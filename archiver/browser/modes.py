"""Capture modes: how a capture fetches its page. Light on purpose: the submission paths
import it, and they must not load a browser driver."""
from __future__ import annotations

PLAIN, BROWSER = "plain", "browser"
MODES = (PLAIN, BROWSER)


class InvalidMode(ValueError):
    """A mode that is not one of MODES; the message says which ones are."""


def check_mode(value: object, default: str = PLAIN) -> str:
    """`value` as a mode: None is `default`; anything else must be one of MODES, exactly."""
    if value is None:
        return default
    if not isinstance(value, str) or value not in MODES:
        raise InvalidMode(f"mode {value!r} is not a capture mode: use \"plain\" (one HTTP fetch of "
                          "the page and its requisites) or \"browser\" (the page loaded in headless "
                          "Chromium, every request it makes archived)")
    return value
