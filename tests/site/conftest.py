"""Fixtures of the site tests: a strict build of the real site, made once per session."""

from __future__ import annotations

import pytest
from sitebuild import Build, copy_site, finish, start_sphinx_build


@pytest.fixture(scope="session")
def two_clean_builds(tmp_path_factory) -> tuple[Build, Build]:
    """The real site, built strictly twice from clean copies, side by side (2 cores).

    The first is what the page, browser and notebook tests read; the second exists to
    show that the build is reproducible (same printed outputs on every page).
    """
    started = []
    for name in ("site", "site-again"):
        docs = copy_site(tmp_path_factory.mktemp(name))
        started.append((*start_sphinx_build(docs), docs))
    builds = tuple(finish(*run) for run in started)
    for build in builds:
        if build.returncode != 0:
            pytest.fail(
                f"strict site build failed (exit {build.returncode}):\n{build.output[-6000:]}"
            )
    return builds


@pytest.fixture(scope="session")
def site(two_clean_builds) -> Build:
    """The real site, built strictly into a temporary folder (executes every tutorial)."""
    return two_clean_builds[0]
