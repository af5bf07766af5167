"""Alt text for the gallery's thumbnails.

Works around sphinx-gallery's ``THUMBNAIL_TEMPLATE``
(``sphinx_gallery/backreferences.py``), which writes every thumbnail, in the gallery
index and in the "Examples using ..." mini-galleries alike, as an ``.. image::`` with
an empty ``:alt:``. The thumbnail is the only content of its link, so that link has no
accessible name at all. ``describe_thumbnails`` (doctree-resolved) names the tutorial
instead: ``Thumbnail of the tutorial: <its title>``.
"""

from __future__ import annotations

import re

from docutils import nodes

from gradbook_sphinx.galleries import gallery_docnames

__all__ = ["describe_thumbnails"]

_THUMBNAIL = re.compile(r"sphx_glr_(?P<stem>[^/]+)_thumb\.(png|svg|gif|jpg)$")


def describe_thumbnails(app, doctree, docname):
    """doctree-resolved: name the tutorial in each thumbnail's alt text."""
    galleries = tuple(g + "/" for g in gallery_docnames(app))
    # a tutorial's page, by file stem: auto_examples/<stem> or, in a sub-gallery (a part
    # of the site), auto_examples/<part>/<stem>
    pages = {name.rsplit("/", 1)[-1]: name for name in app.env.titles if name.startswith(galleries)}
    for image in doctree.findall(nodes.image):
        match = _THUMBNAIL.search(image.get("uri", ""))
        if not match or image.get("alt") or match["stem"] not in pages:
            continue
        title = app.env.titles[pages[match["stem"]]].astext()
        image["alt"] = f"Thumbnail of the tutorial: {title}"
