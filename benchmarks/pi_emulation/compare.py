"""Compare the emulated Pi's `edgedigits-rt` output with the host's (used by run.sh).

Usage:
  python compare.py info HOST_JSON PI_LOG
  python compare.py predict HOST_JSONL PI_JSONL [--result OUT.json]
  python compare.py read HOST_JSONL PI_JSONL [--result OUT.json]
  python compare.py evaluate HOST_JSON PI_JSON [--result OUT.json]

predict: label by label on the same files (label and "not a digit" must match; confidences are
reported, not required to match: another interpreter build may round one step differently).
read: number by number (the number read, its digits' count and any error must match; confidences reported).
File names carry the truth after ``_is`` (``mnist00007_is7.png``, ``desk00_isnone.jpg`` for "not a digit",
``number03_is-12.5.jpg``) and start with their kind (the letters before the first digit).
Prints a one-line verdict last; exit 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path


def _rows(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.startswith("{")]


def _one_object(path: str) -> dict:  # one indented JSON object, maybe after log lines
    text = Path(path).read_text()
    return json.JSONDecoder().raw_decode(text[text.index("{"):])[0]


def compare_info(host: str, pi: str) -> tuple[bool, dict]:
    keys = ("sha256", "verified", "format")
    h, p = ({k: _one_object(path).get(k) for k in keys} for path in (host, pi))
    print("host", h, "\npi  ", p)
    ok = h == p and bool(h.get("verified"))
    print("same model, verified" if ok else "MISMATCH")
    return ok, {"host": h, "pi": p}


def _truth(name: str) -> str:
    """What the file holds, from its name: ``photo09000_is7.jpg`` -> "7", ``number03_is-12.5.jpg`` -> "-12.5"."""
    return name.split("_is", 1)[1].rsplit(".", 1)[0]


def _kinds(names: list[str]) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for n in names:
        kinds.setdefault(re.match(r"[a-z]*", n).group(), []).append(n)
    return kinds


def _compare(host: str, pi: str, key, answer, noun: str) -> tuple[bool, dict]:
    """File by file: ``key(row)`` must match; ``answer(row)`` is compared with the name's truth."""
    h = {Path(r["path"]).name: r for r in _rows(host)}
    p = {Path(r["path"]).name: r for r in _rows(pi)}
    names = sorted(h)
    differ = [n for n in names if n not in p or key(h[n]) != key(p[n])]
    missing_host = sorted(set(p) - set(h))
    both = [n for n in names if n in p and h[n].get("confidence") is not None and p[n].get("confidence") is not None]
    max_diff = max((abs(h[n]["confidence"] - p[n]["confidence"]) for n in both), default=0.0)
    kinds = _kinds(names)
    right = {k: sum(n in p and answer(p[n]) == _truth(n) for n in v) for k, v in kinds.items()}
    result = {"images": len(names), "kinds": {k: len(v) for k, v in kinds.items()},
              "mnist": len(kinds.get("mnist", ())), "photos": len(kinds.get("photo", ())),
              f"same_{noun}": len(names) - len(differ), "differ": differ[:20], "extra_on_pi": missing_host,
              "max_confidence_diff": round(max_diff, 6), "pi_correct": right,
              "errors_on_pi": sum(1 for r in p.values() if r.get("error"))}
    for n in differ[:20]:
        print("differs:", n, "host", key(h[n]), "pi", key(p[n]) if n in p else "missing")
    ok = bool(names) and not differ and not missing_host
    parts = "; ".join(f"{k}: {len(v)}, {right[k]} right" for k, v in kinds.items())
    print(f"{len(names) - len(differ)}/{len(names)} same {noun} as the host ({parts}); "
          f"max |confidence difference| {max_diff:.2g}")
    return ok, result


def compare_predict(host: str, pi: str) -> tuple[bool, dict]:
    key = lambda r: (r.get("label"), bool(r.get("not_a_digit", False)), r.get("error"))
    answer = lambda r: "none" if r.get("error") is None and r.get("label") is None else str(r.get("label"))
    return _compare(host, pi, key, answer, "labels")


def compare_read(host: str, pi: str) -> tuple[bool, dict]:
    key = lambda r: (r.get("number"), len(r.get("digits") or ()), r.get("error"))
    return _compare(host, pi, key, lambda r: r.get("number"), "numbers")


def compare_evaluate(host: str, pi: str) -> tuple[bool, dict]:
    h, p = _rows(host)[0], _rows(pi)[0]
    keys = ("accuracy", "images", "errors", "per_class_accuracy")
    ok = all(h[k] == p[k] for k in keys)
    result = {"host": {k: h[k] for k in keys[:3] + ("backend",)}, "pi": {k: p[k] for k in keys[:3] + ("backend",)},
              "same": ok}
    print("host", result["host"], "\npi  ", result["pi"])
    print(f"evaluate: pi {p['accuracy']:.2%} ({p['errors']} wrong of {p['images']}, {p['backend']}) vs host "
          f"{h['accuracy']:.2%} ({h['errors']} wrong, {h['backend']}): {'identical' if ok else 'DIFFERENT'}")
    return ok, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("info", "predict", "read", "evaluate"))
    parser.add_argument("host")
    parser.add_argument("pi")
    parser.add_argument("--result", help="write the comparison as JSON here")
    args = parser.parse_args()
    ok, result = {"info": compare_info, "predict": compare_predict, "read": compare_read,
                  "evaluate": compare_evaluate}[args.what](
        args.host, args.pi)
    if args.result:
        Path(args.result).write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
