"""benchmarks/figures/headline.py: its Bench section replaces only itself in RESULTS.md."""

from __future__ import annotations

import pytest
from bench_helpers import figure_script


@pytest.fixture(scope="module")
def headline():
    return figure_script("headline")


def test_section_is_appended_then_replaced_leaving_other_sections(headline, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\n## Export\n\nexport figures\n")
    headline.replace_section(results, "## Bench\n\nfirst\n")
    assert results.read_text() == "# Results\n\n## Export\n\nexport figures\n\n## Bench\n\nfirst\n"
    results.write_text(results.read_text() + "\n## Runtime\n\nruntime figures\n")
    headline.replace_section(results, "## Bench\n\n### Headline\n\nsecond\n")
    text = results.read_text()
    assert "first" not in text and "### Headline\n\nsecond\n\n## Runtime\n\nruntime figures\n" in text
    assert text.startswith("# Results\n\n## Export\n\nexport figures\n\n## Bench\n")



def test_baseline_manifest_is_written_by_the_runtime_and_verifies(headline, tmp_path):
    """The hand-made baseline's manifest comes from the runtime's manifest module (no hand-written schema)."""
    import shutil

    import numpy as np

    from edgedigits_runtime import DEFAULT_MODEL, DigitClassifier
    from edgedigits_runtime.manifest import MANIFEST_FILE, REFERENCE_FILE, read_manifest

    folder = tmp_path / "baseline"
    folder.mkdir()
    model = folder / "seed_float32.tflite"
    shutil.copy(DEFAULT_MODEL, model)
    np.save(folder / REFERENCE_FILE, np.zeros(10_000, np.uint8))
    headline._write_manifest(folder, model, tmp_path / "seed")
    manifest = read_manifest(folder / MANIFEST_FILE)
    assert manifest["reference"]["file"] == REFERENCE_FILE and manifest["source_run"]["arch"] == "seed"
    clf = DigitClassifier(model)
    assert clf.info["verified"] and clf.info["format"] == "float32"
    assert manifest["artifacts"][model.name]["input"] == clf.input_spec.as_dict()
