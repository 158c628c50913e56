"""The release zip's own copies of ``requests`` & co. come first: :func:`use_vendored`.

OBS *appends* a script's folder to ``sys.path``, so a ``requests`` in site-packages would
shadow the one the zip carries in ``ailicia_vendor/``. ``ailicia_obs.py`` calls
:func:`use_vendored` first thing, before anything imports ``requests``. It

- puts the vendored folder at the front of ``sys.path``, exactly once (Reload Scripts runs
  it again: the old entry is removed first, so 50 reloads leave one entry);
- forgets any of the vendored packages (``requests``, ``urllib3``…) that another script
  already imported from elsewhere, so a vendored ``requests`` never runs on an installed
  ``urllib3``. Whoever imported those keeps the module objects it holds.

The command line (``python -m ailicia_core``) run from the unzipped folder calls
:func:`use_vendored_beside_package`: the same folder, found from this package's own place,
so no ``PYTHONPATH`` is needed.

Without the folder (a git clone) nothing changes and the installed ``requests`` is used.
This module imports nothing outside the standard library.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from typing import Dict, List, MutableMapping, Optional, Tuple

#: The folder beside ailicia_obs.py that the release zip fills (scripts/build_zip.py).
VENDOR_FOLDER = "ailicia_vendor"
#: requests' warning when neither charset_normalizer nor chardet is installed. The zip leaves them
#: out on purpose (requests then decodes as UTF-8), so the warning would only alarm the streamer.
MISSING_DETECTOR_WARNING = "Unable to find acceptable character detection"


@dataclass(frozen=True)
class VendorSetup:
    """What :func:`use_vendored` did: the folder put first ("" when there is none) and the modules it forgot."""

    folder: str = ""
    forgotten: Tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.folder)


def vendor_folder(script_dir: str) -> Optional[str]:
    """The vendored folder beside the script, or None when there is none (a git clone)."""
    folder = os.path.join(os.path.abspath(script_dir), VENDOR_FOLDER)
    return folder if os.path.isdir(folder) else None


def vendored_names(folder: str) -> Tuple[str, ...]:
    """The top-level modules the folder provides (``requests``, ``urllib3``, ``websocket``…), sorted."""
    names = []
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if os.path.isfile(os.path.join(path, "__init__.py")):
            names.append(entry)
        elif entry.endswith(".py") and os.path.isfile(path):
            names.append(entry[:-3])
    return tuple(sorted(names))


def is_inside(path: Optional[str], folder: str) -> bool:
    """True when the file ``path`` lies in ``folder`` (case-insensitively where the OS is)."""
    if not path:
        return False
    folder = os.path.normcase(os.path.abspath(folder))
    return os.path.normcase(os.path.abspath(path)).startswith(folder + os.sep)


def use_vendored(
    script_dir: str,
    path: Optional[List[str]] = None,
    modules: Optional[MutableMapping[str, object]] = None,
) -> VendorSetup:
    """Put ``script_dir``'s vendored folder first on ``path`` and forget foreign copies of its packages.

    ``path`` and ``modules`` default to ``sys.path`` and ``sys.modules`` (tests pass their own).
    Never raises for a missing folder: it then returns an inactive :class:`VendorSetup`.
    """
    path = sys.path if path is None else path
    modules = sys.modules if modules is None else modules
    folder = vendor_folder(script_dir)
    if folder is None:
        return VendorSetup()
    stop_using(VendorSetup(folder=folder), path)  # Reload Scripts runs this again: never two entries
    path.insert(0, folder)
    return VendorSetup(folder=folder, forgotten=forget_foreign(folder, vendored_names(folder), modules))


def use_vendored_beside_package(
    path: Optional[List[str]] = None,
    modules: Optional[MutableMapping[str, object]] = None,
) -> VendorSetup:
    """:func:`use_vendored` for the folder that holds this package (the unzipped ``ailicia-obs``).

    For ``python -m ailicia_core``, before anything imports ``requests``. When the vendored
    folder is there, requests' warning about the character detector the zip leaves out is
    silenced for this process. A git clone has no such folder: nothing changes.
    """
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    setup = use_vendored(package_parent, path, modules)
    if setup.active:
        warnings.filterwarnings("ignore", message=MISSING_DETECTOR_WARNING)
    return setup


def stop_using(setup: VendorSetup, path: Optional[List[str]] = None) -> None:
    """Take ``setup``'s folder off ``path`` (``sys.path``): the stop of :func:`use_vendored`.

    The vendored modules already imported stay in ``sys.modules`` (whoever holds them keeps working).
    """
    path = sys.path if path is None else path
    if setup.active:
        key = os.path.normcase(setup.folder)
        path[:] = [entry for entry in path if os.path.normcase(os.path.abspath(entry or os.curdir)) != key]


def forget_foreign(folder: str, names: Tuple[str, ...], modules: MutableMapping[str, object]) -> Tuple[str, ...]:
    """Drop from ``modules`` each of ``names`` (and its submodules) that was loaded from outside ``folder``.

    Returns the top-level names forgotten, sorted.
    """
    foreign = {name for name in names if name in modules and not _loaded_from(modules[name], folder)}
    doomed: Dict[str, object] = {mod: modules[mod] for mod in list(modules) if mod.split(".", 1)[0] in foreign}
    for mod in doomed:
        del modules[mod]
    return tuple(sorted(foreign))


def _loaded_from(module: object, folder: str) -> bool:
    return module is not None and is_inside(getattr(module, "__file__", None), folder)
