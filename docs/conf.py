"""Sphinx configuration for the gradbook site.

Kept free of heavy imports: a no-change rebuild must not pay for ``import torch``.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
from gradbook_sphinx.notebooks import first_cell, site_url  # noqa: E402

project = "gradbook"
author = "the gradbook authors"
copyright = "2026, the gradbook authors"
try:
    release = version("gradbook")
except PackageNotFoundError:  # building from a tree that was never installed
    release = "0.0.0"
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",  # [source] links: each module's code as a page of the site
    "sphinx-mathjax-offline",  # bundles MathJax 3 into _static: math typesets offline
    "sphinx_gallery.gen_gallery",
    "myst_nb",
    "sphinx_copybutton",
    "sphinx_design",
    "gradbook_sphinx",  # docs/_ext/gradbook_sphinx/: the site's own glue, one module per job
]

# -- sources ------------------------------------------------------------------
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = [
    "_build",
    "jupyter_execute",
    "**.ipynb_checkpoints",
    # sphinx-gallery writes a notebook, a script, checksums and zips next to each
    # generated page. myst-nb reads .ipynb files, so without this Sphinx would find
    # two sources for one document and execute the notebook a second time.
    "auto_examples/**.ipynb",
    "auto_examples/**.py",
    "auto_examples/**.md5",
    "auto_examples/**.zip",
    "auto_examples/**.json",
    "auto_examples/**.pickle",
    "gen_modules/**",
]
templates_path = ["_templates"]
# Every cross-reference must resolve: a broken reference to a gradbook object (or a
# page, label or term) fails the strict build. Two kinds of target are let through:
nitpicky = True
nitpick_ignore_regex = [
    # 1. Other projects' objects. Their inventories would have to be downloaded at
    #    build time (intersphinx), and nothing is: these stay plain text.
    (r"py:.*", r"(torch|nn|numpy|matplotlib|networkx|os|numbers|collections)(\..+)?"),
    (r"py:class", r"Tensor|Module|Dataset|DataLoader|Axes|Figure"),
    # 2. The words of numpydoc type specifications ("iterable of tensors, optional",
    #    "array-like, shape (N, 2)", 'default "relu"'), which napoleon hands to the
    #    Python domain as if each piece were a class.
    (r"py:class", r"optional|default( .+)?|callable|iterable|sequence|mapping|array-like"),
    (r"py:class", r"tensors|of dicts|pair|two floats|1-D tensor|str to torch\.Tensor"),
    (r"py:class", r"nn\.Module (subclass|instance)|[A-Z]|y|[0-9.e-]+"),
    (r"py:class", r'\{?"[a-z_]+"\}?'),
]
suppress_warnings = []

# -- the package behind the pages --------------------------------------------
gradbook_package_dir = "../src/gradbook"
gradbook_package = "gradbook"
gradbook_executed_pages = "theory/*.md"

# -- API reference --------------------------------------------------------------
autosummary_generate = False  # API pages are written by hand (see api/); no import at start-up
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
# A method without a docstring of its own would show its base class's: for an nn.Module's
# forward, torch's "Should be overridden by all subclasses". Such a member is left out.
autodoc_inherit_docstrings = False
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
intersphinx_mapping = {}  # no network at build time

# -- where the site is published -----------------------------------------------------
# The notebooks install gradbook's wheel from the site and link to its pages, so they
# need its address: GRADBOOK_SITE_URL, else Read the Docs' or GitHub Pages' (see
# gradbook_sphinx.notebooks.site_url). A local build knows none: its notebooks use
# http://127.0.0.1:8000/, where the README serves the site.
html_baseurl = site_url()

# -- sphinx-gallery ----------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../gallery",
    "gallery_dirs": "auto_examples",
    # every numbered script runs; anything else would be rendered without output
    "filename_pattern": r"/plot_\d\d_",
    "ignore_pattern": r"(^|/)_",  # helper modules (_name.py) are never examples
    "within_subsection_order": "FileNameSortKey",
    # any exception fails the build, with the example's name and traceback
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "expected_failing_examples": [],
    # sphinx-gallery imports a dotted string as "module.function"
    "reset_modules": ("matplotlib", "gradbook_sphinx.seeding.reset_seeds"),
    "reset_modules_order": "before",
    "doc_module": ("gradbook",),
    # backreferences under the defining module (gradbook.train.fit), as the API pages
    # document them, not under the shorter re-export (gradbook.fit)
    "prefer_full_module": {r"^gradbook"},
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"gradbook": None},
    "inspect_global_variables": False,
    "show_memory": False,
    "min_reported_time": 0,
    "write_computation_times": False,  # CDN scripts: gradbook_sphinx.timings writes its own page
    "capture_repr": ("_repr_html_", "__repr__"),
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": (True, "jshtml"),
    "thumbnail_size": (320, 224),
    "remove_config_comments": True,
    "download_all_examples": True,
    # installs gradbook's wheel from the site (gradbook_sphinx.notebooks.first_cell)
    "first_notebook_cell": first_cell(html_baseurl, release),
    # Text blocks become Markdown through pandoc (pypandoc-binary, in the docs extra), as
    # Jupyter renders it: GitHub's Markdown with $-delimited math (pypandoc asks for
    # "md"; the last --to wins). gradbook_sphinx.notebooks adds a Lua filter for Sphinx's
    # roles, the site's macros and the heading levels of the cells.
    "pypandoc": {"extra_args": ["--to=gfm-tex_math_gfm+tex_math_dollars", "--wrap=preserve"]},
    "promote_jupyter_magic": False,
    # Two examples at a time (joblib's loky workers, fresh processes, each seeded and on
    # one torch thread by reset_seeds): a cold build on 2 cores took 48 s against 66 s
    # one at a time. Tutorial 20 opts out (sphinx_gallery_parallel = False): it starts
    # processes of its own and times them, so it runs first, alone.
    "parallel": 2,
}

# -- myst-nb (theory pages) ------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
nb_execution_mode = "cache"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 120
nb_execution_excludepatterns = ["auto_examples/*"]
nb_merge_streams = True

# -- math ---------------------------------------------------------------------------
# One notation across the site (DESIGN.md): column vectors, y = W x + b, v^T J.
_macros = {
    "R": r"\mathbb{R}",
    "vx": r"\mathbf{x}",
    "vy": r"\mathbf{y}",
    "vb": r"\mathbf{b}",
    "vv": r"\mathbf{v}",
    "vz": r"\mathbf{z}",
    "vp": r"\mathbf{p}",
    "mW": r"\mathbf{W}",
    "mX": r"\mathbf{X}",
    "mY": r"\mathbf{Y}",
    "mJ": r"\mathbf{J}",
    "loss": r"\mathcal{L}",
    "grad": r"\nabla",
    "T": r"^{\top}",
    "pd": [r"\frac{\partial #1}{\partial #2}", 2],
}
mathjax3_config = {"tex": {"macros": _macros}}

# -- HTML -----------------------------------------------------------------------------
# pydata-sphinx-theme: the theme of the scientific-Python sites whose galleries we
# learn from (scikit-learn, matplotlib, NumPy); it renders sphinx-gallery pages well,
# has a section navbar (Tutorials / Theory / API) and a per-page outline, and bundles
# all of its assets (fonts and icons included), so it works offline.
html_theme = "pydata_sphinx_theme"
html_title = "gradbook: autograd and neural networks with PyTorch"
html_static_path = ["_static"]
html_css_files = ["gradbook.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_favicon = "_static/favicon.svg"
# pydata-sphinx-theme logs a console error on a first visit unless a mode is set
html_context = {"default_mode": "auto"}
html_sidebars = {"index": [], "theory/index": [], "api/index": []}
html_show_sourcelink = False
html_last_updated_fmt = None
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_exclude = ".linenos, .gp, .go"
