"""What Debian maintainer scripts would have done, done without running them.

Like Google's distroless (rules_distroless), nixbuild never runs preinst/postinst: they
assume a live system, need root and are not reproducible. Instead each effect that matters
in a container is written here as data, applied to the layer of the package that triggers it.
Effects run for packages new in this layer; ``installed`` is every package up to and including
this layer.

Two kinds of effect:
- data effects (``@effect``) write files computed here from the packages' contents;
- configure effects (``@configure``) return commands that deb_layer.py runs, as the maintainer
  script would, in a user-namespace chroot of the whole image so far (lower layers plus this
  one), with the pinned tools of the image itself: ldconfig, the image's own Python,
  update-alternatives, openssl, pam-auth-update. Each command is made deterministic (fixed
  hash seed, timestamps from SOURCE_DATE_EPOCH, logs and caches discarded, see ``DISCARD``);
  what it changed becomes part of the layer. Because they see the whole image, effects that
  are global (ld.so.cache, alternatives) cover the union of every layer's packages.

Deliberately not synthesised (the oracle test, tests/e2e/test_debian_oracle.py, lists them):
systemd unit enablement, logs, debconf's and ldconfig's caches.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable

from layertar import Entry, directory, regular, symlink

# Numeric ids fixed by base-passwd's masters (the same on every Debian release).
GID_MAIL, GID_UTMP, GID_SHADOW = 8, 43, 42


class Layer:
    """The entries being assembled for one layer, with helpers for the effects."""

    def __init__(self, entries: dict[str, Entry], new: set[str], installed: set[str],
                 control: dict[str, dict[str, bytes]] | None = None, files: dict[str, list[str]] | None = None):
        self.entries = entries
        self.new = new
        self.installed = installed
        self.control = control or {}  # new package -> its control files (postinst, triggers, ...)
        self.files = files or {}  # new package -> the image paths it ships
        self.inputs: dict[str, bytes] = {}  # files the configure commands read, never in the layer
        # path -> (group, mode) set after the configure commands (which may create the group):
        # the sandbox can neither give files to other ids nor set setgid bits.
        self.group_modes: dict[str, tuple[str, int]] = {}

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
    # install_local_dir: 2775 root:staff only where /etc/staff-group-for-usr-local exists (an
    # opt-in that no package ships), so 0755 root:root on a new system.
    for sub in ("", "/share", "/share/man", "/bin", "/games", "/lib", "/include", "/sbin", "/src", "/etc"):
        layer.mkdir("usr/local" + sub)
    layer.put(symlink("usr/local/man", "share/man"))
    layer.put(symlink("etc/dpkg/origins/default", "debian"))
    for src, dst in (("dot.profile", "root/.profile"), ("dot.bashrc", "root/.bashrc"),
                     ("profile", "etc/profile"), ("motd", "etc/motd")):
        layer.put(regular(dst, layer.read(f"usr/share/base-files/{src}")))
    # The info directory's index, where the slim rules left /usr/share/info itself in place.
    if "usr/share/info" in layer.entries and "usr/share/info/dir" not in layer.entries \
            and "usr/share/base-files/info.dir" in layer.entries:
        layer.put(regular("usr/share/info/dir", layer.read("usr/share/base-files/info.dir")))
    layer.put(regular("var/log/wtmp", b"", 0o664, gid=GID_UTMP))
    layer.put(regular("var/log/btmp", b"", 0o660, gid=GID_UTMP))
    layer.put(regular("var/log/lastlog", b"", 0o664, gid=GID_UTMP))


@effect("base-passwd")
def base_passwd(layer: Layer, _pkg: str) -> None:
    passwd = layer.read("usr/share/base-passwd/passwd.master")
    group = layer.read("usr/share/base-passwd/group.master")
    # shadowconfig on (pwconv, grpconv): each password moves to the shadow file, "x" in its
    # place; the day of the last change is 0, not the day of the build, so the file never varies.
    users = [line.split(":") for line in passwd.decode().splitlines() if line]
    groups = [line.split(":") for line in group.decode().splitlines() if line]
    layer.put(regular("etc/passwd", "".join(":".join([u[0], "x", *u[2:]]) + "\n" for u in users).encode()))
    layer.put(regular("etc/group", "".join(":".join([g[0], "x", *g[2:]]) + "\n" for g in groups).encode()))
    shadow = "".join(f"{u[0]}:{u[1]}:0:0:99999:7:::\n" for u in users)
    gshadow = "".join(f"{g[0]}:{g[1]}::\n" for g in groups)
    layer.put(regular("etc/shadow", shadow.encode(), 0o640, gid=GID_SHADOW))
    layer.put(regular("etc/gshadow", gshadow.encode(), 0o640, gid=GID_SHADOW))
    # The same postinst creates empty subordinate id files (useradd fills them).
    layer.put(regular("etc/subuid", b""))
    layer.put(regular("etc/subgid", b""))


@effect("libc-bin")
def nsswitch(layer: Layer, _pkg: str) -> None:
    """libc-bin's postinst: install_from_default of /etc/nsswitch.conf on first install."""
    layer.put(regular("etc/nsswitch.conf", layer.read("usr/share/libc-bin/nsswitch.conf")))


@effect("python3")
def python_debian_config(layer: Layer, _pkg: str) -> None:
    """python3's postinst new_config_file: /etc/python3/debian_config (not a conffile)."""
    layer.mkdir("etc/python3")
    layer.put(regular("etc/python3/debian_config", b"[DEFAULT]\n# how to byte-compile (comma separated: "
                      b"standard, optimize)\nbyte-compile = standard\n"))


@effect("debianutils")
def shells(layer: Layer, _pkg: str) -> None:
    """The /etc/shells that debianutils' first configure leaves (the template and every
    package's shells.d snippet, as shipped); ``update_shells`` then adds each shell's real
    path (/usr/bin/... on merged /usr) after them, as the later trigger run does in Debian."""
    lines = layer.read("usr/share/debianutils/shells").decode().splitlines()
    for path in layer.files_under("usr/share/debianutils/shells.d/"):
        for shell in (s.split("#", 1)[0].strip() for s in layer.read(path).decode().splitlines()):
            if shell and shell not in lines:
                lines.append(shell)
    layer.put(regular("etc/shells", ("\n".join(lines) + "\n").encode()))


@effect("netbase")
def networks(layer: Layer, _pkg: str) -> None:
    """netbase's postinst create_networks_file (not a conffile)."""
    layer.put(regular("etc/networks", b"default\t\t0.0.0.0\nloopback\t127.0.0.0\nlink-local\t169.254.0.0\n\n"))


@effect("ca-certificates")
def ca_certificates(layer: Layer, _pkg: str) -> None:
    # update-ca-certificates with the default configuration: every shipped certificate enabled.
    certs = [p for p in layer.files_under("usr/share/ca-certificates/") if p.endswith(".crt")]
    relative = [p.removeprefix("usr/share/ca-certificates/") for p in certs]
    conf = ("# This file lists certificates that you wish to use or to ignore to be\n"
            "# installed in /etc/ssl/certs.\n"
            "# update-ca-certificates(8) will update /etc/ssl/certs by reading this file.\n"
            "#\n"
            "# This is autogenerated by dpkg-reconfigure ca-certificates.\n"
            "# Certificates should be installed under /usr/share/ca-certificates\n"
            "# and files with extension '.crt' is recognized as available certs.\n"
            "#\n"
            "# line begins with # is comment.\n"
            "# line begins with ! is certificate filename to be deselected.\n"
            "#\n")  # the postinst's header of a new file, then every certificate, sorted
    layer.put(regular("etc/ca-certificates.conf", (conf + "".join(r + "\n" for r in relative)).encode()))
    bundle = b"".join(layer.read(p).rstrip(b"\n") + b"\n" for p in certs)
    layer.mkdir("etc/ssl/certs")
    layer.put(regular("etc/ssl/certs/ca-certificates.crt", bundle))
    for path, rel in zip(certs, relative):
        name = posixpath.basename(rel)[: -len(".crt")] + ".pem"
        layer.put(symlink(f"etc/ssl/certs/{name}", "/" + path))
    # The postinst's local certificate folder, with the mode and group of /usr/local (base_files).
    layer.mkdir("usr/local/share/ca-certificates")


@effect("readline-common")
def inputrc(layer: Layer, _pkg: str) -> None:
    """readline-common's postinst: install_from_default of /etc/inputrc (``cp -p``)."""
    source = layer.entries["usr/share/readline/inputrc"].info
    layer.put(regular("etc/inputrc", layer.read("usr/share/readline/inputrc"), source.mode & 0o7777))


@effect("libpam-modules")
def pam_modules(layer: Layer, _pkg: str) -> None:
    """libpam-modules' postinst: an empty /etc/security/opasswd (umask 066) and /etc/environment."""
    if "etc/security" not in layer.entries:
        layer.mkdir("etc/security")
    layer.put(regular("etc/security/opasswd", b"", 0o600))
    layer.put(regular("etc/environment", b""))


@effect(lambda name: name.startswith("python3.") and name.endswith("-minimal"))
def python_minimal(layer: Layer, pkg: str) -> None:
    # 2755 root:staff only with /etc/staff-group-for-usr-local (see base_files): 0755 root:root.
    version = pkg.removeprefix("python").removesuffix("-minimal")
    layer.mkdir(f"usr/local/lib/python{version}")
    layer.mkdir(f"usr/local/lib/python{version}/dist-packages")
    # The preinst's marker of a newly installed runtime (the postinst leaves it).
    layer.mkdir("var/lib/python")
    layer.put(regular(f"var/lib/python/python{version}_installed", b""))


@effect(lambda name: name.startswith("libpython3.") and name.endswith("-stdlib"))
def python_stdlib(layer: Layer, pkg: str) -> None:
    # Modal's debian_slim lets users `pip install` into the system Python: no PEP 668 marker.
    version = pkg.removeprefix("libpython").removesuffix("-stdlib")
    layer.entries.pop(f"usr/lib/python{version}/EXTERNALLY-MANAGED", None)


@effect("tzdata")
def tzdata(layer: Layer, _pkg: str) -> None:
    layer.put(symlink("etc/localtime", "/usr/share/zoneinfo/Etc/UTC"))
    layer.put(regular("etc/timezone", b"Etc/UTC\n"))


LOCALE_GEN_HEADER = (
    "# This file lists locales that you wish to have built. You can find a list\n"
    "# of valid supported locales at /usr/share/i18n/SUPPORTED, and you can add\n"
    "# user defined locales to /usr/local/share/i18n/SUPPORTED. If you change\n"
    "# this file, you need to rerun locale-gen.\n"
    "#\n\n")


def _bre(literal: str) -> str:
    """A locale name as the postinst's grep and sed read it (a basic regular expression, in
    which '.' is the only special character a locale name holds), for Python's re."""
    return "".join("." if c == "." else re.escape(c) for c in literal)


@effect("locales")
def locales(layer: Layer, _pkg: str) -> None:
    """locales' postinst with debconf's defaults (no locale selected, default environment
    "None"): /etc/locale.gen is its header, then every supported locale commented out, in
    ``sort -u`` order (C locale: code points), each added unless a line already names it (the
    postinst's ``grep -q "^[# ]*$locale *$"``: the locale is a regular expression there too).
    Then each selected locale is uncommented (``sed "0,/^[# ]*$locale *$/ s//$locale/"``): with
    none selected, the loop still runs once with an empty name, which blanks the header's lone
    ``#`` line, as in Debian. locale-gen then has nothing to generate; ``update-locale
    --no-checks LANG`` leaves /etc/default/locale with update-locale's header alone."""
    supported = sorted({line.rstrip(" ") for line in layer.read("usr/share/i18n/SUPPORTED").decode().splitlines()
                        if re.match(r"[a-zA-Z]", line)})
    text = LOCALE_GEN_HEADER
    for locale in supported:
        if not re.search(rf"^[# ]*{_bre(locale)} *$", text, re.MULTILINE):
            text += f"# {locale}\n"
    for locale in [""]:  # `echo "$SELECTED_LOCALES" | while read locale` with nothing selected
        text = re.sub(rf"^[# ]*{_bre(locale)} *$", locale, text, count=1, flags=re.MULTILINE)
    layer.put(regular("etc/locale.gen", text.encode()))
    layer.put(regular("etc/default/locale", b"#  File generated by update-locale\n"))


CONFIGURE: list[Callable[[Layer], list[str]]] = []

# What the configure commands leave that is a log, a cache or a lock, never part of a layer:
# the update-alternatives log, ldconfig's aux-cache (inode numbers and ctimes), debconf's
# databases, the shadow tools' and adduser's locks and the shadow tools' backups (addgroup).
DISCARD = ("var/log/alternatives.log", "var/cache/ldconfig/aux-cache", "var/cache/debconf/",
           "etc/.pwd.lock", "etc/group-", "etc/gshadow-", "etc/passwd-", "etc/shadow-", "run/adduser")


def configure(fn: Callable[[Layer], list[str]]):
    """Register a configure effect: the shell commands to run in the chroot of the image."""
    CONFIGURE.append(fn)
    return fn


def discarded(path: str) -> bool:
    return any(path == d or (d.endswith("/") and path.startswith(d)) for d in DISCARD)


def _shell_blocks(script: str) -> tuple[list[str], list[str]]:
    """Split a maintainer script into its function definitions and its complete
    ``update-alternatives --install`` commands (continuation lines and ``$( ... )`` included)."""
    lines = script.splitlines()
    functions: list[str] = []
    installs: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*\(\)\s*\{?\s*$", line):
            end = i
            while end < len(lines) and lines[end].rstrip() != "}":
                end += 1
            body = "\n".join(lines[i:end + 1])
            functions.append(body)
            if re.search(r"update-alternatives[^\n]*--install", body):
                installs.append(line.split("(")[0].strip())  # debianutils' ua(): called conditionally
            i = end + 1
            continue
        if line.strip().startswith("update-alternatives"):
            block = [line]
            depth = line.count("(") - line.count(")")
            while (block[-1].rstrip().endswith("\\") or depth > 0) and i + 1 < len(lines):
                i += 1
                block.append(lines[i])
                depth += lines[i].count("(") - lines[i].count(")")
            text = "\n".join(block)
            if "--install" in text:
                installs.append(text)
        i += 1
    return functions, installs


@configure
def alternatives(layer: Layer) -> list[str]:
    """The ``update-alternatives --install`` lines of each new package's postinst, run with the
    image's own update-alternatives (dpkg): links, slaves whose targets exist, and the admin
    files in /var/lib/dpkg/alternatives, which also hold the lower layers' registrations, so
    the best candidate is chosen among every layer's packages."""
    commands = []
    for pkg in sorted(layer.new):
        script = layer.control.get(pkg, {}).get("postinst", b"").decode(errors="replace")
        functions, installs = _shell_blocks(script)
        if installs:
            commands.append("set -e\n" + "\n".join(functions + installs))
    return commands


def _compiled_by(pkg: str, layer: Layer) -> bool:
    """Whether Debian byte-compiles ``pkg``'s modules at configure time: its own postinst runs
    py3compile / py_compile, or it is libpython3.X-minimal / -stdlib, which the postinsts of
    python3.X-minimal and python3.X compile."""
    script = layer.control.get(pkg, {}).get("postinst", b"")
    return (b"py3compile" in script or b"py_compile" in script
            or re.fullmatch(r"libpython3\.\d+-(minimal|stdlib)", pkg) is not None)


def _interpreter(path: str) -> str:
    match = re.match(r"usr/lib/python(3\.\d+)/", path)
    return f"/usr/bin/python{match.group(1)}" if match else "/usr/bin/python3"


# Byte-compile a list of files with a fixed hash seed (set order in constants), so the same
# sources give the same .pyc bytes, in a few forked processes (each file's .pyc depends on
# that file alone, not on which process compiled it or how many there were: debian_slim's
# standard library took 1.4 s in one). Unchecked-hash pycs (PEP 552, as reproducible builds
# make them): valid whatever mtimes the runtime gives the files (timestamp pycs recorded mtime
# 1 here, not the layer's SOURCE_DATE_EPOCH, and were ignored in the image); the price:
# editing a Debian module in place needs `python3 -m py_compile` again. Files that do not
# compile are skipped, as py3compile does; a process that dies fails the command.
PY_COMPILE = """\
import os, py_compile, sys
files = open(sys.argv[1]).read().split()
workers = max(1, min(os.cpu_count() or 1, 8))
children = []
for part in range(workers - 1):
    pid = os.fork()
    if pid == 0:
        break
    children.append(pid)
else:
    part = workers - 1
for f in files[part::workers]:
    try:
        py_compile.compile(f, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError:
        pass
if part < workers - 1:
    os._exit(0)
sys.exit(any(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children))
"""


@configure
def byte_compile(layer: Layer) -> list[str]:
    """py3compile (dh_python3's postinst snippet) and the py_compile runs of python3.X's and
    python3.X-minimal's postinsts: a .pyc in __pycache__ for every module the new packages
    ship in /usr/lib/python3.X, /usr/lib/python3/dist-packages and /usr/share/python3."""
    by_python: dict[str, list[str]] = {}
    for pkg in sorted(layer.new):
        if not _compiled_by(pkg, layer):
            continue
        for path in layer.files.get(pkg, []):
            entry = layer.entries.get(path)
            if (path.endswith(".py") and entry is not None and (entry.info.isfile() or entry.info.issym())
                    and re.match(r"usr/(lib/python3(\.\d+)?|share/python3)/", path)):
                by_python.setdefault(_interpreter(path), []).append("/" + path)
    commands = []
    for python, files in sorted(by_python.items()):
        name = f"run/nixbuild-configure/compile-{posixpath.basename(python)}.list"
        layer.inputs[name] = "".join(f + "\n" for f in sorted(set(files))).encode()
        commands.append(f"PYTHONHASHSEED=0 {python} -B -S -s -c {shlex.quote(PY_COMPILE)} /{name}")
    return commands


@configure
def ca_hash_links(layer: Layer) -> list[str]:
    """update-ca-certificates' ``openssl rehash``: the <subject hash>.0 links in
    /etc/ssl/certs that OpenSSL's CA-directory lookup needs."""
    if not any(p.startswith("usr/share/ca-certificates/") for pkg in layer.new
               for p in layer.files.get(pkg, [])):
        return []
    return ["openssl rehash /etc/ssl/certs"]


@configure
def pam_auth_update(layer: Layer) -> list[str]:
    """libpam-runtime's postinst ``pam-auth-update --package --force``: /etc/pam.d/common-*
    from the profiles in /usr/share/pam-configs (su and login include them)."""
    if not any(p.startswith("usr/share/pam-configs/") for pkg in layer.new for p in layer.files.get(pkg, [])):
        return []
    force = " --force" if "libpam-runtime" in layer.new else ""
    return [f"DEBIAN_FRONTEND=noninteractive pam-auth-update --package{force}"]


@configure
def update_shells(layer: Layer) -> list[str]:
    """debianutils' postinst and its trigger on /usr/share/debianutils/shells.d: update-shells
    writes /etc/shells (each shell also by its real path, /usr/bin/... on merged /usr) and
    /var/lib/shells.state, in the order Debian's own run gives."""
    if "debianutils" in layer.new or any(p.startswith("usr/share/debianutils/shells.d/") for pkg in layer.new
                                          for p in layer.files.get(pkg, [])):
        return ["update-shells"]
    return []


@configure
def ssh_agent_group(layer: Layer) -> list[str]:
    """openssh-client's postinst set_ssh_agent_permissions: the system group _ssh (adduser's
    ``addgroup --system``, the first free gid from 100, as in Debian), and ssh-agent setgid
    _ssh (``chgrp _ssh``, ``chmod 2755``), applied after the configure commands."""
    if "openssh-client" not in layer.new:
        return []
    layer.group_modes["usr/bin/ssh-agent"] = ("_ssh", 0o2755)
    return ["getent group _ssh >/dev/null || addgroup --system --quiet --force-badname _ssh"]


@configure
def postgresql_client_manpages(layer: Layer) -> list[str]:
    """postgresql-client-N's postinst: ``configure_client_version N`` from postgresql-common's
    maintscripts-functions, whose _link_manpages makes psql.1.gz an alternative with the
    package's other man pages (``dpkg -L``) as its slaves. Run as the postinst runs it (the
    functions come from postgresql-client-common, a dependency)."""
    commands = []
    for pkg in sorted(layer.new):
        match = re.fullmatch(r"postgresql-client-(\d+)", pkg)
        if match:
            commands.append(f"DPKG_MAINTSCRIPT_PACKAGE={pkg}; . /usr/share/postgresql-common/maintscripts-functions"
                            f" && configure_client_version {match.group(1)}")
    return commands


@configure
def ldconfig(layer: Layer) -> list[str]:
    """libc-bin's postinst and its ``ldconfig`` trigger (activated by every package with
    shared libraries): /etc/ld.so.cache for the whole image, and missing SONAME links."""
    triggered = any(b"ldconfig" in layer.control.get(pkg, {}).get("triggers", b"") for pkg in layer.new)
    return ["ldconfig"] if triggered or "libc-bin" in layer.new else []


def set_group_modes(layer: Layer, group_file: str) -> None:
    """Give the paths of ``layer.group_modes`` their group (by name, from the configured image's
    /etc/group, ``group_file``) and mode."""
    gids = {fields[0]: int(fields[2]) for fields in (line.split(":") for line in group_file.splitlines())
            if len(fields) > 2}
    for path, (group, mode) in layer.group_modes.items():
        info = layer.entries[path].info
        info.gid, info.mode = gids[group], mode


def apply(layer: Layer) -> list[str]:
    """Apply the data effects to ``layer``; return the configure commands, in order."""
    for pkg in sorted(layer.new):
        for test, fn in EFFECTS:
            if test(pkg):
                fn(layer, pkg)
    return [command for fn in CONFIGURE for command in fn(layer)]
