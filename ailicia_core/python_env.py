"""Which Python OBS runs, and the one command that installs ``requests`` into *that* Python.

OBS embeds its own interpreter; ``pip install requests`` in a terminal usually
targets a different one. Everything here is pure (no ``requests``, no
subprocess): the OBS script reads ``sys`` once and passes the values in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple, Union

#: The Flatpak build of OBS Studio.
FLATPAK_APP_ID = "com.obsproject.Studio"

Version = Union[str, Sequence[int]]


@dataclass(frozen=True)
class PythonInfo:
    """The interpreter OBS runs: enough to name it and to install a package into it."""

    version: str
    prefix: str
    platform: str
    flatpak: bool = False
    macos_framework: bool = False


def looks_like_flatpak(prefix: str) -> bool:
    """True for a prefix inside a Flatpak app (``/app``)."""
    prefix = prefix.rstrip("/")
    return prefix == "/app" or prefix.startswith("/app/")


def looks_like_macos_framework(prefix: str, platform: str) -> bool:
    """True for a macOS framework build (python.org or Homebrew): ``…/Python.framework/Versions/3.X``."""
    return platform == "darwin" and "Python.framework" in prefix


def python_info(version: Version, prefix: str, platform: str) -> PythonInfo:
    """A :class:`PythonInfo` with the Flatpak and framework flags worked out from ``prefix``."""
    return PythonInfo(
        version=_version_text(version),
        prefix=prefix,
        platform=platform,
        flatpak=platform.startswith("linux") and looks_like_flatpak(prefix),
        macos_framework=looks_like_macos_framework(prefix, platform),
    )


def install_command(
    version: Version, prefix: str, platform: str, *, flatpak: bool = False, macos_framework: bool = False
) -> str:
    """The exact command that installs ``requests`` into the Python at ``prefix``.

    Windows and macOS name the interpreter by its full path, so pip cannot
    pick another Python; a Linux system Python (``/usr``) gets the
    distribution's package, as pip refuses to touch it there (PEP 668).
    """
    minor = _minor(version)
    if platform.startswith("win"):
        executable = prefix.rstrip("\\/") + "\\python.exe"
        return f'"{executable}" -m pip install requests'
    if flatpak:
        return f"flatpak run --command=python3 {FLATPAK_APP_ID} -m pip install --user requests"
    if platform == "darwin" or macos_framework:
        return f'"{prefix.rstrip("/")}/bin/python{minor}" -m pip install requests'
    if _is_system_prefix(prefix):
        return "sudo apt install python3-requests"
    return f'"{prefix.rstrip("/")}/bin/python{minor}" -m pip install requests'


def install_alternatives(info: PythonInfo) -> Tuple[str, ...]:
    """Other distributions' equivalents of the system-package command (empty when not relevant)."""
    if info.platform.startswith("linux") and not info.flatpak and _is_system_prefix(info.prefix):
        return ("Fedora: sudo dnf install python3-requests", "Arch: sudo pacman -S python-requests")
    return ()


def missing_requests_lines(info: PythonInfo) -> Tuple[str, ...]:
    """What the panel says when ``requests`` cannot be imported: plain words, no traceback."""
    command = install_command(info.version, info.prefix, info.platform, flatpak=info.flatpak,
                              macos_framework=info.macos_framework)
    lines = [
        "ai_licia-obs needs the Python package 'requests', and the Python that OBS runs cannot import it.",
        f"OBS runs Python {info.version} from {info.prefix}.",
        "Install it into that Python with:",
        command,
    ]
    alternatives = install_alternatives(info)
    if alternatives:
        lines.append("(" + "; ".join(alternatives) + ")")
    lines.append("Then press Reload Scripts in Tools → Scripts, or restart OBS.")
    return tuple(lines)


def _is_system_prefix(prefix: str) -> bool:
    return prefix.rstrip("/") == "/usr"


def _version_text(version: Version) -> str:
    if isinstance(version, str):
        return version.split()[0]
    return ".".join(str(part) for part in tuple(version)[:3])


def _minor(version: Version) -> str:
    parts = _version_text(version).split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else parts[0]
