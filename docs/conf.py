"""Sphinx configuration of the xkernels documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (``-W``: warnings are
errors).  The build never needs the network except for intersphinx, which is optional:
it is used only when the inventories' hosts answer, and never when the environment
variable ``XKERNELS_DOCS_OFFLINE`` is set (the test suite sets it).  The notebooks are
rendered from executed copies in ``docs/examples/`` (``docs/execute_notebooks.py``),
never executed here.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import xkernels  # noqa: E402

project = "xkernels"
author = "xkernels developers"
copyright = "2026, xkernels developers (GPL-3.0-or-later)"
version = release = xkernels.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

INTERSPHINX = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "xarray": ("https://docs.xarray.dev/en/stable", None),
    "dask": ("https://docs.dask.org/en/stable", None),
    "distributed": ("https://distributed.dask.org/en/stable", None),
    "zarr": ("https://zarr.readthedocs.io/en/stable", None),
    "LFPy": ("https://lfpy.readthedocs.io/en/latest", None),
    "lfpykit": ("https://lfpykit.readthedocs.io/en/latest", None),
}


def _online(hosts: list[str], timeout: float = 2.0) -> bool:
    """True when every host accepts a TCP connection on port 443 within ``timeout`` s."""
    for host in hosts:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
        except OSError:
            return False
    return True


if not os.environ.get("XKERNELS_DOCS_OFFLINE") and _online(
        sorted({url.split("/")[2] for url, _ in INTERSPHINX.values()})):
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = INTERSPHINX
    intersphinx_timeout = 10

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "examples/_run", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

# MyST and notebooks: render stored outputs, never execute at build time.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "remove"  # warnings of the executing kernel are not part of the example

# API reference
autosummary_generate = True
autosummary_context = {}
autosummary_imported_members = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": False}
numpydoc_show_class_members = True
numpydoc_show_inherited_class_members = False  # pydantic's BaseModel methods are not ours
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"xkernels {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "changelog": []}
html_show_sourcelink = False


# Cross references: ``-n`` (nitpicky) reports every reference to an ``xkernels`` name that
# resolves nowhere (tests/test_docs.py builds with it, warnings as errors).  Names of
# other projects are not checked here: offline (the test suite) their inventories are
# missing.  A reference to an object by another of its paths (``xkernels.store.
# write_kernels`` for the documented ``xkernels.write_kernels``) goes to its page.
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r"(?!xkernels\b).*")]


def _documented_objects(env) -> dict[int, tuple[str, str]]:
    """id(python object) -> (page, anchor) of every documented xkernels name."""
    import pydoc

    found = getattr(env, "_xk_documented", None)
    if found is None:
        found = {}
        for name, entry in env.domaindata["py"]["objects"].items():
            if name.startswith("xkernels") and not entry.aliased:
                obj = pydoc.locate(name)
                if obj is not None:
                    found.setdefault(id(obj), (entry.docname, entry.node_id))
        env._xk_documented = found
    return found


def _resolve_alias(app, env, node, contnode):
    """A reference to an xkernels object documented under another of its names."""
    import pydoc

    from sphinx.util.nodes import make_refnode

    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("xkernels"):
        return None
    documented = _documented_objects(env)
    where = documented.get(id(pydoc.locate(target)))
    if where is None:  # a method or attribute: its class by another name
        owner, _, attr = target.rpartition(".")
        page = documented.get(id(pydoc.locate(owner))) if owner else None
        entry = env.domaindata["py"]["objects"].get(f"{page[1]}.{attr}") if page else None
        where = (entry.docname, entry.node_id) if entry else None
    if where is None:
        return None
    return make_refnode(app.builder, node["refdoc"], where[0], where[1], contnode)


def setup(app):
    app.connect("missing-reference", _resolve_alias)
