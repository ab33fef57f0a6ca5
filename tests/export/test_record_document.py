"""What the integrity record embeds: the manifest entry's figures and rules, not its prose (fast, no TensorFlow)."""

from __future__ import annotations

import copy

from edgedigits.export.record import record_document
from edgedigits_runtime import DEFAULT_MODEL
from edgedigits_runtime.record import frame_record, read_record, seal_record

_CHOSEN_ON = "5000 MNIST validation digits (carved from the training set; never the test set) and ..."
_ENTRY = {"format": "int8", "runtime": "tflite", "sha256": "ab" * 32, "size": 15_000, "output_kind": "probabilities",
          "input": {"dtype": "int8", "scale": 1 / 255, "zero_point": -128, "shape": [-1, 28, 28, 1]},
          "reject": {"method": "digit_mass", "threshold": 0.46875, "min_share": 0.5, "target_accept": 0.99,
                     "holdout_kind": "shapes", "holdout_rejected": 0.767, "chosen_on": _CHOSEN_ON}}


def test_record_keeps_every_rule_field_but_leaves_the_prose_to_the_manifest():
    entry = copy.deepcopy(_ENTRY)
    document = record_document(entry, {"labels": [str(d) for d in range(10)], "tools": None})
    assert entry == _ENTRY  # the manifest entry itself keeps its prose
    rule = {key: value for key, value in _ENTRY["reject"].items() if key != "chosen_on"}
    assert document["entry"] == {**{k: v for k, v in _ENTRY.items() if k not in ("sha256", "size")}, "reject": rule}
    assert "tools" not in document and document["labels"][9] == "9"
    assert record_document({"format": "int8", "reject": None}, {})["entry"] == {"format": "int8", "reject": None}


def test_the_shorter_record_verifies_and_tampering_is_detected():
    document = record_document(_ENTRY, {})
    framed = frame_record(document)
    with_prose = frame_record({**document, "entry": {k: v for k, v in _ENTRY.items() if k not in ("sha256", "size")}})
    assert len(framed) < len(with_prose) - len(_CHOSEN_ON)
    sealed = seal_record(b"model bytes " + framed + b" more model bytes")
    record = read_record(sealed)
    assert record.matches and record.entry["reject"]["threshold"] == _ENTRY["reject"]["threshold"]
    for at in (3, sealed.index(b"0.46875") + 2, len(sealed) - 2):  # a weight, the rule's threshold, past the record
        tampered = bytearray(sealed)
        tampered[at] ^= 0x01
        assert not read_record(bytes(tampered)).matches


def test_records_written_before_with_their_prose_still_verify():
    """The shipped model was exported with ``chosen_on`` inside its record: it still reads, verifies and carries it."""
    record = read_record(DEFAULT_MODEL.read_bytes())
    assert record.matches and "validation" in record.entry["reject"]["chosen_on"]
