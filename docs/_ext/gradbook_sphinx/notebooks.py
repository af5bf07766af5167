"""What a downloaded tutorial needs to run far from the site: Markdown, macros and gradbook.

sphinx-gallery offers each tutorial as a notebook. A reader opens it in Jupyter with
none of the build around it: no Sphinx to resolve ``:class:`` or ``:ref:``, no conf.py
to define the MathJax macros, no repository to install gradbook from. This module
supplies each of them.

- ``site_url``: the address the site is published at (conf.py's ``html_baseurl``),
  from the build's environment: ``GRADBOOK_SITE_URL``, else Read the Docs' canonical
  URL, else GitHub Pages' address in an Actions run, else none (a local build).
- ``first_cell``: the notebook's first cell (``first_notebook_cell``). It installs
  gradbook's wheel from the site (``LOCAL_SITE`` for a local build), and with it the
  dependencies from PyPI, when the kernel lacks that version; ``GRADBOOK_SITE_URL``
  set where the notebook runs points it at another copy of the site. It then seeds
  Python, NumPy and PyTorch as the build does, so the notebook prints the page's numbers.
- ``add_markdown_filter`` (builder-inited, before sphinx-gallery writes notebooks):
  sphinx-gallery converts each text block with pandoc (``"pypandoc"`` in conf.py), one
  block at a time. Pandoc's reST reader keeps a Sphinx role it does not know as code
  tagged with the role, which its Markdown writer prints as
  ``{.interpreted-text role="class"}``; it knows neither the site's labels nor the
  macros; and, each cell being a document of its own, every cell's heading comes out
  at the title's level. The hook writes a Lua filter (``LUA_FILTER``) that fixes the
  three, adds it to the conversion, and makes every tutorial run again when the
  recipe of its notebook (filter, pandoc options, first cell) changed.
- ``reference_table``: what the filter resolves, read from the sources: each page's
  title and address, each label's section. A notebook that did not re-run keeps the
  link texts of the build that wrote it.
- ``link_wheel`` (source-read): a link to the wheel in each tutorial's download box.
- ``publish_wheel`` (build-finished): builds gradbook's wheel from ``src/`` with pip,
  offline (cached by the content of what it is built from), into
  ``_downloads/gradbook-<version>-py3-none-any.whl``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from docutils.nodes import make_id
from sphinx.errors import ExtensionError

from gradbook_sphinx.galleries import gallery_pairs, is_gallery_page

__all__ = [
    "LOCAL_SITE",
    "LUA_FILTER",
    "SITE_VARIABLE",
    "add_markdown_filter",
    "first_cell",
    "link_wheel",
    "publish_wheel",
    "reference_table",
    "site_url",
    "tex_definitions",
    "wheel_name",
]

SITE_VARIABLE = "GRADBOOK_SITE_URL"
LOCAL_SITE = "http://127.0.0.1:8000/"  # README: python3 -m http.server -d docs/_build/html
WHEEL_FOLDER = "_downloads"
STAMP_NAME = ".notebook_stamp.json"
PACKAGE_FILES = ("pyproject.toml", "README.md", "setup.py", "setup.cfg", "MANIFEST.in")


def site_url(environ=None) -> str:
    """The site's address with a final slash, or "" when the build does not know it."""
    environ = os.environ if environ is None else environ
    url = environ.get(SITE_VARIABLE) or environ.get("READTHEDOCS_CANONICAL_URL")
    repository = environ.get("GITHUB_REPOSITORY", "")
    if not url and environ.get("GITHUB_ACTIONS") == "true" and "/" in repository:
        owner, name = repository.split("/", 1)
        host = f"{owner.lower()}.github.io"
        url = f"https://{host}/" if name.lower() == host else f"https://{host}/{name}/"
    return url.rstrip("/") + "/" if url else ""


def wheel_name(release: str) -> str:
    """The file name of gradbook's wheel at version ``release``."""
    return f"gradbook-{release}-py3-none-any.whl"


def first_cell(site: str, release: str) -> str:
    """The set-up cell of every notebook: install gradbook ``release`` from ``site``, and
    seed as the build does before each tutorial (``seeding.reset_seeds``)."""
    site = site or LOCAL_SITE
    return f"""\
# This notebook imports gradbook, the package of the site it comes from,
# {site}
# Unless gradbook {release} is installed already, this cell installs it from
# the site, with what it needs (torch, numpy, matplotlib, ...) from PyPI.
# PyTorch's CPU-only build is much smaller; to use it, run this first:
#     %pip install torch --index-url https://download.pytorch.org/whl/cpu
# To install from another copy of the site (a local build or a test server),
# set the environment variable {SITE_VARIABLE} to its address.
import importlib.metadata
import os

try:
    installed = importlib.metadata.version("gradbook")
except importlib.metadata.PackageNotFoundError:
    installed = None
if installed != "{release}":
    url = os.environ.get("{SITE_VARIABLE}", "{site}").rstrip("/")
    %pip install {{url}}/{WHEEL_FOLDER}/{wheel_name(release)}
%matplotlib inline

# The site seeds every tutorial before it runs it: with the same seed, this
# notebook prints the numbers the page shows.
from gradbook.utils import seed_everything

seed_everything(0)"""


# -- reST to Markdown ----------------------------------------------------------------
LUA_FILTER = r"""-- Written by gradbook_sphinx.notebooks at each build: Sphinx's reST as Jupyter's
-- Markdown, for the notebooks sphinx-gallery writes.
local data = pandoc.json.decode([=====[@DATA@]=====], false)

local role  -- the filter of Sphinx roles, below

local function inlines(rst)  -- a title, parsed as reST, its roles resolved too
  local parsed = pandoc.utils.blocks_to_inlines(pandoc.read(rst, "rst").blocks)
  return parsed:walk({ Code = function(c) return role(c) end })
end

local function split(text)  -- "title <target>" -> title, target
  text = text:gsub("%s+", " ")
  local title, target = text:match("^(.-) ?<([^<>]+)>$")
  if title and title ~= "" then return title, target end
  return nil, text
end

local function link(entry, title, what)
  if not entry then error("a notebook cannot resolve " .. what .. ": no page or section has it") end
  if not (title or entry[1]) then error("a notebook needs a title for " .. what) end
  return pandoc.Link(inlines(title or entry[1]), entry[2])
end

role = function(el)
  if not el.classes:includes("interpreted-text") then return nil end
  local name = (el.attributes.role or ""):gsub("^%a+:", "")
  local title, target = split(el.text)
  local what = ":" .. name .. ":`" .. el.text .. "`"
  if name == "ref" then return link(data.labels[target:lower()], title, what) end
  if name == "doc" then
    local doc = target:gsub("^/", ""):gsub("^%.%./", ""):gsub("^%.%./", "")
    return link(data.docs[doc], title, what)
  end
  if name == "term" then return pandoc.Str(title or target) end
  if title then return pandoc.Code(title) end  -- an object role: the name, as code
  target = target:gsub("^!", "")
  if target:sub(1, 1) == "~" then target = target:match("([^.]+)$") end
  if (name == "func" or name == "meth") and not target:match("%)$") then target = target .. "()" end
  return pandoc.Code(target)
end

local ADMONITIONS = { "attention", "caution", "danger", "error", "hint", "important",
  "note", "seealso", "tip", "warning", "admonition" }

local function admonition(div)  -- .. note:: and the like: a quote with a bold label
  local kind = div.classes[1]
  if not (kind and pandoc.List(ADMONITIONS):includes(kind)) then return nil end
  local label, body = kind:gsub("^%l", string.upper), pandoc.List()
  for _, block in ipairs(div.content) do
    if block.t == "Div" and block.classes:includes("title") then
      label = pandoc.utils.stringify(block)
    else
      body:insert(block)
    end
  end
  body:insert(1, pandoc.Para({ pandoc.Strong(label) }))
  return pandoc.BlockQuote(body)
end

local function title_reference(span)  -- `text` in reST's default role: emphasis, as Sphinx
  if span.classes:includes("title-ref") then return pandoc.Emph(span.content) end
end

local titles = {}  -- the tutorials' titles as text; only those with markup need parsing
for _, title in ipairs(data.titles) do titles[title] = true end
for _, title in ipairs(data.marked_titles) do
  titles[pandoc.utils.stringify(inlines(title))] = true
end

local function notebook_levels(doc)
  local first = doc.blocks[1]
  if first and first.t == "Header" and titles[pandoc.utils.stringify(first)] then
    -- the tutorial's docstring: its title, then the macros the site's MathJax defines
    doc.blocks:insert(2, pandoc.Para({ pandoc.Math("InlineMath", data.macros) }))
  else  -- a cell: its heading sits one level below the title
    doc.blocks = doc.blocks:walk({ Header = function(h) h.level = h.level + 1; return h end })
  end
  return doc
end

return {
  { Code = role, Span = title_reference },
  { Div = admonition },
  { Pandoc = notebook_levels },
}
"""

_ADORNMENT = re.compile(r"""^([=\-`:.'"~^_*+#<>])\1+\s*$""")
_RST_LABEL = re.compile(r"^\.\. _([^:`]+):\s*$")
_MD_LABEL = re.compile(r"^\(([^()]+)\)=\s*$")
_MD_HEADING = re.compile(r"^#+ +(.+?)\s*$")


def tex_definitions(macros: dict) -> str:
    r"""MathJax's ``tex.macros`` as TeX: ``\newcommand{\R}{\mathbb{R}}...``."""
    parts = []
    for name, body in macros.items():
        body, *arguments = [body] if isinstance(body, str) else body
        spec = "".join(f"[{a}]" for a in arguments)  # [count] and an optional [default]
        parts.append(f"\\newcommand{{\\{name}}}{spec}{{{body}}}")
    return "".join(parts)


def _sections(lines: list[str], markdown: bool) -> tuple[str | None, list]:
    """The first heading of ``lines`` and each (label, the heading it precedes or None)."""
    page, labels, pending = None, [], []
    for i, line in enumerate(lines):
        label = (_MD_LABEL if markdown else _RST_LABEL).match(line)
        if markdown:
            heading = _MD_HEADING.match(line)
            title = heading and re.sub(r"`([^`]+)`", r"``\1``", heading.group(1))
        else:
            under = lines[i + 1] if i + 1 < len(lines) else ""
            fits = line.strip() and len(under.rstrip()) >= len(line.rstrip())
            title = line.strip() if fits and _ADORNMENT.match(under) else None
            title = None if title and _ADORNMENT.match(line) else title
        if label:
            pending.append(label.group(1).strip())
        elif title:
            page = page or title
            labels += [(name, title) for name in pending]
            pending = []
        elif line.strip() and not (not markdown and _ADORNMENT.match(line)):
            labels += [(name, None) for name in pending]  # a label on a paragraph
            pending = []
    return page, labels


def _script_text(script: Path) -> tuple[str, list[str]]:
    """A gallery script's docstring, and its comment lines as reST (code lines blank)."""
    source = script.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source)) or ""
    comments = [
        re.sub(r"^# ?", "", line) if line.startswith("#") else "" for line in source.splitlines()
    ]
    return docstring, comments


def _documents(src: Path, skip: set[str]) -> list[Path]:
    """The .rst and .md files under ``src``, outside ``skip`` and folders named ``_*``."""
    found = []
    for folder, subfolders, files in os.walk(src):
        top = Path(folder) == src
        skipped = [d for d in subfolders if d.startswith(("_", ".")) or top and d in skip]
        subfolders[:] = [d for d in subfolders if d not in skipped]
        found += [Path(folder, f) for f in files if f.endswith((".rst", ".md"))]
    return sorted(found)


def reference_table(app, site: str) -> dict:
    """{"labels": {label: [title, url]}, "docs": {docname: [title, url]}, "titles": [...]}."""
    src = Path(app.srcdir)
    table: dict = {"labels": {}, "docs": {}, "titles": []}

    def add(docname: str, page: str | None, labels: list, own: str | None = None) -> None:
        url = site + app.builder.get_target_uri(docname)
        table["docs"][docname] = [page, url]
        for label, title in labels:
            table["labels"][label.lower()] = [title, f"{url}#{make_id(label)}"]
        if own:  # sphinx-gallery's label of the page itself: the page, no anchor
            table["labels"][own.lower()] = [page, url]

    generated = []
    for examples, gallery in gallery_pairs(app):
        prefix = gallery.relative_to(src)
        generated.append(prefix.parts[0])
        for header in sorted(examples.rglob("GALLERY_HEADER.rst")):
            folder = header.parent.relative_to(examples)
            page, labels = _sections(header.read_text(encoding="utf-8").splitlines(), False)
            label = "_".join(("sphx_glr", *prefix.parts, *folder.parts))
            add((prefix / folder / "index").as_posix(), page, labels, own=label)
        for script in sorted(examples.rglob("*.py")):
            rel = script.relative_to(examples)
            docstring, comments = _script_text(script)
            page, _ = _sections(docstring.splitlines(), False)
            _, labels = _sections(comments, False)
            label = "_".join(("sphx_glr", *prefix.parts, *rel.parts))
            add((prefix / rel.with_suffix("")).as_posix(), page, labels, own=label)
            table["titles"] += [page] if page else []
    for path in _documents(src, skip={"gen_modules", "jupyter_execute", *generated}):
        text = re.sub(r"\A---\n.*?\n---\n", "", path.read_text(encoding="utf-8"), flags=re.S)
        page, labels = _sections(text.splitlines(), path.suffix == ".md")
        add(path.relative_to(src).with_suffix("").as_posix(), page, labels)
    return table


def _drop_notebooks_if_recipe_changed(app, recipe: str) -> None:
    """Remove every example's .md5 when its notebook would now come out differently."""
    digest = hashlib.sha256(recipe.encode()).hexdigest()
    for _, gallery in gallery_pairs(app):
        stamp = gallery / STAMP_NAME
        if stamp.is_file() and json.loads(stamp.read_text()).get("recipe") == digest:
            continue
        stale = sorted(gallery.rglob("*.py.md5"))
        if stale:
            print(f"[gradbook] notebook recipe changed: re-running {len(stale)} examples")
        for md5 in stale:
            md5.unlink()
        gallery.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"recipe": digest}))


def add_markdown_filter(app) -> None:
    """builder-inited, before sphinx-gallery: write the Lua filter and hand it to pandoc."""
    conf = app.config.sphinx_gallery_conf
    options = conf.get("pypandoc")
    if not isinstance(options, dict):  # sphinx-gallery's own rst2md converts
        return
    macros = (app.config.mathjax3_config or {}).get("tex", {}).get("macros", {})
    site = app.config.html_baseurl or LOCAL_SITE
    data = {**reference_table(app, site), "macros": tex_definitions(macros)}
    # pandoc starts once per text block: parsing every title in each run would double
    # the filter's cost, and a title without markup (or quotes, which pandoc curls)
    # reads as itself
    marked = [t for t in data["titles"] if re.search(r"[`*\\|_<>\[\]'\"]|--", t)]
    data["titles"] = [t for t in data["titles"] if t not in marked]
    data["marked_titles"] = marked
    text = json.dumps(data, sort_keys=True)
    if "]=====]" in text:
        raise ExtensionError("gradbook_sphinx.notebooks: a title holds ']=====]'")
    folder = Path(app.doctreedir) / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sphinx-to-markdown.lua"
    path.write_text(LUA_FILTER.replace("@DATA@", text), encoding="utf-8")
    options["filters"] = [f for f in options.get("filters", []) if f != str(path)] + [str(path)]
    cells = (conf.get("first_notebook_cell"), conf.get("last_notebook_cell"))
    recipe = json.dumps([LUA_FILTER, data["macros"], options.get("extra_args"), cells])
    _drop_notebooks_if_recipe_changed(app, recipe)


# -- the wheel -------------------------------------------------------------------------
_ZIP_BOX = re.compile(
    r"^( +)\.\. container:: sphx-glr-download sphx-glr-download-zip\n\n +:download:`[^`]*`\n",
    flags=re.M,
)


def _project(app) -> Path | None:
    """The folder of gradbook's pyproject.toml (src layout), None when there is none."""
    if not app.config.gradbook_package_dir:
        return None
    root = Path(app.confdir, app.config.gradbook_package_dir).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def link_wheel(app, docname, source):
    """source-read: add the wheel to the download box of each tutorial page."""
    match = _ZIP_BOX.search(source[0]) if is_gallery_page(app, docname) else None
    if not match or _project(app) is None:
        return
    indent, name = match.group(1), wheel_name(app.config.release)
    href = "../" * docname.count("/") + f"{WHEEL_FOLDER}/{name}"
    box = (
        f"\n{indent}.. container:: sphx-glr-download sphx-glr-download-wheel\n\n"
        f"{indent}  .. raw:: html\n\n"
        f'{indent}    <p><a class="reference download" download="" href="{href}">'
        f'<code class="download docutils literal notranslate">'
        f"Download the gradbook package: {name}</code></a></p>\n"
    )
    source[0] = source[0][: match.end()] + box + source[0][match.end() :]


def _package_digest(project: Path) -> str:
    """sha256 of the files the wheel is built from (names and contents)."""
    h = hashlib.sha256()
    files = [project / n for n in PACKAGE_FILES if (project / n).is_file()]
    files += sorted(p for p in (project / "src").rglob("*") if p.is_file())
    for path in files:
        if "__pycache__" not in path.parts and ".egg-info" not in str(path):
            h.update(path.relative_to(project).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _build_wheel(project: Path, dest: Path) -> Path:
    """Build the wheel from a clean copy (no stale build/ or .egg-info), offline, into dest."""
    with tempfile.TemporaryDirectory(prefix="gradbook-wheel-") as tmp:
        copy = Path(tmp, "project")
        copy.mkdir()
        for name in PACKAGE_FILES:
            if (project / name).is_file():
                shutil.copy2(project / name, copy / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        shutil.copytree(project / "src", copy / "src", ignore=ignore)
        out = Path(tmp, "wheel")
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        command += ["--no-index", "--quiet", "--wheel-dir", str(out), str(copy)]
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        wheels = list(out.glob("*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            raise ExtensionError(f"building gradbook's wheel failed:\n{proc.stdout}{proc.stderr}")
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        return Path(shutil.copy2(wheels[0], dest / wheels[0].name))


def publish_wheel(app, exception) -> None:
    """build-finished: put gradbook's wheel into the site, where the notebooks look for it."""
    project = _project(app)
    if exception is not None or app.builder.format != "html" or project is None:
        return
    cache, digest = Path(app.doctreedir) / "notebooks" / "wheel", _package_digest(project)
    stamp = cache / "digest.txt"
    wheels = list(cache.glob("*.whl"))
    if not (stamp.is_file() and stamp.read_text() == digest and len(wheels) == 1):
        wheels = [_build_wheel(project, cache)]
        stamp.write_text(digest)
    name = wheel_name(app.config.release)
    if wheels[0].name != name:
        raise ExtensionError(
            f"the wheel built from {project / 'pyproject.toml'} is {wheels[0].name}, but the "
            f"pages and notebooks name {name} (release, the installed gradbook's version): "
            "reinstall gradbook (pip install -e .) so that the two agree"
        )
    target = Path(app.outdir) / WHEEL_FOLDER / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheels[0], target)
