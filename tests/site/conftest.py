"""Fixtures of the site tests: a strict build of the real site, made once per session.

That the build is reproducible (seeding works) is shown by the notebook tests: each
tutorial's notebook and each theory page's code, run again in a fresh kernel, must print
what the page shows.
"""

from __future__ import annotations

import pytest
from sitebuild import Build, copy_site, sphinx_build


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Build:
    """The real site, built strictly into a temporary folder (executes every tutorial)."""
    build = sphinx_build(copy_site(tmp_path_factory.mktemp("site")))
    if build.returncode != 0:
        pytest.fail(f"strict site build failed (exit {build.returncode}):\n{build.output[-6000:]}")
    return build
