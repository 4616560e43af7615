"""archiver: a web archive with evidence-grade provenance."""
__version__ = "0.1.0"
SOFTWARE_NAME = "archiver"
