"""Fixtures of the site tests: a strict build of the real site, made once per session.

Two clean builds are started together: the one every site test reads, and a second,
at the lowest CPU priority (``nice`` 19), that only shows the build is reproducible.
The second takes the CPU the first leaves idle, then what the browser and notebook
tests leave idle, so it costs the session little time of its own.
"""

from __future__ import annotations

import pytest
from sitebuild import Build, copy_site, finish, start_sphinx_build


def _checked(build: Build) -> Build:
    if build.returncode != 0:
        pytest.fail(f"strict site build failed (exit {build.returncode}):\n{build.output[-6000:]}")
    return build


@pytest.fixture(scope="session")
def started_builds(tmp_path_factory):
    """Both builds, started: ``{"site": ..., "site-again": ...}``, each (process, html, docs).

    A build still running when the session ends is stopped.
    """
    started = {}
    for name, nice in (("site", 0), ("site-again", 19)):
        docs = copy_site(tmp_path_factory.mktemp(name))
        started[name] = (*start_sphinx_build(docs, nice=nice), docs)
    yield started
    for proc, _, _ in started.values():  # a build no test waited for: stop it, close its pipe
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if not proc.stdout.closed:
            proc.stdout.close()


@pytest.fixture(scope="session")
def site(started_builds) -> Build:
    """The real site, built strictly into a temporary folder (executes every tutorial)."""
    return _checked(finish(*started_builds["site"]))


@pytest.fixture(scope="session")
def two_clean_builds(site, started_builds) -> tuple[Build, Build]:
    """The real site and its second clean build, made from copies of the same sources."""
    return site, _checked(finish(*started_builds["site-again"]))
