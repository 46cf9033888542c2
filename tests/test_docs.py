"""The documentation agrees with the code: the README stays short and its links resolve, every docs page is in
mkdocs.yml's nav, and the plugin page quotes the Explainer docstring whole, whose every named method exists."""

import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_the_readme_is_short_and_its_links_resolve():
    readme = ROOT / "README.md"
    assert readme.stat().st_size <= 12 * 1024
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme.read_text()):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_every_docs_page_is_in_the_nav():
    yaml = pytest.importorskip("yaml")
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]

    def pages(entry):
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict):
            for value in entry.values():
                yield from pages(value)
        else:
            for item in entry:
                yield from pages(item)

    listed = set(pages(nav))
    assert listed == {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}


def test_the_plugin_page_quotes_the_explainer_docstring_whole():
    from advise_bench.explainers import Explainer

    page = (DOCS / "your-own-method.md").read_text()
    assert f"```text\n{inspect.getdoc(Explainer)}\n```" in page


def test_every_method_the_explainer_docstring_names_exists():
    """``name(`` in the docstring is a method of the model (``Get``), the explainer or the CAM explainer."""
    from advise_bench.explainers import CAMExplainer, Explainer, Explanation, rescale01  # noqa: F401
    from advise_bench.models.zoo import LoadedModel

    doc = inspect.getdoc(Explainer)
    get = doc[doc.index("Get\n"):]
    named = set(re.findall(r"``(\w+)\(", get))
    assert {"forward", "input_gradients", "class_gradients", "compile", "compiled", "network"} <= named
    fields = set(LoadedModel.__dataclass_fields__)  # preprocess: a field set from the model's preprocessing
    assert all(callable(getattr(LoadedModel, name, None)) or name in fields for name in named), named - set(dir(LoadedModel))
    hooks = {n for n in re.findall(r"``(\w+)\(", doc[:doc.index("Get\n")]) if n[0].islower()}
    hooks |= set(re.findall(r":meth:`(\w+)`", doc))
    assert {"channel_terms", "low_res_maps", "explain_target", "prepare"} <= hooks
    assert all(hasattr(CAMExplainer, name) for name in hooks), hooks - set(dir(CAMExplainer))
