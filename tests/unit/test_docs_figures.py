"""The committed docs figures open offline: no script comes from the network, and each local one is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCRIPT_SRC = re.compile(r"<script[^>]*\ssrc=\"([^\"]+)\"", re.IGNORECASE)
FIGURES = sorted(DOCS.rglob("*.html"))


def test_docs_have_figures():
    assert len(FIGURES) >= 10, FIGURES  # circuits, neurons, SAEs and steering pages each link theirs


@pytest.mark.parametrize("page", FIGURES, ids=lambda p: str(p.relative_to(DOCS)))
def test_figure_loads_its_scripts_from_beside_it(page: Path):
    sources = SCRIPT_SRC.findall(page.read_text())
    assert sources, f"{page} loads no plotly.js"
    for src in sources:
        assert "://" not in src and not src.startswith("//"), f"{page} loads {src} from the network"
        assert (page.parent / src).is_file(), f"{page} needs {src} beside it"


def test_markdown_links_to_figures_resolve():
    for md in DOCS.glob("*.md"):
        for link in re.findall(r"\]\(([^)]+\.html)\)|`(docs/[^`{}*]+\.html)`", md.read_text()):
            target = link[0] or link[1]
            path = md.parent / target if link[0] else DOCS.parent / target
            assert path.is_file(), f"{md.name} links {target}, which does not exist"
