"""What Debian maintainer scripts would have done, done without running them.

Like Google's distroless (rules_distroless), nixbuild never runs preinst/postinst: they
assume a live system, need root and are not reproducible. Instead each effect that matters
in a container is written here as data, applied to the layer of the package that triggers it.
Effects run for packages new in this layer; ``installed`` (every package up to and including
this layer) decides between alternatives.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from layertar import Entry, directory, regular, symlink

# Numeric ids fixed by base-passwd's masters (the same on every Debian release).
GID_MAIL, GID_UTMP, GID_SHADOW, GID_STAFF = 8, 43, 42, 50


class Layer:
    """The entries being assembled for one layer, with helpers for the effects."""

    def __init__(self, entries: dict[str, Entry], new: set[str], installed: set[str]):
        self.entries = entries
        self.new = new
        self.installed = installed

    def read(self, path: str) -> bytes:
        entry = self.entries.get(path)
        if entry is None or entry.data is None:
            raise KeyError(f"{path}: not a regular file of this layer")
        return entry.data

    def put(self, entry: Entry) -> None:
        self.entries[entry.info.name] = entry

    def mkdir(self, path: str, mode: int = 0o755, gid: int = 0) -> None:
        self.put(directory(path, mode, gid=gid))

    def files_under(self, prefix: str) -> list[str]:
        return sorted(p for p, e in self.entries.items() if p.startswith(prefix) and e.info.isfile())


EFFECTS: list[tuple[Callable[[str], bool], Callable[[Layer, str], None]]] = []


def effect(match: Callable[[str], bool] | str):
    """Register an effect for packages whose name equals ``match`` (or satisfies it)."""
    test = (lambda name: name == match) if isinstance(match, str) else match

    def register(fn):
        EFFECTS.append((test, fn))
        return fn

    return register


@effect("base-files")
def base_files(layer: Layer, _pkg: str) -> None:
    for path in ("mnt", "srv", "opt", "etc/opt", "var/opt", "media"):
        layer.mkdir(path)
    layer.mkdir("var/mail", 0o2775, GID_MAIL)
    layer.mkdir("run/lock", 0o1777)
    # migrate_directory: /var/run and /var/lock become links into /run.
    layer.put(symlink("var/run", "/run"))
    layer.put(symlink("var/lock", "/run/lock"))
    layer.put(symlink("var/spool/mail", "../mail"))
    for sub in ("", "/share", "/share/man", "/bin", "/games", "/lib", "/include", "/sbin", "/src", "/etc"):
        layer.mkdir("usr/local" + sub, 0o2775, GID_STAFF)
    layer.put(symlink("usr/local/man", "share/man"))
    layer.put(symlink("etc/dpkg/origins/default", "debian"))
    for src, dst in (("dot.profile", "root/.profile"), ("dot.bashrc", "root/.bashrc"),
                     ("profile", "etc/profile"), ("motd", "etc/motd")):
        layer.put(regular(dst, layer.read(f"usr/share/base-files/{src}")))
    layer.put(regular("var/log/wtmp", b"", 0o664, gid=GID_UTMP))
    layer.put(regular("var/log/btmp", b"", 0o660, gid=GID_UTMP))
    layer.put(regular("var/log/lastlog", b"", 0o664, gid=GID_UTMP))


@effect("base-passwd")
def base_passwd(layer: Layer, _pkg: str) -> None:
    passwd = layer.read("usr/share/base-passwd/passwd.master")
    group = layer.read("usr/share/base-passwd/group.master")
    layer.put(regular("etc/passwd", passwd))
    layer.put(regular("etc/group", group))
    # shadowconfig: every account locked ("*"), last change day 0 so the file never varies.
    shadow = "".join(f"{line.split(':')[0]}:*:0:0:99999:7:::\n" for line in passwd.decode().splitlines() if line)
    gshadow = "".join(f"{line.split(':')[0]}:*::\n" for line in group.decode().splitlines() if line)
    layer.put(regular("etc/shadow", shadow.encode(), 0o640, gid=GID_SHADOW))
    layer.put(regular("etc/gshadow", gshadow.encode(), 0o640, gid=GID_SHADOW))


@effect("debianutils")
def shells(layer: Layer, _pkg: str) -> None:
    # update-shells: the template plus every package's shells.d snippet, each path also
    # under /usr because of merged /usr (as Debian's update-shells writes it).
    lines = layer.read("usr/share/debianutils/shells").decode().splitlines()
    snippets = [layer.read(p).decode() for p in layer.files_under("usr/share/debianutils/shells.d/")]
    for shell in (s.strip() for text in snippets for s in text.splitlines()):
        if shell and not shell.startswith("#"):
            for candidate in (shell, "/usr" + shell if not shell.startswith("/usr/") else None):
                if candidate and candidate not in lines:
                    lines.append(candidate)
    layer.put(regular("etc/shells", ("\n".join(lines) + "\n").encode()))


@effect("ca-certificates")
def ca_certificates(layer: Layer, _pkg: str) -> None:
    # update-ca-certificates with the default configuration: every shipped certificate enabled.
    certs = [p for p in layer.files_under("usr/share/ca-certificates/") if p.endswith(".crt")]
    relative = [p.removeprefix("usr/share/ca-certificates/") for p in certs]
    conf = "# Generated by nixbuild (all certificates enabled, as update-ca-certificates does).\n"
    layer.put(regular("etc/ca-certificates.conf", (conf + "".join(r + "\n" for r in relative)).encode()))
    bundle = b"".join(layer.read(p).rstrip(b"\n") + b"\n" for p in certs)
    layer.mkdir("etc/ssl/certs")
    layer.put(regular("etc/ssl/certs/ca-certificates.crt", bundle))
    for path, rel in zip(certs, relative):
        name = posixpath.basename(rel)[: -len(".crt")] + ".pem"
        layer.put(symlink(f"etc/ssl/certs/{name}", "/" + path))


@effect(lambda name: name.startswith("python3.") and name.endswith("-minimal"))
def python_minimal(layer: Layer, pkg: str) -> None:
    version = pkg.removeprefix("python").removesuffix("-minimal")
    layer.mkdir(f"usr/local/lib/python{version}", 0o2775, GID_STAFF)
    layer.mkdir(f"usr/local/lib/python{version}/dist-packages", 0o2775, GID_STAFF)


@effect(lambda name: name.startswith("libpython3.") and name.endswith("-stdlib"))
def python_stdlib(layer: Layer, pkg: str) -> None:
    # Modal's debian_slim lets users `pip install` into the system Python: no PEP 668 marker.
    version = pkg.removeprefix("libpython").removesuffix("-stdlib")
    layer.entries.pop(f"usr/lib/python{version}/EXTERNALLY-MANAGED", None)


@effect("tzdata")
def tzdata(layer: Layer, _pkg: str) -> None:
    layer.put(symlink("etc/localtime", "/usr/share/zoneinfo/Etc/UTC"))
    layer.put(regular("etc/timezone", b"Etc/UTC\n"))


# update-alternatives registrations of common tools: name -> (link, [(package, path, priority)]).
ALTERNATIVES: dict[str, tuple[str, list[tuple[str, str, int]]]] = {
    "awk": ("/usr/bin/awk", [("mawk", "/usr/bin/mawk", 5), ("gawk", "/usr/bin/gawk", 10),
                             ("original-awk", "/usr/bin/original-awk", 0)]),
    "which": ("/usr/bin/which", [("debianutils", "/usr/bin/which.debianutils", 0)]),
    "pager": ("/usr/bin/pager", [("util-linux", "/usr/bin/more", 50), ("less", "/usr/bin/less", 77)]),
    "editor": ("/usr/bin/editor", [("vim-tiny", "/usr/bin/vim.tiny", 15), ("vim", "/usr/bin/vim.basic", 30),
                                   ("nano", "/bin/nano", 40)]),
    "vi": ("/usr/bin/vi", [("vim-tiny", "/usr/bin/vim.tiny", 15), ("vim", "/usr/bin/vim.basic", 30)]),
    "vim": ("/usr/bin/vim", [("vim", "/usr/bin/vim.basic", 30)]),
    "cc": ("/usr/bin/cc", [("gcc", "/usr/bin/gcc", 20), ("clang", "/usr/bin/clang", 10)]),
    "c++": ("/usr/bin/c++", [("g++", "/usr/bin/g++", 20), ("clang", "/usr/bin/clang++", 10)]),
    "c89": ("/usr/bin/c89", [("gcc", "/usr/bin/c89-gcc", 20)]),
    "c99": ("/usr/bin/c99", [("gcc", "/usr/bin/c99-gcc", 20)]),
    "cpp": ("/usr/bin/cpp", [("cpp", "/usr/bin/cpp", 10)]),
    "f77": ("/usr/bin/f77", [("gfortran", "/usr/bin/gfortran", 20)]),
    "f95": ("/usr/bin/f95", [("gfortran", "/usr/bin/gfortran", 20)]),
    "rmt": ("/usr/sbin/rmt", [("tar", "/usr/sbin/rmt-tar", 50)]),
    "nc": ("/bin/nc", [("netcat-openbsd", "/bin/nc.openbsd", 50), ("netcat-traditional", "/bin/nc.traditional", 10)]),
    "lzma": ("/usr/bin/lzma", [("xz-utils", "/usr/bin/xz", 20)]),
    "rename": ("/usr/bin/rename", [("rename", "/usr/bin/file-rename", 60)]),
    "x-terminal-emulator": ("/usr/bin/x-terminal-emulator", []),
}


def apply_alternatives(layer: Layer, usrmerge: Callable[[str], str]) -> None:
    """Point each alternative at its best installed candidate, in the layer that brings it."""
    for name, (link, choices) in sorted(ALTERNATIVES.items()):
        candidates = [c for c in choices if c[0] in layer.installed]
        if not candidates:
            continue
        best = max(candidates, key=lambda c: (c[2], c[1]))
        if best[0] not in layer.new:
            continue  # the link was written by the layer that brought the best candidate
        layer.put(symlink(usrmerge(link.lstrip("/")), f"/etc/alternatives/{name}"))
        layer.put(symlink(f"etc/alternatives/{name}", best[1]))
        admin = f"auto\n{link}\n\n" + "".join(f"{path}\n{prio}\n" for _pkg, path, prio in candidates) + "\n"
        layer.put(regular(f"var/lib/dpkg/alternatives/{name}", admin.encode()))


def apply(layer: Layer, usrmerge: Callable[[str], str]) -> None:
    for pkg in sorted(layer.new):
        for test, fn in EFFECTS:
            if test(pkg):
                fn(layer, pkg)
    apply_alternatives(layer, usrmerge)
