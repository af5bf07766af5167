"""Where the galleries are, as sphinx-gallery's configuration says.

- ``gallery_pairs``: each (examples folder, generated gallery folder) pair, as absolute paths.
- ``gallery_docnames``: each generated gallery folder as a docname prefix (``auto_examples``).
- ``is_gallery_page``: whether a document is one that sphinx-gallery generated.

The other modules of the glue read the gallery folders only through these.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["gallery_docnames", "gallery_pairs", "is_gallery_page"]


def gallery_pairs(app) -> list[tuple[Path, Path]]:
    """The (examples_dir, gallery_dir) pairs of ``sphinx_gallery_conf``, resolved."""
    conf = app.config.sphinx_gallery_conf
    src = Path(app.srcdir)
    examples = conf.get("examples_dirs", [])
    galleries = conf.get("gallery_dirs", [])
    # sphinx-gallery accepts one folder as a plain string, or a list of folders
    if isinstance(examples, str):
        examples = [examples]
    if isinstance(galleries, str):
        galleries = [galleries]
    return [
        ((src / e).resolve(), (src / g).resolve()) for e, g in zip(examples, galleries, strict=True)
    ]


def gallery_docnames(app) -> list[str]:
    """Each generated gallery folder, relative to the source folder (``auto_examples``)."""
    return [g.relative_to(Path(app.srcdir)).as_posix() for _, g in gallery_pairs(app)]


def is_gallery_page(app, docname: str) -> bool:
    """Whether ``docname`` is a page sphinx-gallery generated."""
    return any(docname.startswith(g + "/") for g in gallery_docnames(app))
