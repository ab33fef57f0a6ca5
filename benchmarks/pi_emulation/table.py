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
    acc = (f"{e['pi']['accuracy']:.2%} = host" if e.get("same") else
           f"{e['pi']['accuracy']:.2%} vs host {e['host']['accuracy']:.2%}" if e else "not run")
    verdict = "yes" if r.get("all_checks_passed") else "**no** (see summary)"
    doc = "ok" if doctor.get("ok") else ("not run" if not doctor else "**not ok**")
    return (f"| {r['description'].split(':')[0]} | {r['board']} (`-cpu {r['qemu_cpu']}`), {r.get('machine') or '?'} "
            f"| {versions} | {interp} | {labels} | {acc} | {doc} | {verdict} |")


def main() -> int:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("EDGEDIGITS_PI_WORK", "/tmp/edgedigits-pi"))
    results = [json.loads(p.read_text()) for p in sorted(work.glob("*/run/result.json"))]
    if not results:
        print(f"no run.sh results under {work}", file=sys.stderr)
        return 1
    print("| device class | emulated board, machine | Python | interpreter | same labels as the host "
          "| full MNIST test set | doctor | all checks |")
    print("|---|---|---|---|---|---|---|---|")
    host = next((r for r in results if r.get("evaluate")), None)
    if host:
        h = host["evaluate"]["host"]
        print(f"| x86-64 host (reference) | none, x86_64 | host Python | {h['backend']} | the reference labels "
              f"| {h['accuracy']:.2%} ({h['errors']} wrong) | — | — |")
    for r in results:
        print(_row(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
