"""The execution-time report, as a plain page that needs no network.

Works around sphinx-gallery's own ``sg_execution_times`` pages
(``sphinx_gallery.gen_gallery.write_computation_times``): they load jQuery from
code.jquery.com and DataTables and Bootstrap from CDNs, so offline they break. conf.py
switches them off (``write_computation_times: False``), and at builder-inited, after
sphinx-gallery, ``write_execution_times`` removes stale copies and writes
``<gallery>/execution_times.rst`` (a plain list-table) and the same times to the log.
The times come from the ``.cost.json`` files sphinx-gallery keeps next to each
example's output: each is the example's last measured run, cached across builds.
"""

from __future__ import annotations

import json
from pathlib import Path

from gradbook_sphinx.galleries import gallery_pairs

__all__ = ["TIMES_PAGE", "timing_page", "write_execution_times"]

TIMES_PAGE = "execution_times.rst"


def _times(examples_dir: Path, gallery_dir: Path, srcdir: Path) -> list[tuple[float, str, str]]:
    """(seconds, reference label, file name) of each example that has run, slowest first."""
    rows = []
    for example in sorted(examples_dir.rglob("*.py")):
        cost = gallery_dir / example.relative_to(examples_dir).with_suffix(".cost.json")
        if cost.is_file():
            seconds = float(json.loads(cost.read_text())["time"])
            parts = gallery_dir.relative_to(srcdir).parts + example.relative_to(examples_dir).parts
            rows.append((seconds, "sphx_glr_" + "_".join(parts), example.name))
    return sorted(rows, reverse=True)


def timing_page(rows: list[tuple[float, str, str]], total: float) -> str:
    """The reST of the page: a table of ``rows`` (seconds, label, file name), or a note."""
    lines = [":orphan:", "", ".. _execution_times:", "", "Execution times", "===============", ""]
    if not rows:
        # a list-table needs a row below its header, and a build with plot_gallery=0
        # (make html-noplot) on a fresh tree has run no tutorial at all
        lines.append("No tutorial has run yet: this build did not execute the gallery.")
        return "\n".join(lines) + "\n"
    lines += [
        f"The last build ran **{len(rows)}** tutorials in **{total:.1f} s** "
        "(each time is that of the tutorial's last run; an unchanged tutorial "
        "is not re-run).",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - Tutorial",
        "     - Time (s)",
    ]
    for seconds, ref, name in rows:
        lines += [f"   * - :ref:`{ref}` (``{name}``)", f"     - {seconds:.2f}"]
    return "\n".join(lines) + "\n"


def write_execution_times(app) -> None:
    """builder-inited (after sphinx-gallery): the timing report, as a plain page."""
    srcdir = Path(app.srcdir)
    pairs = gallery_pairs(app)
    for stale in [
        srcdir / "sg_execution_times.rst",
        *(g / "sg_execution_times.rst" for _, g in pairs),
    ]:
        stale.unlink(missing_ok=True)
    for examples_dir, gallery_dir in pairs:
        rows = _times(examples_dir, gallery_dir, srcdir)
        total = sum(seconds for seconds, _, _ in rows)
        text = timing_page(rows, total)
        page = gallery_dir / TIMES_PAGE
        # rewritten only when it differs: an unchanged mtime keeps Sphinx from re-reading it
        if not page.is_file() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")
        print(f"[gradbook] execution times ({gallery_dir.name}), total {total:.1f} s:")
        for seconds, _, name in rows:
            print(f"[gradbook]   {seconds:6.2f} s  {name}")
