"""benchmarks/figures/headline.py: its Bench section replaces only itself in RESULTS.md."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "figures" / "headline.py"


@pytest.fixture(scope="module")
def headline():
    spec = importlib.util.spec_from_file_location("headline_script", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_section_is_appended_then_replaced_leaving_other_sections(headline, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\n## Export\n\nexport figures\n")
    headline._replace_section(results, "## Bench\n\nfirst\n")
    assert results.read_text() == "# Results\n\n## Export\n\nexport figures\n\n## Bench\n\nfirst\n"
    results.write_text(results.read_text() + "\n## Runtime\n\nruntime figures\n")
    headline._replace_section(results, "## Bench\n\n### Headline\n\nsecond\n")
    text = results.read_text()
    assert "first" not in text and "### Headline\n\nsecond\n\n## Runtime\n\nruntime figures\n" in text
    assert text.startswith("# Results\n\n## Export\n\nexport figures\n\n## Bench\n")

