"""benchmarks/pi_emulation/compare.py: the emulated Pi's answers against the host's, file by file."""

import importlib.util
import json
from pathlib import Path

COMPARE = Path(__file__).resolve().parents[2] / "benchmarks" / "pi_emulation" / "compare.py"


def _compare():
    spec = importlib.util.spec_from_file_location("pi_compare", COMPARE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("log line before the rows\n" + "".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def digits(n: int) -> list[dict]:
    return [{"label": 1}] * n


def test_read_compares_numbers_and_counts_the_right_ones(tmp_path):
    compare = _compare()
    host = [{"path": "x/number00apart_is123.jpg", "number": "123", "confidence": 0.9, "digits": digits(3)},
            {"path": "x/scene03decimalpoint_is17.5.jpg", "number": "17.5", "confidence": 0.8, "digits": digits(2)},
            {"path": "x/scene04minus_is-64.jpg", "number": "-64", "confidence": 0.7, "digits": digits(2)}]
    pi = [dict(r, confidence=r["confidence"] - 0.01) for r in host]
    ok, result = compare.compare_read(_jsonl(tmp_path / "h", host), _jsonl(tmp_path / "p", pi))
    assert ok and result["same_numbers"] == 3 and result["max_confidence_diff"] == 0.01
    assert result["kinds"] == {"number": 1, "scene": 2} and result["pi_correct"] == {"number": 1, "scene": 2}

    pi[1] = dict(pi[1], number="175")  # the decimal point lost on the Pi
    ok, result = compare.compare_read(_jsonl(tmp_path / "h", host), _jsonl(tmp_path / "p", pi[:2]))
    assert not ok and result["differ"] == ["scene03decimalpoint_is17.5.jpg", "scene04minus_is-64.jpg"]
    assert result["pi_correct"] == {"number": 1, "scene": 0}


def test_predict_takes_not_a_digit_as_an_answer(tmp_path):
    compare = _compare()
    host = [{"path": "desk00_is5.jpg", "label": 5, "not_a_digit": False, "confidence": 0.99},
            {"path": "nodigit00objects_isnone.jpg", "label": None, "not_a_digit": True, "confidence": 0.2},
            {"path": "mnist00000_is7.png", "label": 7, "not_a_digit": False, "confidence": 0.99}]
    ok, result = compare.compare_predict(_jsonl(tmp_path / "h", host), _jsonl(tmp_path / "p", host))
    assert ok and result["pi_correct"] == {"desk": 1, "nodigit": 1, "mnist": 1}
    assert (result["images"], result["mnist"], result["photos"]) == (3, 1, 0)

    flipped = [dict(host[1], label=4, not_a_digit=False)] + [host[0], host[2]]
    ok, result = compare.compare_predict(_jsonl(tmp_path / "h", host), _jsonl(tmp_path / "p", flipped))
    assert not ok and result["differ"] == ["nodigit00objects_isnone.jpg"] and result["pi_correct"]["nodigit"] == 0
