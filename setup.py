"""The one compiled module, built against the headers of the lxml it will run with
(archiver/extract/compiled_walk.pyx; docs/extraction.md). Everything else is in
pyproject.toml."""
import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("archiver.extract.compiled_walk", ["archiver/extract/compiled_walk.pyx"],
               include_dirs=lxml.get_include())],
    language_level=3, quiet=True))
