"""Runs the snippets of a Markdown page in order, in one folder, against an
installed mlc: ```python blocks with this Python, ```sh blocks with bash
(prefix/bin first on PATH, pkg-config and CMake pointed at the prefix), and
```c / ```cpp / ```cmake blocks whose first line names a file (a comment) are
written to that file. Blocks without a language are not run.

  doc_snippets.py docs/getting-started.md --prefix P --work DIR
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

FILE_COMMENT = re.compile(r"^\s*(?:/\*|//|#)\s*([\w./-]+\.\w+)\s*(?:\*/)?\s*$")


def blocks(text):
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        yield m.group(1), m.group(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    prefix = os.path.abspath(a.prefix)
    libdir = next(os.path.join(prefix, d) for d in ("lib", "lib64") if os.path.isdir(os.path.join(prefix, d, "pkgconfig")))
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.join(prefix, "bin"), os.path.dirname(sys.executable), env["PATH"]])
    env["PKG_CONFIG_PATH"] = os.path.join(libdir, "pkgconfig")
    env["MLC_PREFIX"] = prefix
    env["MLC_PYTHON"] = sys.executable
    env.setdefault("MLC_CACHE_DIR", os.path.join(a.work, "cache"))
    ran = 0
    for n, (lang, body) in enumerate(blocks(open(a.page).read())):
        if lang in ("c", "cpp", "cmake"):
            m = FILE_COMMENT.match(body.splitlines()[0])
            if not m:
                sys.exit("snippet %d (%s) does not name its file on its first line" % (n, lang))
            path = os.path.join(a.work, m.group(1))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(body)
            continue
        if lang == "python":
            cmd = [sys.executable, "-c", body]
        elif lang == "sh":
            cmd = ["bash", "-euo", "pipefail", "-c", body]
        else:
            continue
        print("--- snippet %d (%s)\n%s" % (n, lang, body.rstrip()), flush=True)
        r = subprocess.run(cmd, cwd=a.work, env=env)
        if r.returncode != 0:
            sys.exit("doc_snippets: snippet %d of %s failed (exit %d)" % (n, a.page, r.returncode))
        ran += 1
    print("doc_snippets: %d snippets of %s ran" % (ran, a.page))


if __name__ == "__main__":
    main()
