"""Which Python each OBS release loads on each platform, and where that Python is set: one table.

Facts only, read from obs-studio's source: the run-time loader for Windows and macOS
(``PY_MINOR_VERSION_MAX`` in ``obs-scripting-python-import.c``, under ``deps/obs-scripting/``,
``shared/obs-scripting/`` from 31.0), the build files for Linux packages (linked against the
distribution's Python, no upper limit since 30.2) and the Flatpak manifest (the runtime's Python).
:mod:`ailicia_core.python_env` turns them into words for the panel and the terminal check;
docs/obs-compat.md shows the same table to people.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

# Platforms of the table (platform_of).
ON_WINDOWS = "windows"
ON_MACOS = "macos"
ON_LINUX = "linux"  # a distribution's package (and the BSDs): Python linked when the package was built
ON_FLATPAK = "flatpak"

#: Where Python comes from, per platform (the table's "where to set it").
PYTHON_SETTINGS = "python-settings"  # Tools → Scripts → Python Settings: a folder, loaded at run time
BUILT_IN = "built-in"  # linked when OBS was built: no Python Settings tab, nothing to choose
FLATPAK_RUNTIME = "flatpak-runtime"  # the Flatpak runtime's own Python: no Python Settings tab either

Release = Tuple[int, int]


@dataclass(frozen=True)
class ObsPythons:
    """Which Pythons one range of OBS releases loads on one platform, and where that Python is set.

    ``last_obs`` None: every later release read so far. ``newest_python`` None: no limit of OBS's own
    (the Python OBS was built with, or the runtime's). Read from obs-studio's loader
    (``PY_MINOR_VERSION_MAX`` in ``obs-scripting-python-import.c``) and build files.
    """

    platform: str
    first_obs: Release
    last_obs: Optional[Release]
    newest_python: Optional[Release]
    oldest_python: Release
    python_from: str


#: The one table of facts: the panel's advice and the terminal check both read it.
OBS_PYTHONS: Tuple[ObsPythons, ...] = (
    ObsPythons(ON_WINDOWS, (28, 0), (29, 0), (3, 10), (3, 6), PYTHON_SETTINGS),
    ObsPythons(ON_WINDOWS, (29, 1), (30, 0), (3, 11), (3, 6), PYTHON_SETTINGS),
    ObsPythons(ON_WINDOWS, (30, 1), (32, 2), (3, 12), (3, 6), PYTHON_SETTINGS),
    ObsPythons(ON_MACOS, (28, 0), (29, 0), (3, 10), (3, 6), PYTHON_SETTINGS),
    ObsPythons(ON_MACOS, (29, 1), (30, 0), (3, 11), (3, 6), PYTHON_SETTINGS),
    ObsPythons(ON_MACOS, (30, 1), (32, 2), (3, 12), (3, 6), PYTHON_SETTINGS),
    # Before 30.2 OBS's build files capped the version; distributions build with their own Python anyway.
    ObsPythons(ON_LINUX, (28, 0), (30, 1), None, (3, 6), BUILT_IN),
    ObsPythons(ON_LINUX, (30, 2), None, None, (3, 6), BUILT_IN),
    # The runtime moves with OBS: KDE 6.x up to 32.0, org.freedesktop.Platform 25.08 from 32.2.
    ObsPythons(ON_FLATPAK, (28, 0), None, None, (3, 6), FLATPAK_RUNTIME),
)

#: The folder macOS users choose: OBS appends ``Python.framework/Versions/x.y/lib/libpythonx.y.dylib``.
MACOS_FRAMEWORKS = "/Library/Frameworks"


def rows_for(platform: str) -> Tuple[ObsPythons, ...]:
    """The table's rows for ``platform``, oldest OBS first."""
    return tuple(row for row in OBS_PYTHONS if row.platform == platform)


def row_for(platform: str, obs: Release) -> Optional[ObsPythons]:
    """The row covering OBS release ``obs`` (major, minor) on ``platform``; None when not read."""
    for row in rows_for(platform):
        if row.first_obs <= tuple(obs) and (row.last_obs is None or tuple(obs) <= row.last_obs):
            return row
    return None


def loads(row: ObsPythons, python: Sequence[int]) -> bool:
    """True when the OBS releases of ``row`` load Python ``python`` (major, minor)."""
    version = tuple(python)[:2]
    return version >= row.oldest_python and (row.newest_python is None or version <= row.newest_python)


def releases_loading(platform: str, python: Sequence[int]) -> Optional[Tuple[Release, Optional[Release]]]:
    """The first and last OBS release (None: and newer) on ``platform`` that load ``python``; None if none."""
    rows = [row for row in rows_for(platform) if loads(row, python)]
    return (rows[0].first_obs, rows[-1].last_obs) if rows else None


def newest_loaded(platform: str) -> Optional[Release]:
    """The newest Python any OBS release on ``platform`` loads; None when OBS sets no limit of its own."""
    limits = [row.newest_python for row in rows_for(platform)]
    return None if not limits or None in limits else max(limit for limit in limits if limit is not None)


def settings_folder(platform: str, prefix: str) -> str:
    """The folder to choose in Python Settings for the Python installed at ``prefix`` (Windows and macOS).

    Windows: the folder holding ``python.exe`` (and ``python3x.dll``). macOS: the folder holding
    ``Python.framework``, since OBS appends ``Python.framework/Versions/x.y/...`` itself.
    """
    if platform == ON_MACOS:
        before, framework, _ = prefix.partition("/Python.framework")
        return before if framework and before else MACOS_FRAMEWORKS
    return prefix
