"""The compiled modules, built against the headers of the lxml they will run with
(archiver/extract/compiled_*.pyx; docs/extraction.md). Everything else is in
pyproject.toml."""
import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("archiver.extract.compiled_walk", ["archiver/extract/compiled_walk.pyx"],
               include_dirs=lxml.get_include())],
    language_level=3, quiet=True) + cythonize(
    # the container's score is double arithmetic that must round as Python's does: no
    # a * b + c contracted into one fused multiply-add
    [Extension("archiver.extract.compiled_blocks", ["archiver/extract/compiled_blocks.pyx"],
               include_dirs=lxml.get_include(), extra_compile_args=["-ffp-contract=off"])],
    language_level=3, quiet=True, build_dir="build"))
