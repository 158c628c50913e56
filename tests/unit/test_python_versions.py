"""The one table of which Python each OBS release loads, and the words built from it, per platform and row.

The expected rows are written out here from obs-studio's loader source (``PY_MINOR_VERSION_MAX`` in
``obs-scripting-python-import.c``) and its build files, independently of the table they check.
"""

import io
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ailicia_core import obs_pythons as op
from ailicia_core import python_env as pe

REPO = Path(__file__).resolve().parents[2]

WINDOWS_PREFIX = r"C:\Users\me\AppData\Local\Programs\Python\Python3{minor}"
MACOS_PREFIX = "/Library/Frameworks/Python.framework/Versions/3.{minor}"


def on(platform, python, **more):
    """Facts for Python ``3.<python>`` installed the usual way on ``platform``."""
    minor = str(python).split(".")[1] if "." in str(python) else str(python)
    if platform == op.ON_WINDOWS:
        return pe.PythonFacts(f"3.{minor}.1", WINDOWS_PREFIX.format(minor=minor), "win32", "win-amd64", **more)
    if platform == op.ON_MACOS:
        return pe.PythonFacts(f"3.{minor}.1", MACOS_PREFIX.format(minor=minor), "darwin", "macosx-10.13-universal2")
    return pe.PythonFacts(f"3.{minor}.1", "/usr", "linux", "linux-x86_64", flatpak=platform == op.ON_FLATPAK)


#: (platform, OBS release, newest Python it loads (None: no limit of OBS's own), where Python is set)
ROWS = [
    (op.ON_WINDOWS, (28, 0), (3, 10), op.PYTHON_SETTINGS),
    (op.ON_WINDOWS, (29, 0), (3, 10), op.PYTHON_SETTINGS),
    (op.ON_WINDOWS, (29, 1), (3, 11), op.PYTHON_SETTINGS),
    (op.ON_WINDOWS, (30, 0), (3, 11), op.PYTHON_SETTINGS),
    (op.ON_WINDOWS, (30, 1), (3, 12), op.PYTHON_SETTINGS),
    (op.ON_WINDOWS, (30, 2), (3, 12), op.PYTHON_SETTINGS),
    (op.ON_WINDOWS, (31, 0), (3, 12), op.PYTHON_SETTINGS),
    (op.ON_WINDOWS, (32, 2), (3, 12), op.PYTHON_SETTINGS),
    (op.ON_MACOS, (28, 0), (3, 10), op.PYTHON_SETTINGS),
    (op.ON_MACOS, (29, 0), (3, 10), op.PYTHON_SETTINGS),
    (op.ON_MACOS, (29, 1), (3, 11), op.PYTHON_SETTINGS),
    (op.ON_MACOS, (30, 0), (3, 11), op.PYTHON_SETTINGS),
    (op.ON_MACOS, (30, 1), (3, 12), op.PYTHON_SETTINGS),
    (op.ON_MACOS, (32, 2), (3, 12), op.PYTHON_SETTINGS),
    (op.ON_LINUX, (29, 0), None, op.BUILT_IN),  # Debian 12: Python 3.11
    (op.ON_LINUX, (30, 2), None, op.BUILT_IN),  # Debian 13: Python 3.13
    (op.ON_LINUX, (32, 2), None, op.BUILT_IN),  # Debian sid: Python 3.14
    (op.ON_FLATPAK, (30, 0), None, op.FLATPAK_RUNTIME),
    (op.ON_FLATPAK, (32, 2), None, op.FLATPAK_RUNTIME),
]


@pytest.mark.parametrize(("platform", "obs", "newest", "where"), ROWS)
def test_each_platform_and_release_has_its_row(platform, obs, newest, where):
    row = op.row_for(platform, obs)
    assert row is not None
    assert (row.newest_python, row.oldest_python, row.python_from) == (newest, (3, 6), where)


@pytest.mark.parametrize(("platform", "obs", "newest", "where"), [r for r in ROWS if r[2] is not None])
def test_windows_and_macos_load_up_to_the_rows_newest_and_no_further(platform, obs, newest, where):
    row = op.row_for(platform, obs)
    assert op.loads(row, newest) and op.loads(row, (3, 6))
    assert not op.loads(row, (newest[0], newest[1] + 1)) and not op.loads(row, (3, 5))


@pytest.mark.parametrize("platform", [op.ON_LINUX, op.ON_FLATPAK])
@pytest.mark.parametrize("python", [(3, 13), (3, 14), (3, 15)])
def test_linux_and_flatpak_set_no_upper_limit(platform, python):
    assert op.newest_loaded(platform) is None
    assert op.loads(op.row_for(platform, (32, 2)), python)


@pytest.mark.parametrize("platform", [op.ON_WINDOWS, op.ON_MACOS, op.ON_LINUX, op.ON_FLATPAK])
def test_rows_of_a_platform_follow_each_other_without_gaps(platform):
    rows = op.rows_for(platform)
    assert rows[0].first_obs == (28, 0)
    for before, after in zip(rows, rows[1:], strict=False):
        assert before.last_obs is not None and before.last_obs < after.first_obs
        assert after.first_obs in ((before.last_obs[0], before.last_obs[1] + 1), (before.last_obs[0] + 1, 0))


def test_releases_outside_the_table_are_not_guessed():
    assert op.row_for(op.ON_WINDOWS, (27, 2)) is None
    assert op.row_for(op.ON_WINDOWS, (33, 0)) is None  # not read yet: no claim about it


@pytest.mark.parametrize("platform", [op.ON_WINDOWS, op.ON_MACOS])
@pytest.mark.parametrize(
    ("python", "releases"),
    [(10, "OBS 28.0–32.2"), (11, "OBS 29.1–32.2"), (12, "OBS 30.1–32.2")],
)
def test_check_names_the_releases_that_load_a_good_python(platform, python, releases):
    last = pe.check_lines(on(platform, python))[-1]
    assert last.startswith(f"{releases} can load it: in Tools → Scripts → Python Settings choose ")


def test_macos_check_names_the_frameworks_folder_not_the_version_folder():
    assert pe.check_lines(on(op.ON_MACOS, 12))[-1].endswith("choose /Library/Frameworks")


@pytest.mark.parametrize("platform", [op.ON_WINDOWS, op.ON_MACOS])
@pytest.mark.parametrize("python", [13, 14])
def test_windows_and_macos_check_refuses_a_python_newer_than_3_12(platform, python):
    text = "\n".join(pe.check_lines(on(platform, python)))
    assert f"cannot load Python 3.{python}" in text and "install Python 3.12" in text
    assert "can load it" not in text


@pytest.mark.parametrize("python", [11, 12, 13, 14])
def test_linux_check_never_asks_for_another_python_or_python_settings(python):
    text = "\n".join(pe.check_lines(on(op.ON_LINUX, python)))
    assert "install Python" not in text and "cannot load" not in text
    assert "no Python Settings tab and nothing to choose" in text
    # Flatpak OBS does not see what pip installs outside its sandbox.
    assert "not visible to it" in text


def test_flatpak_check_says_it_is_the_runtimes_python():
    text = "\n".join(pe.check_lines(on(op.ON_FLATPAK, 13)))
    assert "Flatpak runtime's Python" in text and "nothing to choose" in text and "install Python" not in text


@pytest.mark.parametrize(
    ("platform", "needle"),
    [
        (op.ON_WINDOWS, "3.12 for OBS 30.1–32.2, 3.11 for OBS 29.1–30.0, 3.10 for OBS 28.0–29.0"),
        (op.ON_MACOS, "3.12 for OBS 30.1–32.2, 3.11 for OBS 29.1–30.0, 3.10 for OBS 28.0–29.0"),
        (op.ON_LINUX, "no Python Settings tab"),
        (op.ON_FLATPAK, "Python of its Flatpak runtime"),
    ],
)
def test_the_panels_advice_for_a_too_old_python_follows_the_platform(platform, needle):
    text = "\n".join(pe.missing_requests_lines(on(platform, 9)))
    assert "needs Python 3.10 or newer" in text and needle in text
    assert ("Python Settings and choose" in text) == (platform == op.ON_WINDOWS)
    assert ("/Library/Frameworks" in text) == (platform == op.ON_MACOS)
    assert "older than 30.1" not in text and "3.13 does not load" not in text


# --- consoles ---------------------------------------------------------------------------------------


def test_printable_keeps_text_a_stream_can_write():
    assert pe.printable("Tools → Scripts – 3.12", "utf-8") == "Tools → Scripts – 3.12"


@pytest.mark.parametrize("encoding", ["cp1252", "ascii", "cp437", "no-such-codec"])
def test_printable_falls_back_to_ascii_stand_ins(encoding):
    text = pe.printable("Tools → Scripts → Python Settings, OBS 30.1–32.2 for C:\\Users\\Zoë", encoding)
    assert "Tools -> Scripts -> Python Settings, OBS 30.1-32.2" in text
    text.encode("ascii" if encoding == "no-such-codec" else encoding)  # strict: must not raise


def test_the_check_writes_to_a_strict_cp1252_stream():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252", errors="strict")
    assert pe.main(stream, on(op.ON_WINDOWS, 12)) == 0
    text = raw.getvalue().decode("cp1252")
    assert "OBS 30.1-32.2 can load it: in Tools -> Scripts -> Python Settings choose C:\\Users\\" in text


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_the_check_runs_in_a_terminal_whose_output_is_cp1252(encoding):
    # A real interpreter whose stdout is strict cp1252 (as in Git Bash or a redirect on Windows),
    # printing the Windows advice, which has arrows.
    code = (
        "from ailicia_core import python_env as pe; "
        "pe.main(facts=pe.PythonFacts('3.12.4', r'C:\\Python312', 'win32', 'win-amd64'))"
    )
    env = {**os.environ, "PYTHONIOENCODING": encoding, "PYTHONUTF8": "0"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"in Tools -> Scripts -> Python Settings choose C:\\Python312" in result.stdout


def test_the_module_runs_with_a_cp1252_stdout():
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "ailicia_core.python_env"], capture_output=True, timeout=60, cwd=REPO, env=env
    )
    assert result.returncode == 0 and b"Traceback" not in result.stderr
    assert f"Python {pe.version_text(sys.version_info)}".encode() in result.stdout


# --- PowerShell ---------------------------------------------------------------------------------------


def test_on_windows_the_panels_pip_command_runs_in_powershell(monkeypatch):
    sysconfig.get_paths()  # read this machine's build settings before sys.platform says otherwise
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "prefix", r"C:\Program Files\Python312")
    facts = pe.observe(environ={})
    command = pe.install_command(facts)
    # (startswith: a PEP 668 marker in this machine's stdlib would add --user --break-system-packages)
    assert command.startswith(r'& "C:\Program Files\Python312\python.exe" -m pip install requests')
    lines = pe.missing_requests_lines(facts)
    assert lines[lines.index(command) - 1].endswith("with this PowerShell command:")


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_elsewhere_the_pip_command_has_no_call_operator(monkeypatch, platform):
    sysconfig.get_paths()
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(sys, "prefix", "/opt/python")
    command = pe.install_command(pe.observe(environ={}))
    assert command.startswith('"/opt/python/bin/python') and "&" not in command
