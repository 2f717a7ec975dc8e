"""What a GPU builder needs: the machines-file line, nix.conf lines and pre-build hook.

``gpu=`` steps require the Nix system features ``cuda`` and ``gpu-<type>`` (plan.gpu_features),
so Nix builds them only on a builder that advertises both. The machines line makes ``cuda``
mandatory there, so the GPU machine takes gpu= steps only (Nix would otherwise hand it any
layer); every other layer builds locally or on other builders. A GPU builder needs three things, which
``nixbuild builders`` prints:

- on the machine that builds: a machines-file line (``/etc/nix/machines``, nix.conf
  ``builders`` or ``nixbuild build --builders``) naming the builder and its features;
- on the GPU machine: nix.conf ``extra-system-features`` and ``pre-build-hook``;
- the hook (nix/gpu-hook.sh), the same contract as NixOS's ``nix-required-mounts``: a
  derivation that requires ``cuda`` or ``gpu`` gets ``/dev/nvidia*`` and the driver's library
  directory bound into its sandbox; no other derivation sees them.
"""

from __future__ import annotations

import base64
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from nixbuild.api.gpu import parse_gpu
from nixbuild.plan import gpu_features
from nixbuild.tools.nixcmd import nix_dir

# Where nix-required-mounts exposes the driver, and where GPU code in a sandbox looks for it.
DRIVER_TARGET = "/run/opengl-driver/lib"
HOOK_INSTALL_PATH = "/etc/nix/nixbuild-gpu-hook.sh"


class GpuBuilder(BaseModel):
    """One remote GPU builder, as the user describes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str  # user@host, as ssh takes it
    gpus: tuple[str, ...]  # gpu= values it serves: "T4", "A100", ...
    protocol: str = "ssh-ng"
    system: str = "x86_64-linux"
    ssh_key: str | None = None
    host_key: Path | None = None  # its ssh host public key file (pins the host)
    jobs: int = 1
    driver_dir: str = "/usr/lib/x86_64-linux-gnu"

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        if value not in ("ssh", "ssh-ng"):
            raise ValueError(f"protocol {value!r}: Nix builders are reached over ssh or ssh-ng")
        return value

    @property
    def features(self) -> list[str]:
        found: list[str] = []
        for gpu in self.gpus:
            spec = parse_gpu(gpu)
            found += [f for f in gpu_features(spec) if f not in found]
        return found or ["cuda"]

    def machines_line(self) -> str:
        host_key = base64.b64encode(self.host_key.read_bytes()).decode() if self.host_key else "-"
        return " ".join([f"{self.protocol}://{self.host}", self.system, self.ssh_key or "-", str(self.jobs), "1",
                         ",".join(self.features), "cuda", host_key])

    def nix_conf(self) -> list[str]:
        return [f"extra-system-features = {' '.join(self.features)}",
                f"pre-build-hook = {HOOK_INSTALL_PATH}"]

    def hook(self) -> str:
        """nix/gpu-hook.sh, with the driver directory as its default extra path."""
        shebang, rest = (nix_dir() / "gpu-hook.sh").read_text().split("\n", 1)
        default = f"{DRIVER_TARGET}={self.driver_dir}"
        return f'{shebang}\n: "${{NIXBUILD_GPU_PATHS={default}}}"\n{rest}'


def render(builder: GpuBuilder) -> str:
    """The text ``nixbuild builders`` prints."""
    return "\n".join([
        "# 1. On the machine that runs `nixbuild build`: a line of /etc/nix/machines",
        "#    (or nix.conf `builders = @FILE`, or `nixbuild build --builders 'LINE'`):",
        builder.machines_line(),
        "",
        "# 2. On the GPU machine, in /etc/nix/nix.conf (the ssh user must be a trusted-user",
        "#    when its Nix runs as a daemon):",
        *builder.nix_conf(),
        "",
        f"# 3. On the GPU machine, {HOOK_INSTALL_PATH} (chmod 755): exposes /dev/nvidia* and the",
        f"#    driver libraries (at {DRIVER_TARGET}) to derivations requiring cuda/gpu only",
        f"cat > {HOOK_INSTALL_PATH} <<'EOF'",
        builder.hook().rstrip("\n"),
        "EOF",
        "",
    ])
