"""Install a step's pinned Python packages: run by the image's own Python (any 3.x the image
has, stdlib only) inside the chroot that run_layer.py makes, as that layer's command.

Each sdist (or git checkout: a directory, copied) is first built into a wheel, as pip does
with build isolation but offline: a fresh virtual environment under /tmp holds exactly the
pinned build requirements, and the sdist's PEP 517 backend is called there with the image's
compiler toolchain. A dynamic build requirement the lock does not pin, or a failed compile,
stops the build with a line naming the package (and the missing header or library, for the
CLI's hint).

Then the wheels are installed, one after another, by pypa's installer run in one process of
the target interpreter (the image's Python, or the step's virtual environment, made when
missing), byte-compiled; the layer's SOURCE_DATE_EPOCH makes the .pyc files reproducible.
The installer's own byte-compiling is deferred: each file it would compile, with the
arguments it would compile it with, is compiled once every wheel is in, by as many processes
of the target interpreter as there are cores (pip's ~1,000 files took most of the step on
one). /tmp is not part of the layer. A script the wheel installs replaces one of the same
name in the scripts folder, as pip's does (a registry base may have its own
``/usr/local/bin/pip``; the installer would refuse).

Input: argv[1], JSON: installer (path of the installer wheel), venv (or null), uvLink, wheels
[{path, name}], sdists [{path, name, project, version, backend, backendPath, build: [{path, name}]}].
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

WORK = "/tmp/nixbuild-python"
UV_LINK = "/.uv/uv"  # where Modal's uv_pip_install and uv_sync leave uv
# What the compiler or linker says when a system library is missing: the CLI turns these
# into a hint naming the Debian package that provides it.
MISSING = [
    re.compile(r"fatal error: (\S+): No such file or directory"),
    re.compile(r"cannot find -l(\S+)"),
    re.compile(r"Package '?([\w.+-]+)'?,? (?:was not found|not found)"),
    re.compile(r"([\w.+-]+): (?:command )?not found$"),
]

# Calls the backend in the build environment (PEP 517), after checking that what it asks
# for on top of the static build requirements is installed there.
HOOKS = r"""
import importlib, importlib.metadata, json, os, re, sys
backend_ref, backend_path, outdir = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
sys.path[:0] = [os.path.abspath(p) for p in backend_path]
module, _, attrs = backend_ref.partition(":")
backend = importlib.import_module(module)
for attr in filter(None, attrs.split(".")):
    backend = getattr(backend, attr)
missing = []
for requirement in getattr(backend, "get_requires_for_build_wheel", lambda _c: [])({}):
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0)
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        missing.append(requirement)
if missing:
    print("nixbuild: the build backend asks for build requirements the lock does not pin: "
          + ", ".join(missing), flush=True)
    sys.exit(3)
print("nixbuild-built-wheel:" + backend.build_wheel(outdir, {}), flush=True)
"""


# The step's wheels installed by pypa's installer in one process of the target interpreter, as
# ``python -m installer --compile-bytecode 0 WHEEL`` would install each, in order, after
# removing the scripts of its names (argv[1], JSON: [[wheel, [script names]], ...]). Each call
# installer makes to compileall.compile_file is appended to the file argv[2] (a JSON line: the
# file and the keywords) instead of compiling it.
INSTALL = r"""
import compileall, json, os, runpy, sys, sysconfig
plan, jobs_file, calls = json.loads(sys.argv[1]), sys.argv[2], []
compileall.compile_file = lambda fullname, **kw: calls.append(
    [os.fspath(fullname), {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in kw.items()}]) or True
scripts = sysconfig.get_path("scripts")
try:
    for wheel, names in plan:
        for name in names:  # a script the wheel installs replaces one of its name, as pip's does
            path = os.path.join(scripts, name)
            if os.path.lexists(path) and not os.path.isdir(path):
                os.remove(path)
        sys.argv = ["installer", "--compile-bytecode", "0", wheel]
        try:
            runpy.run_module("installer", run_name="__main__", alter_sys=True)
        except BaseException as error:
            if not isinstance(error, SystemExit) or error.code not in (None, 0):
                import traceback
                traceback.print_exc()
                sys.exit("nixbuild: installing " + os.path.basename(wheel) + " failed")
finally:
    with open(jobs_file, "a") as f:
        f.writelines(json.dumps(call) + "\n" for call in calls)
"""

# Makes the calls INSTALL recorded, read from the file argv[1].
COMPILE = r"""
import compileall, json, sys
for line in open(sys.argv[1]):
    fullname, kw = json.loads(line)
    compileall.compile_file(fullname, **kw)
"""


def scripts_of(wheel: str) -> list[str]:
    """The names of the scripts a wheel installs: its entry points' and its data scripts."""
    names = []
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            if re.fullmatch(r"[^/]+\.data/scripts/[^/]+", member):
                names.append(member.rsplit("/", 1)[1])
            elif re.fullmatch(r"[^/]+\.dist-info/entry_points\.txt", member):
                section = None
                for line in zf.read(member).decode().splitlines():
                    line = line.strip()
                    if line.startswith("["):
                        section = line.strip("[]").strip()
                    elif "=" in line and section in ("console_scripts", "gui_scripts"):
                        names.append(line.split("=", 1)[0].strip())
    return names


def install(python: str, installer: str, wheel: str, *extra: str) -> None:
    """pypa's installer on ``wheel`` (a build environment's requirements)."""
    proc = subprocess.run([python, "-m", "installer", *extra, wheel], env={**os.environ, "PYTHONPATH": installer})
    if proc.returncode != 0:
        sys.exit(f"nixbuild: installing {os.path.basename(wheel)} failed")


def install_all(python: str, installer: str, wheels: list[str], deferred: str) -> None:
    """The step's ``wheels``, in order, by INSTALL in one process (a process each took ~0.1 s
    to start and load installer); ``deferred``: where the byte-compiling they call for is
    written down, for ``compile_deferred``."""
    plan = json.dumps([[wheel, scripts_of(wheel)] for wheel in wheels])
    proc = subprocess.run([python, "-c", INSTALL, plan, deferred], env={**os.environ, "PYTHONPATH": installer})
    if proc.returncode != 0:
        sys.exit(proc.returncode)  # INSTALL said which wheel


def compile_deferred(python: str, deferred: str) -> None:
    """Make the compileall calls the installs wrote down, shared among processes of the
    target interpreter (each file's .pyc depends only on its call, not on which process
    made it or when)."""
    if not os.path.exists(deferred):
        return
    with open(deferred) as f:
        calls = f.readlines()
    workers = max(1, min(os.cpu_count() or 1, 8, len(calls)))
    procs = []
    for part in range(workers):
        share = f"{deferred}.{part}"
        with open(share, "w") as f:
            f.writelines(calls[part::workers])
        procs.append(subprocess.Popen([python, "-c", COMPILE, share]))
    if any([proc.wait() != 0 for proc in procs]):  # a list: every one is waited for
        sys.exit("nixbuild: byte-compiling the installed packages failed")


def linked(files: list[dict], into: str) -> list[str]:
    """The files under their own names (the installer reads a wheel's tags from its name)."""
    os.makedirs(into, exist_ok=True)
    paths = []
    for item in files:
        path = os.path.join(into, item["name"])
        os.symlink(item["path"], path)
        paths.append(path)
    return paths


def extract(archive: str, into: str) -> str:
    """Unpack an sdist; its one top-level directory."""
    if archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(into)
    else:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, filter="data")
            else:
                tar.extractall(into)
    (top,) = os.listdir(into)
    return os.path.join(into, top)


def build(sdist: dict, installer: str) -> str:
    """Build one sdist into a wheel; the wheel's path."""
    label = f"{sdist['project']} {sdist['version']}"
    checkout = os.path.isdir(sdist["path"])
    print(f"nixbuild: building {label} from its {'source' if checkout else 'sdist'} {sdist['name']}", flush=True)
    work = os.path.join(WORK, "build", sdist["project"])
    if checkout:  # read-only in the store, and backends write next to the sources (egg-info, build/)
        source = os.path.join(work, "src", sdist["name"])
        shutil.copytree(sdist["path"], source, symlinks=True, copy_function=shutil.copy)
        for folder, _dirs, files in os.walk(source):
            for entry in [folder, *(os.path.join(folder, f) for f in files)]:
                if not os.path.islink(entry):
                    os.chmod(entry, os.stat(entry).st_mode | 0o200)
    else:
        source = extract(sdist["path"], os.path.join(work, "src"))
    env_dir = os.path.join(work, "env")
    # The build environment holds exactly the pinned build requirements (build isolation).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env_dir], check=True)
    env_python = os.path.join(env_dir, "bin", "python")
    for wheel in linked(sdist["build"], os.path.join(work, "requirements")):
        install(env_python, installer, wheel, "--no-compile-bytecode")
    dist = os.path.join(work, "dist")
    os.makedirs(dist)
    proc = subprocess.Popen([env_python, "-c", HOOKS, sdist["backend"], json.dumps(sdist["backendPath"]), dist],
                            cwd=source, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    output, built = [], None
    for line in proc.stdout:
        sys.stdout.write(line)
        output.append(line)
        if line.startswith("nixbuild-built-wheel:"):
            built = line.split(":", 1)[1].strip()
    sys.stdout.flush()
    if proc.wait() != 0 or built is None:
        missing = next((m.group(1) for line in output for pattern in MISSING if (m := pattern.search(line))), None)
        print(f"nixbuild: building {label} from its {'source' if checkout else 'sdist'} failed"
              + (f"; missing: {missing}" if missing else ""), flush=True)
        sys.exit(1)
    return os.path.join(dist, built)


def main() -> None:
    plan = json.loads(sys.argv[1])
    python = sys.executable
    if plan.get("venv"):
        python = os.path.join(plan["venv"], "bin", "python")
        if not os.path.exists(python):
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", plan["venv"]], check=True)
    wheels = linked(plan["wheels"], os.path.join(WORK, "wheels"))
    wheels += [build(sdist, plan["installer"]) for sdist in plan["sdists"]]
    deferred = os.path.join(WORK, "compile.jsonl")
    install_all(python, plan["installer"], sorted(wheels, key=os.path.basename), deferred)
    compile_deferred(python, deferred)
    if plan.get("uvLink") and not os.path.lexists(UV_LINK) and (uv := shutil.which("uv")):
        os.makedirs(os.path.dirname(UV_LINK), exist_ok=True)
        os.symlink(uv, UV_LINK)


if __name__ == "__main__":
    main()
