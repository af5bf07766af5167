"""Set-up shared by every test: a headless matplotlib and the Sphinx glue importable.

The unit tests of the package sit in this folder, one module per package module.
The tests that build the site or read it (pages, browser, notebooks, hosting) are in
``tests/site/``, with their fixtures in ``tests/site/conftest.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no test ever opens a window

ROOT = Path(__file__).resolve().parents[1]

# docs/_ext holds the Sphinx glue; its helpers are unit-tested in tests/test_docs_ext.py.
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
