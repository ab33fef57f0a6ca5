"""Compare the emulated Pi's `edgedigits-rt` output with the host's (used by run.sh).

Usage:
  python compare.py info HOST_JSON PI_LOG
  python compare.py predict HOST_JSONL PI_JSONL [--result OUT.json]
  python compare.py evaluate HOST_JSON PI_JSON [--result OUT.json]

predict: label by label on the same files (label and "not a digit" must match; confidences are
reported, not required to match: another interpreter build may round one step differently).
File names carry the true digit (``..._is7.png``). Prints a one-line verdict last; exit 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import json
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


def compare_predict(host: str, pi: str) -> tuple[bool, dict]:
    h = {Path(r["path"]).name: r for r in _rows(host)}
    p = {Path(r["path"]).name: r for r in _rows(pi)}
    truth = lambda name: int(name.split("_is")[1].split(".")[0])
    key = lambda r: (r.get("label"), bool(r.get("not_a_digit", False)), r.get("error"))
    names = sorted(h)
    differ = [n for n in names if n not in p or key(h[n]) != key(p[n])]
    missing_host = sorted(set(p) - set(h))
    both = [n for n in names if n in p and h[n].get("confidence") is not None and p[n].get("confidence") is not None]
    max_diff = max((abs(h[n]["confidence"] - p[n]["confidence"]) for n in both), default=0.0)
    kinds = {"mnist": [n for n in names if n.startswith("mnist")], "photo": [n for n in names if n.startswith("photo")]}
    right = {k: sum(p.get(n, {}).get("label") == truth(n) for n in v) for k, v in kinds.items()}
    result = {"images": len(names), "mnist": len(kinds["mnist"]), "photos": len(kinds["photo"]),
              "same_labels": len(names) - len(differ), "differ": differ[:20], "extra_on_pi": missing_host,
              "max_confidence_diff": round(max_diff, 6), "pi_correct": right,
              "errors_on_pi": sum(1 for r in p.values() if r.get("error"))}
    for n in differ[:20]:
        print("differs:", n, "host", key(h[n]), "pi", key(p[n]) if n in p else "missing")
    ok = bool(names) and not differ and not missing_host
    print(f"{result['same_labels']}/{len(names)} same labels as the host ({result['mnist']} MNIST test digits: "
          f"{right['mnist']} right; {result['photos']} photos: {right['photo']} right); "
          f"max |confidence difference| {max_diff:.2g}")
    return ok, result


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
    parser.add_argument("what", choices=("info", "predict", "evaluate"))
    parser.add_argument("host")
    parser.add_argument("pi")
    parser.add_argument("--result", help="write the comparison as JSON here")
    args = parser.parse_args()
    ok, result = {"info": compare_info, "predict": compare_predict, "evaluate": compare_evaluate}[args.what](
        args.host, args.pi)
    if args.result:
        Path(args.result).write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
