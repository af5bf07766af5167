"""Fixtures of the site tests: a strict build of the real site, made once per test run.

That the build is reproducible (seeding works) is shown by the notebook tests: each
tutorial's notebook and each theory page's code, run again in a fresh kernel, must print
what the page shows.

``make test`` runs pytest in two processes (pytest-xdist, one test file at a time per
process). The browser tests and the notebook tests then sit in different processes, and
both read the site: the first process to ask builds it, under a file lock, and the
other waits for that build and reads the same folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from filelock import FileLock
from sitebuild import Build, copy_site, sphinx_build


def _shared_folder(tmp_path_factory) -> Path:
    """The temporary folder of this run: shared by its xdist workers, if any."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Build:
    """The real site, built strictly into a temporary folder (executes every tutorial)."""
    shared = _shared_folder(tmp_path_factory)
    record, docs = shared / "site-build.json", shared / "site" / "docs"
    with FileLock(shared / "site-build.lock"):
        if record.exists():  # another worker of this run built it
            build = Build(**json.loads(record.read_text()), html=docs / "_build" / "html", src=docs)
        else:
            docs.parent.mkdir()
            # -j auto, as make html: the pages are read and written in one process per core
            build = sphinx_build(copy_site(docs.parent), "-j", "auto")
            record.write_text(json.dumps({"returncode": build.returncode, "output": build.output}))
    if build.returncode != 0:
        pytest.fail(f"strict site build failed (exit {build.returncode}):\n{build.output[-6000:]}")
    return build
