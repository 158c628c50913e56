"""Which Python OBS runs, what kind of setup it is, and what to tell the streamer about it.

OBS embeds its own interpreter; ``pip install requests`` in a terminal usually targets a
different one. Three layers, each tested on its own:

- :func:`observe` reads the running interpreter once (``sys``, ``os``, ``sysconfig``) into
  plain :class:`PythonFacts`; it is the only part that looks at the machine.
- :func:`setup_of` and :func:`install_command` are pure: facts in, a setup kind or a command out.
- :func:`missing_requests_lines`, :func:`python_line` and :func:`check_lines` turn them into words
  (this module renders its own page: the panel shows it when ``requests`` cannot be imported).

With the release zip (``vendored``) the only advice is about pointing OBS at a suitable Python:
the zip carries ``requests``. ``python -m ailicia_core.python_env`` prints :func:`check_lines`
for the Python that runs it, to check a Python before choosing it in OBS.
No ``requests`` and no subprocess here.
"""

from __future__ import annotations

import os
import struct
import sys
import sysconfig
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

from .vendoring import is_inside

#: The Flatpak build of OBS Studio.
FLATPAK_APP_ID = "com.obsproject.Studio"
#: The oldest Python the vendored packages support (requests 2.34 and urllib3 2.7+: Requires-Python >= 3.10).
OLDEST_SUPPORTED = (3, 10)
#: OBS 28–33 load at most this Python (3.13 does not load); 3.12 is the one to pick for OBS 30.1+.
NEWEST_OBS_LOADS = (3, 12)

# Setup kinds (setup_of).
FLATPAK = "flatpak"
WINDOWS = "windows"
WINDOWS_MANAGER = "windows-install-manager"
MACOS_FRAMEWORK = "macos-framework"
HOMEBREW = "homebrew"
LINUX_SYSTEM = "linux-system"
OTHER = "other"

Version = Union[str, Sequence[int]]


@dataclass(frozen=True)
class PythonFacts:
    """The interpreter OBS runs, as plain values.

    ``build_platform`` is ``sysconfig.get_platform()`` (``win-amd64``, ``macosx-10.13-universal2``…);
    ``externally_managed`` is PEP 668's marker (pip refuses to install there); ``flatpak`` means the
    process runs inside a Flatpak sandbox; ``vendored`` that the zip's ``ailicia_vendor`` folder is used.
    """

    version: str
    prefix: str
    platform: str
    build_platform: str = ""
    bits: int = 64
    flatpak: bool = False
    externally_managed: bool = False
    vendored: bool = False


def observe(*, vendored: bool = False, environ: Optional[dict] = None) -> PythonFacts:
    """The facts about the running interpreter (reads ``sys``, the environment and two files)."""
    environ = os.environ if environ is None else environ
    stdlib = sysconfig.get_paths().get("stdlib", "")
    # The Flatpak sandbox always has /.flatpak-info and sets FLATPAK_ID; its Python lives at /usr.
    in_flatpak = bool(environ.get("FLATPAK_ID")) or os.path.exists("/.flatpak-info")
    return PythonFacts(
        version=version_text(sys.version_info),
        prefix=sys.prefix,
        platform=sys.platform,
        build_platform=sysconfig.get_platform(),
        bits=struct.calcsize("P") * 8,
        flatpak=sys.platform.startswith("linux") and in_flatpak,
        externally_managed=bool(stdlib) and os.path.isfile(os.path.join(stdlib, "EXTERNALLY-MANAGED")),
        vendored=vendored,
    )


# --- facts -> kinds and commands (pure) ---------------------------------------------------------


def setup_of(facts: PythonFacts) -> str:
    """What kind of Python this is, for the advice: one of the setup constants above."""
    prefix = facts.prefix.replace("\\", "/").rstrip("/")
    if facts.platform.startswith("win"):
        # The Python install manager (py install) puts each runtime in %LocalAppData%\Python\pythoncore-3.X-64.
        return WINDOWS_MANAGER if prefix.rsplit("/", 1)[-1].lower().startswith("pythoncore-") else WINDOWS
    if facts.platform == "darwin":
        if "/homebrew/" in prefix + "/" or "/Cellar/" in prefix or prefix.startswith("/usr/local/opt/"):
            return HOMEBREW
        return MACOS_FRAMEWORK if "Python.framework" in prefix else OTHER
    if facts.platform.startswith("linux"):
        if facts.flatpak:
            return FLATPAK
        return LINUX_SYSTEM if prefix == "/usr" else OTHER
    return OTHER


def supported(facts: PythonFacts) -> bool:
    """True when the vendored packages (and so this script) support this Python version."""
    return _numbers(facts.version)[:2] >= OLDEST_SUPPORTED


def executable_path(facts: PythonFacts) -> str:
    """The interpreter's full path under ``prefix`` (what a terminal must name to reach this Python)."""
    if facts.platform.startswith("win"):
        return facts.prefix.rstrip("\\/") + "\\python.exe"
    return f"{facts.prefix.rstrip('/')}/bin/python{minor(facts.version)}"


def install_command(facts: PythonFacts) -> str:
    """The command that installs ``requests`` into this Python ("" where no command can: Flatpak)."""
    kind = setup_of(facts)
    if kind == FLATPAK:
        return ""  # the runtime's Python at /usr is read-only and has no pip: only the zip works
    if kind == LINUX_SYSTEM:
        return "sudo apt install python3-requests"
    command = f'"{executable_path(facts)}" -m pip install requests'
    if kind == HOMEBREW or facts.externally_managed:
        # PEP 668: pip refuses ("externally-managed-environment") unless told to install for this user anyway.
        command += " --user --break-system-packages"
    return command


def install_alternatives(facts: PythonFacts) -> Tuple[str, ...]:
    """Other distributions' equivalents of the system-package command (empty when not relevant)."""
    if setup_of(facts) == LINUX_SYSTEM:
        return ("Fedora: sudo dnf install python3-requests", "Arch: sudo pacman -S python-requests")
    return ()


# --- words ------------------------------------------------------------------------------------------


def describe(facts: PythonFacts) -> str:
    """``Python 3.11.2 from /usr`` (plus the Flatpak note where it applies)."""
    where = f"Python {facts.version} from {facts.prefix}"
    return where + " (the Flatpak runtime's Python)" if setup_of(facts) == FLATPAK else where


def pick_a_python_lines() -> Tuple[str, ...]:
    """How to point OBS at a Python it can load (the only advice with the zip)."""
    return (
        "In OBS open Tools → Scripts → Python Settings and choose the folder of a 64-bit Python 3.12 "
        "(3.11 for OBS older than 30.1; 3.13 does not load), then restart OBS.",
    )


def missing_requests_lines(facts: PythonFacts, reason: str = "") -> Tuple[str, ...]:
    """What the panel says when ``requests`` cannot be imported: plain words, no traceback."""
    lines = [
        f"ai_licia-obs needs the Python package 'requests', and the Python that OBS runs cannot import it."
        f" OBS runs {describe(facts)}."
    ]
    if not supported(facts):
        lines.append(f"ai_licia-obs needs Python {_dotted(OLDEST_SUPPORTED)} or newer.")
        lines.extend(pick_a_python_lines())
        return tuple(lines)
    if facts.vendored:
        lines.append(
            "The ailicia_vendor folder next to ailicia_obs.py should provide it"
            + (f" ({reason})." if reason else ".")
            + " Unzip the release again and keep the whole folder together."
        )
        lines.append("Then press Reload Scripts in Tools → Scripts, or restart OBS.")
        return tuple(lines)
    kind = setup_of(facts)
    if kind == FLATPAK:
        lines.append(
            "That Python has no pip and cannot be changed; apt or pip in a terminal do not reach it. "
            "Use the release zip of ai_licia-obs: it carries requests."
        )
        return tuple(lines)
    lines.append(
        "Easiest: use the release zip of ai_licia-obs, which carries requests. Or install it into that Python with:"
    )
    lines.append(install_command(facts))
    alternatives = install_alternatives(facts)
    if alternatives:
        lines.append("(" + "; ".join(alternatives) + ")")
    if kind == HOMEBREW:
        lines.append("(Homebrew's Python refuses plain pip installs; the python.org installer has no such rule.)")
    lines.append("Then press Reload Scripts in Tools → Scripts, or restart OBS.")
    return tuple(lines)


def python_line(
    facts: PythonFacts,
    requests_version: str,
    requests_file: str,
    vendor_folder: str = "",
    forgotten: Sequence[str] = (),
) -> str:
    """The panel's note on which Python runs and where ``requests`` came from."""
    if vendor_folder and is_inside(requests_file, vendor_folder):
        origin = "the ailicia_vendor folder beside the script"
    else:
        origin = os.path.dirname(os.path.dirname(requests_file)) or "an unknown place"
    line = f"OBS runs {describe(facts)}; requests {requests_version} from {origin}."
    if forgotten:
        line += (
            f" Python had already loaded {', '.join(forgotten)} from elsewhere (another script or a .pth file);"
            " ai_licia-obs uses its own copies."
        )
    return line


def check_lines(facts: PythonFacts) -> Tuple[str, ...]:
    """Can OBS load this Python? For ``python -m ailicia_core.python_env`` in a terminal."""
    numbers = _numbers(facts.version)[:2]
    lines = [f"This is {describe(facts)}, built for {facts.build_platform or facts.platform} ({facts.bits}-bit)."]
    problems = []
    if numbers > NEWEST_OBS_LOADS:
        problems.append(f"OBS 28–33 cannot load Python {_dotted(numbers)}: install Python 3.12.")
    if numbers < OLDEST_SUPPORTED:
        problems.append(f"ai_licia-obs needs Python {_dotted(OLDEST_SUPPORTED)} or newer: install Python 3.12.")
    if facts.bits != 64 or facts.build_platform == "win32":
        problems.append("OBS 28 and newer are 64-bit and cannot load a 32-bit Python: install the 64-bit one.")
    if facts.platform == "darwin" and facts.build_platform.endswith("x86_64"):
        problems.append(
            "This Python is built for Intel Macs only: OBS for Apple silicon cannot load it "
            "(the python.org installer is universal2 and works with both)."
        )
    if facts.platform.startswith("win") and facts.build_platform.endswith("arm64"):
        problems.append("This Python is built for ARM; OBS for x64 Windows needs the x64 (amd64) Python.")
    if problems:
        return tuple(lines + problems)
    if facts.platform.startswith("win") or facts.platform == "darwin":
        where = facts.prefix
        return tuple(lines + [f"OBS can load it: in Tools → Scripts → Python Settings choose {where}"])
    return tuple(lines + ["OBS on Linux uses the system's Python by itself: nothing to choose."])


# --- versions -----------------------------------------------------------------------------------------


def version_text(version: Version) -> str:
    """``3.11.2`` from ``sys.version_info``, a tuple or ``sys.version``."""
    if isinstance(version, str):
        return version.split()[0]
    return ".".join(str(part) for part in tuple(version)[:3])


def minor(version: Version) -> str:
    parts = version_text(version).split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else parts[0]


def _numbers(version: str) -> Tuple[int, ...]:
    numbers = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def _dotted(numbers: Sequence[int]) -> str:
    return ".".join(str(n) for n in numbers)


if __name__ == "__main__":
    print("\n".join(check_lines(observe())))
