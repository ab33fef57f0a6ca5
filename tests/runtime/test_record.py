"""A model copied alone verifies itself: the integrity record inside exported files."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from damage import corrupted_copies, without_record
from typer.testing import CliRunner

from edgedigits_runtime import DigitClassifier, ManifestWarning
from edgedigits_runtime.cli import app
from edgedigits_runtime.errors import EdgeDigitsError, ModelError, ModelIntegrityError, UsageError
from edgedigits_runtime.record import RECORD_SCHEMA, frame_record, read_record, seal_record

runner = CliRunner()


def _sealed(payload: bytes = b"model bytes ") -> bytes:
    return seal_record(payload + frame_record({"entry": {"format": "int8"}}) + b" tail")


def test_read_record_tells_absent_ok_and_damaged_apart():
    sealed = _sealed()
    ok = read_record(sealed)
    assert ok.status == "ok" and ok.matches and ok.entry == {"format": "int8"} and ok.document["schema"] == RECORD_SCHEMA
    assert read_record(b"a third-party model").status == "absent"
    assert read_record(without_record(sealed)).status == "absent"
    changed = read_record(sealed.replace(b"model", b"modal"))
    assert changed.status == "ok" and not changed.matches and changed.recorded != changed.actual
    start = sealed.index(b"<edgedigits-record")
    for where, edit, problem in [
        ("open tag", lambda d: d.replace(b"<edgedigits-record", b"<edgedigits-recorc"), "start marker is missing"),
        ("close tag", lambda d: d.replace(b"</edgedigits-record>", b"</edgedigits-recorX>"), "end marker is missing"),
        ("digest", lambda d: d[: start + 30] + b"G" + d[start + 31 :], "not 64 hex digits"),
        ("json", lambda d: d.replace(b'"entry":', b'"entry";'), "JSON does not parse"),
        ("schema", lambda d: d.replace(RECORD_SCHEMA.encode(), RECORD_SCHEMA.encode().upper()), "not an edgedigits-record/1"),
        ("twice", lambda d: d + d, "more than once"),
    ]:
        damaged = read_record(edit(sealed))
        assert damaged.status == "damaged" and problem in damaged.problem, where


def test_seal_needs_exactly_one_unsealed_record():
    framed = frame_record({"entry": {}})
    with pytest.raises(ModelError, match="exactly one"):
        seal_record(b"no record")
    with pytest.raises(ModelError, match="exactly one"):
        seal_record(framed + framed)
    with pytest.raises(ModelError, match="already sealed"):
        seal_record(seal_record(framed))
    with pytest.raises(ModelError, match="'entry' dict"):
        frame_record({"format": "int8"})


@pytest.mark.parametrize("which", [0, 1], ids=["tflite-metadata", "onnx-metadata_props"])
def test_an_exported_file_copied_alone_verifies_itself(recorded, tmp_path, which, digits):
    if which == 1:
        pytest.importorskip("onnxruntime")
    lone = tmp_path / recorded[which].name
    lone.write_bytes(recorded[which].read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verified: no ManifestWarning
        clf = DigitClassifier(lone, strict=True)
    assert clf.info["verified"] is True and clf.info["manifest"] == "embedded record" and clf.info["record"] == "ok"
    entry = clf.manifest["artifacts"][lone.name]
    assert clf.info["format"] == entry["format"] and clf.info["output_kind"] == entry["output_kind"]
    assert clf.manifest["labels"] == [str(d) for d in range(10)]
    if which == 0:
        assert (clf.predict(digits[0]) == digits[1]).mean() >= 0.98


def test_the_record_runs_exactly_as_the_model_without_it(recorded, tmp_path, digits):
    bare_copy = tmp_path / recorded[0].name
    bare_copy.write_bytes(without_record(recorded[0].read_bytes()))
    with pytest.warns(ManifestWarning):
        bare = DigitClassifier(bare_copy)
    np.testing.assert_array_equal(DigitClassifier(recorded[0]).predict_proba(digits[0]), bare.predict_proba(digits[0]))


def test_changed_lone_copy_is_refused_with_what_to_do(lone_copy):
    data = bytearray(lone_copy.read_bytes())
    data[len(data) // 2] ^= 0x10  # a weight: would run silently wrong
    lone_copy.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"changed since export: its bytes do not match the integrity record "
                                                  r"inside it .*re-copy the file or re-export it"):
        DigitClassifier(lone_copy)


def test_damaged_record_is_told_from_a_changed_file(lone_copy):
    data = lone_copy.read_bytes()
    lone_copy.write_bytes(data.replace(b'"schema":', b'"schema";'))
    with pytest.raises(ModelIntegrityError, match=r"is corrupted: the integrity record inside it is damaged "
                                                  r"\(its JSON does not parse\); re-copy the file or re-export it"):
        DigitClassifier(lone_copy)


def test_record_and_manifest_are_both_checked(model_copy, recorded):
    model_copy.write_bytes(recorded[0].read_bytes())  # record matches, the manifest beside recorded other bytes
    with pytest.raises(ModelIntegrityError, match="manifest.json recorded"):
        DigitClassifier(model_copy)


def test_third_party_model_runs_unverified_and_strict_refuses_it(tiny_float_tflite, bare_copy, digits, tmp_path):
    from PIL import Image


    with pytest.warns(ManifestWarning, match="no integrity record inside it"):
        assert DigitClassifier(tiny_float_tflite).info["record"] == "absent"
    with pytest.raises(ModelIntegrityError, match="strict mode runs only verified models.*put its manifest.json beside it"):
        DigitClassifier(bare_copy, strict=True)
    first = str(tmp_path / "digit.png")
    Image.fromarray(digits[0][0]).save(first)
    result = runner.invoke(app, ["predict", first, "--model", str(bare_copy), "--strict"])
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and "strict mode" in result.stderr
    assert runner.invoke(app, ["predict", first, "--model", str(bare_copy)]).exit_code == 0


def test_strict_accepts_a_manifest_verified_file(model_copy):
    assert DigitClassifier(model_copy, strict=True).info["verified"] is True
    with pytest.raises(UsageError, match="strict must be True or False"):
        DigitClassifier(model_copy, strict="yes")


def test_corrupted_lone_copies_are_all_refused(recorded, tmp_path):
    """Bit flips at 200 offsets and 60 truncations of an exported model, no manifest beside: none runs."""
    outcomes = {}
    ran = []
    for what, data in corrupted_copies(recorded[0].read_bytes()):
        path = tmp_path / "edge_int8.tflite"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ManifestWarning)  # "unverified" counts as running silently
            try:
                DigitClassifier(path)
            except ManifestWarning:
                ran.append(what)
                continue
            except EdgeDigitsError as exc:
                kind = "damaged record" if "damaged" in str(exc) else type(exc).__name__
                outcomes[kind] = outcomes.get(kind, 0) + 1
                continue
        ran.append(what)
    print("corrupted lone copies refused:", json.dumps(outcomes))
    assert ran == [], f"{len(ran)} corrupted copies were not refused: {ran[:5]}"
    assert sum(outcomes.values()) == 260
