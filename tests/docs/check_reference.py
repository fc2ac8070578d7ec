#!/usr/bin/env python3
"""Fail on any part of steamnet's class reference without a description, or a method marked
`const` that is not a getter.

Usage: check_reference.py DOC_CLASSES_DIR   (the output of `godot --doctool DIR --gdextension-docs`)
Prints one line per class and `N passed, N failed` like the GDScript suites.
"""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

CLASSES = ["SteamNetworkingSockets", "SteamMultiplayerPeer"]


def text(element):
    return (element.text or "").strip() if element is not None else ""


def missing_in(path):
    root = ET.parse(path).getroot()
    missing = []
    for part in ["brief_description", "description"]:
        if not text(root.find(part)):
            missing.append(f"class {part}")
    for kind in ["method", "signal"]:
        for item in root.iter(kind):
            if not text(item.find("description")):
                missing.append(f"{kind} {item.get('name')}")
    for kind in ["member", "constant"]:
        for item in root.iter(kind):
            if not text(item):
                missing.append(f"{kind} {item.get('name')}")
    # `const` tells the editor (and the reader) a method changes nothing; only getters may say so.
    for item in root.iter("method"):
        name = item.get("name")
        if "const" in (item.get("qualifiers") or "").split() and not name.startswith("get"):
            missing.append(f"method {name} marked const but changes state")
    counts = {kind: sum(1 for _ in root.iter(kind)) for kind in ["method", "signal", "member", "constant"]}
    return missing, counts


def main():
    folder = Path(sys.argv[1])
    passed = failed = 0
    for name in CLASSES:
        path = folder / f"{name}.xml"
        if not path.exists():
            print(f"FAIL {name}: no page in the doctool output")
            failed += 1
            continue
        missing, counts = missing_in(path)
        summary = ", ".join(f"{n} {kind}s" for kind, n in counts.items() if n)
        if missing:
            failed += 1
            print(f"FAIL {name} ({summary}): {len(missing)} problem(s): {', '.join(missing[:20])}"
                  + (" ..." if len(missing) > 20 else ""))
        else:
            passed += 1
            print(f"ok   {name}: every part described ({summary})")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
