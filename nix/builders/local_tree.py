"""Lay a local tree out from a flake's files (nix/local-tree.nix).

Environment: ``files``, the flake's wanted files (a filtered copy of its source);
``sourcesPath``, a JSON list of ``{src, dest, executable}``; ``out``. Each file is copied from
``files/src`` to ``out/dest`` with mode 0755 when executable and 0644 otherwise, folders 0755:
the tree the CLI seeds, so the output hashes to the same NAR hash (Nix checks it).
"""

import json
import os
import shutil


def main() -> None:
    files, out = os.environ["files"], os.environ["out"]
    with open(os.environ["sourcesPath"]) as stream:
        sources = json.load(stream)
    os.mkdir(out, 0o755)
    for source in sources:
        target = os.path.join(out, source["dest"])
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        shutil.copyfile(os.path.join(files, source["src"]), target)
        os.chmod(target, 0o755 if source["executable"] else 0o644)


main()
