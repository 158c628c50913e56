"""Which Python OBS runs, what kind of setup it is, and what to tell the streamer about it.

OBS embeds its own interpreter; ``pip install requests`` in a terminal usually targets a
different one. Four parts, each tested on its own:

- :func:`observe` reads the running interpreter once (``sys``, ``os``, ``sysconfig``) into
  plain :class:`PythonFacts`; it is the only part that looks at the machine.
- :data:`OBS_PYTHONS` is the one table of which Python each OBS release loads on each platform
  and where that Python is set; :func:`row_for`, :func:`releases_loading` and
  :func:`newest_loaded` read it. The panel's advice and the terminal check are built from it.
- :func:`setup_of` and :func:`install_command` are pure: facts in, a setup kind or a command out.
- :func:`missing_requests_lines`, :func:`python_line` and :func:`check_lines` turn them into words
  (this module renders its own page: the panel shows it when ``requests`` cannot be imported).

With the release zip (``vendored``) the only advice is about pointing OBS at a suitable Python:
the zip carries ``requests``. ``python -m ailicia_core.python_env`` prints :func:`check_lines`
for the Python that runs it, to check a Python before choosing it in OBS, in words any console
can show (:func:`printable`). No ``requests`` and no subprocess here.
"""

from __future__ import annotations

import os
import struct
import sys
import sysconfig
from dataclasses import dataclass
from typing import Optional, Sequence, TextIO, Tuple, Union

from .obs_pythons import (
    MACOS_FRAMEWORKS,
    ON_FLATPAK,
    ON_LINUX,
    ON_MACOS,
    ON_WINDOWS,
    Release,
    newest_loaded,
    releases_loading,
    rows_for,
    settings_folder,
)
from .trust import os_trust_context
from .vendoring import is_inside

#: The Flatpak build of OBS Studio.
FLATPAK_APP_ID = "com.obsproject.Studio"
#: The oldest Python the vendored packages support (requests 2.34 and urllib3 2.7+: Requires-Python >= 3.10).
OLDEST_SUPPORTED = (3, 10)

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
    process runs inside a Flatpak sandbox; ``vendored`` that the zip's ``ailicia_vendor`` folder is used;
    ``os_trust_store`` whether TLS trusts the OS store (None: not looked at).
    """

    version: str
    prefix: str
    platform: str
    build_platform: str = ""
    bits: int = 64
    flatpak: bool = False
    externally_managed: bool = False
    vendored: bool = False
    os_trust_store: Optional[bool] = None


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
        os_trust_store=os_trust_context() is not None,
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
    """The command that installs ``requests`` into this Python ("" where no command can: Flatpak).

    On Windows it is a PowerShell command (Windows Terminal's and the Win+X menu's shell): a quoted
    program path needs PowerShell's call operator ``&`` in front to run.
    """
    kind = setup_of(facts)
    if kind == FLATPAK:
        return ""  # the runtime's Python at /usr is read-only and has no pip: only the zip works
    if kind == LINUX_SYSTEM:
        return "sudo apt install python3-requests"
    command = f'"{executable_path(facts)}" -m pip install requests'
    if platform_of(facts) == ON_WINDOWS:
        command = "& " + command
    if kind == HOMEBREW or facts.externally_managed:
        # PEP 668: pip refuses ("externally-managed-environment") unless told to install for this user anyway.
        command += " --user --break-system-packages"
    return command


def install_alternatives(facts: PythonFacts) -> Tuple[str, ...]:
    """Other distributions' equivalents of the system-package command (empty when not relevant)."""
    if setup_of(facts) == LINUX_SYSTEM:
        return ("Fedora: sudo dnf install python3-requests", "Arch: sudo pacman -S python-requests")
    return ()


def platform_of(facts: PythonFacts) -> str:
    """The table's platform for this Python: ON_WINDOWS, ON_MACOS, ON_FLATPAK or ON_LINUX (any other Unix)."""
    if facts.platform.startswith("win"):
        return ON_WINDOWS
    if facts.platform == "darwin":
        return ON_MACOS
    return ON_FLATPAK if facts.flatpak else ON_LINUX


# --- words ------------------------------------------------------------------------------------------

_PLATFORM_NAMES = {ON_WINDOWS: "Windows", ON_MACOS: "macOS"}


def describe(facts: PythonFacts) -> str:
    """``Python 3.11.2 from /usr`` (plus the Flatpak note where it applies)."""
    where = f"Python {facts.version} from {facts.prefix}"
    return where + " (the Flatpak runtime's Python)" if setup_of(facts) == FLATPAK else where


def releases_text(first: Release, last: Optional[Release]) -> str:
    """``OBS 29.1–30.0``, ``OBS 30.2 and newer``."""
    if last is None:
        return f"OBS {_dotted(first)} and newer"
    return f"OBS {_dotted(first)}" if first == last else f"OBS {_dotted(first)}–{_dotted(last)}"


def python_choices(platform: str) -> str:
    """The Python to install per OBS range, newest first: ``3.12 for OBS 30.1–32.2, 3.11 for …``."""
    return ", ".join(
        f"{_dotted(row.newest_python)} for {releases_text(row.first_obs, row.last_obs)}"
        for row in reversed(rows_for(platform))
        if row.newest_python is not None and row.newest_python >= OLDEST_SUPPORTED
    )


def pick_a_python_lines(facts: PythonFacts) -> Tuple[str, ...]:
    """How OBS on this platform gets a Python it can load (the only advice with the zip)."""
    platform = platform_of(facts)
    if platform == ON_WINDOWS:
        return (
            "In OBS open Tools → Scripts → Python Settings and choose the folder of a 64-bit Python (the one "
            f"that holds python.exe): {python_choices(platform)}; OBS loads no newer one. Then restart OBS.",
        )
    if platform == ON_MACOS:
        return (
            f"Install Python from python.org: {python_choices(platform)}; OBS loads no newer one. Then in OBS "
            f"open Tools → Scripts → Python Settings, choose the folder {MACOS_FRAMEWORKS} and restart OBS.",
        )
    if platform == ON_FLATPAK:
        return (
            "The Flatpak build of OBS runs the Python of its Flatpak runtime, which comes with OBS: update OBS "
            f"(flatpak update {FLATPAK_APP_ID}) for a newer one.",
        )
    return (
        "OBS from your distribution's packages runs the Python it was built with: there is no Python Settings "
        "tab and nothing to choose. A newer Python comes with a newer release of the distribution (or use the "
        "Flatpak build of OBS, which brings its own).",
    )


def missing_requests_lines(facts: PythonFacts, reason: str = "") -> Tuple[str, ...]:
    """What the panel says when ``requests`` cannot be imported: plain words, no traceback."""
    lines = [
        f"ai_licia-obs needs the Python package 'requests', and the Python that OBS runs cannot import it."
        f" OBS runs {describe(facts)}."
    ]
    if not supported(facts):
        lines.append(f"ai_licia-obs needs Python {_dotted(OLDEST_SUPPORTED)} or newer.")
        lines.extend(pick_a_python_lines(facts))
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
        "Easiest: use the release zip of ai_licia-obs, which carries requests. Or install it into that Python with"
        + (" this PowerShell command:" if platform_of(facts) == ON_WINDOWS else ":")
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
    if facts.os_trust_store is not None:
        line += (
            " Certificates are checked against this computer's trust store."
            if facts.os_trust_store
            else " Certificates are checked against certifi's list only (truststore is missing)."
        )
    return line


def check_lines(facts: PythonFacts) -> Tuple[str, ...]:
    """Can OBS load this Python? For ``python -m ailicia_core.python_env`` in a terminal."""
    numbers = _numbers(facts.version)[:2]
    platform = platform_of(facts)
    chosen = platform in (ON_WINDOWS, ON_MACOS)  # a Python chosen in Python Settings, loaded at run time
    newest = newest_loaded(platform)
    lines = [f"This is {describe(facts)}, built for {facts.build_platform or facts.platform} ({facts.bits}-bit)."]
    problems = []
    if newest is not None and numbers > newest:
        problems.append(
            f"OBS for {_PLATFORM_NAMES.get(platform, platform)} cannot load Python {_dotted(numbers)} (it loads "
            f"up to {python_choices(platform)}): install Python {_dotted(newest)}."
        )
    if numbers < OLDEST_SUPPORTED:
        problems.append(f"ai_licia-obs needs Python {_dotted(OLDEST_SUPPORTED)} or newer.")
        problems.extend([f"Install Python {_dotted(newest)}."] if chosen and newest else pick_a_python_lines(facts))
    if facts.bits != 64 or facts.build_platform == "win32":
        problems.append("OBS 28 and newer are 64-bit and cannot load a 32-bit Python: install the 64-bit one.")
    if platform == ON_MACOS and facts.build_platform.endswith("x86_64"):
        problems.append(
            "This Python is built for Intel Macs only: OBS for Apple silicon cannot load it "
            "(the python.org installer is universal2 and works with both)."
        )
    if platform == ON_WINDOWS and facts.build_platform.endswith("arm64"):
        problems.append("This Python is built for ARM; OBS for x64 Windows needs the x64 (amd64) Python.")
    if problems:
        return tuple(lines + problems)
    if chosen:
        loading = releases_loading(platform, numbers)
        releases = releases_text(*loading) if loading else "OBS"
        folder = settings_folder(platform, facts.prefix)
        return tuple(lines + [f"{releases} can load it: in Tools → Scripts → Python Settings choose {folder}"])
    if platform == ON_FLATPAK:
        return tuple(lines + ["This is the Flatpak runtime's Python, the one Flatpak OBS runs: nothing to choose."])
    system = "normally this one" if setup_of(facts) == LINUX_SYSTEM else "the system's under /usr, not this one"
    return tuple(
        lines
        + [
            f"OBS from your distribution's packages runs the Python it was built with ({system}): "
            "there is no Python Settings tab and nothing to choose.",
            "The Flatpak build of OBS runs its runtime's own Python instead: modules installed with pip outside "
            "the sandbox are not visible to it (the release zip of ai_licia-obs carries what it needs).",
        ]
    )


# --- the terminal -------------------------------------------------------------------------------------

#: ASCII stand-ins for the few non-ASCII characters these words use, for consoles that cannot show them.
_ASCII_STAND_INS = {"→": "->", "–": "-", "—": "-", "…": "...", "’": "'"}


def printable(text: str, encoding: Optional[str]) -> str:
    """``text`` as a stream in ``encoding`` can write it: ASCII stand-ins for arrows and dashes, ``?`` for the rest.

    A console or a redirect in cp1252 (Git Bash, ``> file`` on Windows) raises on "→" with
    Python's strict default; these words must reach the streamer whatever the console.
    """
    encoding = encoding or "ascii"
    try:
        text.encode(encoding)
        return text
    except LookupError:
        encoding = "ascii"
    except UnicodeEncodeError:
        pass
    for char, plain in _ASCII_STAND_INS.items():
        text = text.replace(char, plain)
    return text.encode(encoding, errors="replace").decode(encoding)


def main(stream: Optional[TextIO] = None, facts: Optional[PythonFacts] = None) -> int:
    """Print :func:`check_lines` for ``facts`` (default: this Python) to ``stream`` (default: stdout)."""
    stream = sys.stdout if stream is None else stream
    text = "\n".join(check_lines(observe() if facts is None else facts)) + "\n"
    stream.write(printable(text, getattr(stream, "encoding", None)))
    stream.flush()
    return 0


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
    raise SystemExit(main())
