"""The package's version: VERSION at the repository's root, copied here because `pip install ./python` sees
only this directory (pyproject.toml reads it; Tests/python/test_version.py holds it to VERSION)."""

__version__ = "0.1.0"
