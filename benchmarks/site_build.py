"""Time the site build: cold, no change, one tutorial edited, one package file edited.

Each build is a strict ``sphinx-build -W --keep-going`` of a private copy of
``docs/``, ``gallery/`` and ``src/`` (the copy's ``src`` comes first on PYTHONPATH,
so the edited package is the one the tutorials import). For each build the table
shows the wall time and which tutorials sphinx-gallery executed.

Run: ``python benchmarks/site_build.py`` (or ``make bench``). Wall times on a shared
2-core machine are noisy: read them as orders of magnitude, and the executed
columns as exact.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("_build", "auto_examples", "gen_modules", "jupyter_execute")


def _md5_times(docs: Path) -> dict[str, float]:
    """sphinx-gallery rewrites ``<example>.py.md5`` each time it executes an example."""
    return {
        p.name[: -len(".py.md5")]: p.stat().st_mtime_ns
        for p in (docs / "auto_examples").glob("*.py.md5")
    }


def build(docs: Path) -> tuple[float, list[str]]:
    """One strict build; returns (seconds, names of the examples it executed)."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(docs.parent / "src")}
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "--no-color",
        "-b",
        "html",
        "-W",
        "--keep-going",
        "-j",
        "auto",
        "-d",
        str(docs / "_build" / "doctrees"),
        str(docs),
        str(docs / "_build" / "html"),
    ]
    before = _md5_times(docs) if (docs / "auto_examples").is_dir() else {}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"build failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    after = _md5_times(docs)
    executed = sorted(name for name, t in after.items() if before.get(name) != t)
    count = int(re.search(r"executed (\d+) out of", proc.stdout + proc.stderr).group(1))
    assert count == len(executed), (count, executed)
    return seconds, executed


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gradbook-bench-") as tmp:
        tmp = Path(tmp)
        ignore = shutil.ignore_patterns(*GENERATED, "__pycache__", "sg_execution_times.rst")
        shutil.copytree(ROOT / "docs", tmp / "docs", ignore=ignore)
        shutil.copytree(ROOT / "gallery", tmp / "gallery", ignore=ignore)
        shutil.copytree(ROOT / "src", tmp / "src", ignore=ignore)
        docs = tmp / "docs"
        rows = []

        rows.append(("cold build", *build(docs)))
        rows.append(("no-change rebuild", *build(docs)))

        tutorial = sorted((tmp / "gallery").glob("*/plot_01_*.py"))[0]
        tutorial.write_text(tutorial.read_text() + "\n# an edit\n")
        rows.append((f"edit {tutorial.name}", *build(docs)))

        module = tmp / "src" / "gradbook" / "models.py"
        module.write_text(module.read_text() + "\n# an edit\n")
        rows.append(("edit src/gradbook/models.py", *build(docs)))

        rows.append(("no-change rebuild", *build(docs)))

    print(f"{'build':34s} {'wall (s)':>9s}  executed tutorials")
    for label, seconds, names in rows:
        shown = ", ".join(n.split("_", 2)[1] for n in names) if names else "none"
        print(f"{label:34s} {seconds:9.1f}  {len(names):2d}: {shown}")


if __name__ == "__main__":
    main()
