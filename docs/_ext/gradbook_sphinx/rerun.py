"""Re-run the tutorials and theory pages that execute package code changed since the last build.

sphinx-gallery re-runs an example only when the example file itself changed (it keeps
an ``.md5`` of it next to the output), and myst-nb's execution cache keys a theory page
on its code cells alone: neither sees an edit to the package that the code imports.
So every file of the package is hashed, and the hashes are compared with those
of the last build (``dependencies`` says which modules a piece of code executes):

- ``invalidate_stale_examples`` (builder-inited, before sphinx-gallery): the examples
  that execute a changed module lose their ``.md5``, so sphinx-gallery runs them again.
  The hashes they were built against are kept in ``<gallery>/.package_stamp.json``,
  beside the ``.md5`` files they vouch for.
- ``mark_stale_pages`` (builder-inited): the theory pages that execute a changed module
  are re-read, with the execution cache dropped. Their hashes are kept in the Sphinx
  environment, which is saved together with the pages it read: a second build folder
  (``make html-noplot``) or an interrupted build cannot leave a page stale.
- ``outdated_pages`` (env-get-outdated): hands those pages to Sphinx.

When nothing changed, nothing re-runs. With no record of a previous build, every
example and page that uses the package counts as stale.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from gradbook_sphinx.dependencies import affected_modules, module_name, uses_affected
from gradbook_sphinx.galleries import gallery_pairs

__all__ = [
    "STAMP_NAME",
    "changed_modules",
    "invalidate_stale_examples",
    "mark_stale_pages",
    "outdated_pages",
    "package_hashes",
]

STAMP_NAME = ".package_stamp.json"
_CODE_CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", flags=re.S)


def package_hashes(package_dir: Path) -> dict[str, str]:
    """sha256 of every file of the package, keyed by module name: a ``.py`` file's own,
    and a data file (the exercises' catalogue) folded into its folder's ``__init__``, so
    that an edit to it re-runs whatever imports that package (its code reads the file)."""
    hashes: dict[str, str] = {}
    for path in sorted(p for p in package_dir.rglob("*") if p.is_file() and p.suffix != ".pyc"):
        module = module_name(path if path.suffix == ".py" else path.parent / "__init__.py",
                             package_dir)  # fmt: skip
        data = hashes.get(module, "").encode() + path.read_bytes()
        hashes[module] = hashlib.sha256(data).hexdigest()
    return hashes


def changed_modules(previous: dict[str, str] | None, current: dict[str, str]) -> set[str]:
    """Modules added, removed or edited since ``previous``; all of them when there is none."""
    if previous is None:
        return set(current)
    return {m for m in current.keys() | previous.keys() if current.get(m) != previous.get(m)}


def _package_dir(app) -> Path | None:
    if not app.config.gradbook_package_dir:
        return None
    return Path(app.confdir, app.config.gradbook_package_dir).resolve()


def _users(examples_dir: Path, package: str, affected: set[str]) -> list[Path]:
    """The example scripts whose code executes a module in ``affected``."""
    scripts = sorted(examples_dir.rglob("*.py"))
    return [s for s in scripts if uses_affected(s.read_text(encoding="utf-8"), package, affected)]


def invalidate_stale_examples(app) -> None:
    """builder-inited (before sphinx-gallery): drop the .md5 of examples using changed code."""
    package_dir = _package_dir(app)
    if package_dir is None:
        return
    current = package_hashes(package_dir)
    for examples_dir, gallery_dir in gallery_pairs(app):
        stamp = gallery_dir / STAMP_NAME
        previous = json.loads(stamp.read_text()) if stamp.is_file() else None
        changed = changed_modules(previous, current)
        if changed:
            affected = affected_modules(package_dir, changed)
            rerun = []
            for example in _users(examples_dir, package_dir.name, affected):
                md5 = gallery_dir / example.relative_to(examples_dir).with_suffix(".py.md5")
                if md5.exists():
                    md5.unlink()
                    rerun.append(example.name)
            if rerun:
                print(
                    f"[gradbook] package changed ({', '.join(sorted(changed))}): "
                    f"re-running {', '.join(rerun)}"
                )
        gallery_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(current, indent=1, sort_keys=True))


def mark_stale_pages(app) -> None:
    """builder-inited: theory pages (MyST notebooks) whose code executes changed code re-run."""
    app.env.gradbook_stale_docs = set()
    package_dir = _package_dir(app)
    if package_dir is None:
        return
    current = package_hashes(package_dir)
    changed = changed_modules(getattr(app.env, "gradbook_package_hashes", None), current)
    app.env.gradbook_package_hashes = current
    if not changed:
        return
    affected = affected_modules(package_dir, changed)
    srcdir = Path(app.srcdir)
    stale = set()
    for page in srcdir.glob(app.config.gradbook_executed_pages):
        code = "\n".join(_CODE_CELL.findall(page.read_text(encoding="utf-8")))
        if uses_affected(code, package_dir.name, affected):
            stale.add(page.relative_to(srcdir).with_suffix("").as_posix())
    if stale:
        # jupyter-cache keys on the code alone, so a package change would hit the cache.
        default_cache = Path(app.outdir).parent / ".jupyter_cache"
        cache = getattr(app.config, "nb_execution_cache_path", "") or default_cache
        shutil.rmtree(cache, ignore_errors=True)
        app.env.gradbook_stale_docs = stale
        print(f"[gradbook] package changed: re-executing {', '.join(sorted(stale))}")


def outdated_pages(app, env, added, changed, removed):
    """env-get-outdated: the theory pages found stale at builder-inited."""
    return sorted(getattr(env, "gradbook_stale_docs", set()) - set(removed))
