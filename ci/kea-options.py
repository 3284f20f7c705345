#!/usr/bin/env python3
"""Derives netbootd's DHCPv4 option-definition table from Kea's src/lib/dhcp/std_option_defs.h
and dhcp4.h at a release tag: for each standard option of the dhcp4, dhcp-agent-options-space
and last-resort-v4 spaces its name, code, data type, array flag, record fields and the space it
encapsulates. Only names, codes and types are taken; no Kea code is copied.

    ci/kea-options.py KEA_GIT_DIR TAG > server/src/kea/options/kea-X.Y.json
"""
import json
import re
import subprocess
import sys

ARRAYS = {
    "STANDARD_V4_OPTION_DEFINITIONS": "dhcp4",
    "DHCP_AGENT_OPTION_DEFINITIONS": "dhcp-agent-options-space",
    "LAST_RESORT_V4_OPTION_DEFINITIONS": "last-resort-v4",
    "DOCSIS3_V4_OPTION_DEFINITIONS": "vendor-4491",
}


def show_optional(git, tag, path):
    try:
        return show(git, tag, path)
    except subprocess.CalledProcessError:
        return ""


def show(git, tag, path):
    return subprocess.run(["git", "-C", git, "show", f"{tag}:{path}"],
                          check=True, capture_output=True, text=True).stdout


def main():
    git, tag = sys.argv[1], sys.argv[2]
    header = show(git, tag, "src/lib/dhcp/std_option_defs.h")
    header += show_optional(git, tag, "src/lib/dhcp/docsis3_option_defs.h")
    codes = {}
    for text in (show(git, tag, "src/lib/dhcp/dhcp4.h"), header):
        for m in re.finditer(r"\b(\w+)\s*=\s*(\d+)|#define\s+(\w+)\s+(\d+)", text):
            name, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            codes.setdefault(name, int(value))
    records = {}
    for m in re.finditer(r"RECORD_DECL\((\w+),([^;]*)\);", header):
        records[m.group(1)] = [t.strip().removeprefix("OPT_").removesuffix("_TYPE").lower()
                               for t in m.group(2).replace("\n", " ").split(",")]
    out = []
    for array, space in ARRAYS.items():
        m = re.search(array + r"\[\]\s*=\s*\{(.*?)\n\};", header, re.S)
        if not m:
            continue
        entry = re.compile(r'\{\s*"([^"]+)",\s*(\w+),\s*(\w+),\s*(\w+),\s*(true|false),\s*'
                           r'(NO_RECORD_DEF|RECORD_DEF\((\w+)\)),\s*("[^"]*"|\w+)\s*\}', re.S)
        for e in entry.finditer(m.group(1)):
            code = int(e.group(2)) if e.group(2).isdigit() else codes[e.group(2)]
            encapsulates = e.group(8).strip('"')
            if not e.group(8).startswith('"'):
                encapsulates = {"DHCP_AGENT_OPTION_SPACE": "dhcp-agent-options-space",
                                "VENDOR_ENCAPSULATED_OPTION_SPACE":
                                    "vendor-encapsulated-options-space"}.get(e.group(8), e.group(8))
            out.append({
                "name": e.group(1),
                "code": code,
                "space": space,
                "type": e.group(4).removeprefix("OPT_").removesuffix("_TYPE").lower(),
                "array": e.group(5) == "true",
                "record": records.get(e.group(7), []) if e.group(7) else [],
                "encapsulates": encapsulates,
            })
    json.dump({"kea": tag, "source": "src/lib/dhcp/std_option_defs.h", "options": out},
              sys.stdout, indent=0)
    print()


if __name__ == "__main__":
    main()
