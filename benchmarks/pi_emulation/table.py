"""Print the device table (Markdown) from the runs of run.sh: one row per emulated target, plus the host.

Usage: python benchmarks/pi_emulation/table.py [WORK]     (default: /tmp/edgedigits-pi)

Reads WORK/<target>/run/result.json (written by run.sh). The host row is the x86-64 reference venv run.sh
builds from the same wheel: its labels are what every other row is compared with.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _row(r: dict) -> str:
    p, e = r.get("predict") or {}, r.get("evaluate") or {}
    doctor = r.get("doctor") or {}
    facts = doctor.get("facts") or {}
    versions = facts.get("python") or "?"
    if facts.get("numpy"):
        versions += f", numpy {facts['numpy']}"
    interp = next((f"{c['backend']} {c['version']}" for c in facts.get("interpreters", ()) if c["status"] == "works"
                   and c["backend"] == r["backend"]), r["backend"])
    labels = (f"{p['same_labels']}/{p['images']} ({p['mnist']} MNIST + {p['photos']} photos)" if p else "not run")
    same = lambda part, key: (f"{part[key]}/{part['images']} ({sum(part['pi_correct'].values())} right)" if part
                              else "not run")
    read, scenes = same(r.get("read_photos"), "same_numbers"), same(r.get("predict_scenes"), "same_labels")
    acc = (f"{e['pi']['accuracy']:.2%} = host" if e.get("same") else
           f"{e['pi']['accuracy']:.2%} vs host {e['host']['accuracy']:.2%}" if e else "not run")
    verdict = "yes" if r.get("all_checks_passed") else "**no** (see summary)"
    doc = "ok" if doctor.get("ok") else ("not run" if not doctor else "**not ok**")
    if r["target"] == "tflm":
        return (f"| {r['description']} | none: {r['machine']} | host Python | tflite-micro (reference kernels) "
                f"| {labels}, top-1 digit | — | — | see the micro pack section | — | {verdict} |")
    return (f"| {r['description'].split(':')[0]} | {r['board']} (`-cpu {r['qemu_cpu']}`), {r.get('machine') or '?'} "
            f"| {versions} | {interp} | {labels} | {read} | {scenes} | {acc} | {doc} | {verdict} |")


def main() -> int:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("EDGEDIGITS_PI_WORK", "/tmp/edgedigits-pi"))
    results = sorted((json.loads(p.read_text()) for p in work.glob("*/run/result.json")),
                     key=lambda r: (r["target"] == "tflm", r["target"]))
    if not results:
        print(f"no run.sh results under {work}", file=sys.stderr)
        return 1
    print("| device class | emulated board, machine | Python | interpreter | same labels as the host "
          "| `read`: same numbers as the host | photo-path scenes: same labels | full MNIST test set | doctor "
          "| all checks |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    host = next((r for r in results if r.get("predict") and r["target"] != "tflm"), None)
    if host:
        p = host["predict"]
        print(f"| x86-64 (reference: a fresh venv from the same wheel) | none, x86_64 | host Python | litert "
              f"(tflite-runtime for the armhf row) | the reference ({p['images']} images) | the reference | the reference "
              f"| — | ok | — |")
    for r in results:
        print(_row(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
