"""Patches to HTML that other packages write: matplotlib's animation player, the theme's sidebar.

sphinx-gallery embeds each animation with ``FuncAnimation.to_jshtml()``
(``matplotlib_animations: (True, "jshtml")`` in conf.py). The player's HTML comes from
``matplotlib/_animation_data.py`` and has two faults that these source-read hooks
work around, on the pages sphinx-gallery generated only:

- ``drop_remote_stylesheets``: ``JS_INCLUDE`` links Font Awesome 4.4.0 from a CDN
  (maxcdn.bootstrapcdn.com) for the buttons' icons. The theme, pydata-sphinx-theme,
  bundles Font Awesome, and its stylesheet defines the icon classes the buttons use
  (``fa-play``, ``fa-step-backward``, ...), so without the link the buttons keep their
  icons and the page needs no network.
- ``label_animation_controls``: in ``DISPLAY_TEMPLATE`` the frame is an
  ``<img id="_anim_img...">`` with no ``alt`` and the slider an
  ``<input id="_anim_slider..." type="range">`` with no label (the buttons do carry an
  ``aria-label``). A screen reader announces neither, and axe-core reports both as
  critical; the hook adds an ``alt`` text and an ``aria-label``.

pydata-sphinx-theme (``toctree.py``, ``add_collapse_checkboxes``) turns each sidebar
entry that has pages under it (a tutorial part) into the entry's link followed by a
``<details>`` whose ``<summary>``, the button that shows and hides those pages, holds
only a chevron icon marked ``role="presentation"``. The button has no name (axe-core:
"summary-name", serious).

- ``name_sidebar_toggles`` (html-page-context, after the theme's own): each such
  ``<summary>`` gets an ``aria-label`` naming the entry, "Pages in Part 1: autograd".
"""

from __future__ import annotations

import re

from gradbook_sphinx.galleries import is_gallery_page

__all__ = ["drop_remote_stylesheets", "label_animation_controls", "name_sidebar_toggles"]

_REMOTE_STYLESHEET = re.compile(r'<link rel="stylesheet"\s+href="https?://[^"]+"\s*/?>')
_ANIMATION_FRAME = re.compile(r'<img id="(_anim_img[0-9a-f]+)">')
_ANIMATION_SLIDER = re.compile(r'<input id="(_anim_slider[0-9a-f]+)" type="range"')


def drop_remote_stylesheets(app, docname, source):
    """source-read: remove CDN stylesheet links from generated gallery pages."""
    if is_gallery_page(app, docname):
        source[0] = _REMOTE_STYLESHEET.sub("", source[0])


def label_animation_controls(app, docname, source):
    """source-read: give the player's frame an alt text and its slider a label."""
    if is_gallery_page(app, docname):
        source[0] = _ANIMATION_FRAME.sub(
            r'<img id="\1" alt="Animation of the figure above, one frame at a time; '
            r'the buttons below play, pause and step it">',
            source[0],
        )
        source[0] = _ANIMATION_SLIDER.sub(
            r'<input id="\1" type="range" aria-label="Animation frame"', source[0]
        )


def _name_toggles(tree) -> None:
    """Label each empty ``<summary>`` after the text of the link its ``<details>`` follows."""
    for summary in tree.select("li > details > summary"):
        if summary.get("aria-label") or summary.get_text(strip=True):
            continue
        link = summary.parent.find_previous_sibling("a")
        if link is not None:
            summary["aria-label"] = "Pages in " + " ".join(link.get_text().split())


def name_sidebar_toggles(app, pagename, templatename, context, doctree):
    """html-page-context: the theme's sidebar, with a name on each show/hide button."""
    generate = context.get("generate_toctree_html")
    if generate is None:  # another theme
        return

    def generate_named(*args, **kwargs):
        tree = generate(*args, **kwargs)  # a BeautifulSoup tree, which Jinja prints
        if hasattr(tree, "select"):
            _name_toggles(tree)  # idempotent: the theme caches and reuses its trees
        return tree

    context["generate_toctree_html"] = generate_named
