"""Fills the option blocks of docs/cli.md from the commands' own --help:
every block between `<!-- mlc COMMAND --help -->` and `<!-- end -->` is
replaced by the output of `mlc COMMAND --help`. With --check, exits 1 (and
says which command) when the page is not what the binary prints; a lit test
runs that, so the reference cannot drift from the CLI.

  gen_cli_doc.py --mlc build/bin/mlc [--check] [--doc docs/cli.md]
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = re.compile(r"(<!-- mlc (\w+) --help -->\n)(.*?)(<!-- end -->)", re.S)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "cli.md"))
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    text = open(a.doc).read()
    stale = []

    def fill(m):
        cmd = m.group(2)
        out = subprocess.run([a.mlc, cmd, "--help"], capture_output=True, text=True, check=True).stdout
        new = m.group(1) + "```\n" + out.rstrip("\n") + "\n```\n" + m.group(4)
        if new != m.group(0):
            stale.append(cmd)
        return new

    new_text, n = BLOCK.subn(fill, text)
    if n == 0:
        sys.exit("gen_cli_doc: no <!-- mlc COMMAND --help --> blocks in %s" % a.doc)
    if a.check:
        if stale:
            sys.exit("gen_cli_doc: %s is out of date for: %s (run scripts/gen_cli_doc.py --mlc %s)"
                     % (a.doc, ", ".join("mlc %s --help" % c for c in stale), a.mlc))
        print("gen_cli_doc: %d blocks current" % n)
        return
    open(a.doc, "w").write(new_text)
    print("gen_cli_doc: %d blocks, %d updated" % (n, len(stale)))


if __name__ == "__main__":
    main()
