"""Fixtures of the site tests: a strict build of the real site, made once per session.

That the build is reproducible (seeding works) is shown by the notebook tests: each
tutorial's notebook and each theory page's code, run again in a fresh kernel, must print
what the page shows.
"""

from __future__ import annotations

import pytest
from sitebuild import Build, copy_site, finish, start_sphinx_build


@pytest.fixture(scope="session")
def started_build(tmp_path_factory):
    """The build, started: (process, html, docs). Stopped if still running at the end."""
    docs = copy_site(tmp_path_factory.mktemp("site"))
    started = (*start_sphinx_build(docs), docs)
    yield started
    proc = started[0]
    if proc.poll() is None:  # no test waited for it: stop it, close its pipe
        proc.kill()
    proc.wait()
    if not proc.stdout.closed:
        proc.stdout.close()


@pytest.fixture(scope="session")
def site(started_build) -> Build:
    """The real site, built strictly into a temporary folder (executes every tutorial)."""
    build = finish(*started_build)
    if build.returncode != 0:
        pytest.fail(f"strict site build failed (exit {build.returncode}):\n{build.output[-6000:]}")
    return build
