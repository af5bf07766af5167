"""Patches to the HTML of matplotlib's JavaScript animation player, on gallery pages.

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
"""

from __future__ import annotations

import re

from gradbook_sphinx.galleries import is_gallery_page

__all__ = ["drop_remote_stylesheets", "label_animation_controls"]

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
