"""The site a URL belongs to: its host name, lowercased, as stored for filtering."""
from urllib.parse import urlsplit


def site_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None
