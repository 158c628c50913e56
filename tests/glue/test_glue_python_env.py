"""ailicia_core.python_env: the Python OBS runs, its setup kind, and the advice for each environment."""

import html
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import READY, boot

from ailicia_core import python_env as pe

REPO = Path(__file__).resolve().parents[2]


def facts(version="3.12.4", prefix="/usr", platform="linux", **more):
    return pe.PythonFacts(version=version, prefix=prefix, platform=platform, **more)


WINDOWS = facts(
    prefix=r"C:\Users\me\AppData\Local\Programs\Python\Python312", platform="win32", build_platform="win-amd64"
)
WINDOWS_MANAGER = facts(
    prefix=r"C:\Users\me\AppData\Local\Python\pythoncore-3.12-64", platform="win32", build_platform="win-amd64"
)
MACOS_PYTHON_ORG = facts(
    prefix="/Library/Frameworks/Python.framework/Versions/3.12",
    platform="darwin",
    build_platform="macosx-10.13-universal2",
)
HOMEBREW = facts(
    prefix="/opt/homebrew/opt/python@3.12/Frameworks/Python.framework/Versions/3.12",
    platform="darwin",
    build_platform="macosx-14.0-arm64",
    externally_managed=True,
)
HOMEBREW_INTEL = facts(
    prefix="/usr/local/Cellar/python@3.12/3.12.4/Frameworks/Python.framework/Versions/3.12",
    platform="darwin",
    build_platform="macosx-14.0-x86_64",
    externally_managed=True,
)
DEBIAN = facts(version="3.11.2", externally_managed=True, build_platform="linux-x86_64")
FLATPAK = facts(version="3.12.9", flatpak=True, build_platform="linux-x86_64")
CONDA = facts(version="3.11.9", prefix="/opt/conda", build_platform="linux-x86_64")


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        (WINDOWS, pe.WINDOWS),
        (WINDOWS_MANAGER, pe.WINDOWS_MANAGER),
        (MACOS_PYTHON_ORG, pe.MACOS_FRAMEWORK),
        (HOMEBREW, pe.HOMEBREW),
        (HOMEBREW_INTEL, pe.HOMEBREW),
        (DEBIAN, pe.LINUX_SYSTEM),
        (FLATPAK, pe.FLATPAK),
        (CONDA, pe.OTHER),
    ],
)
def test_each_setup_is_recognised(env, kind):
    assert pe.setup_of(env) == kind


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # PowerShell needs its call operator before a quoted program path.
        (WINDOWS, r'& "C:\Users\me\AppData\Local\Programs\Python\Python312\python.exe" -m pip install requests'),
        (
            WINDOWS_MANAGER,
            r'& "C:\Users\me\AppData\Local\Python\pythoncore-3.12-64\python.exe" -m pip install requests',
        ),
        (
            MACOS_PYTHON_ORG,
            '"/Library/Frameworks/Python.framework/Versions/3.12/bin/python3.12" -m pip install requests',
        ),
        (
            HOMEBREW,
            '"/opt/homebrew/opt/python@3.12/Frameworks/Python.framework/Versions/3.12/bin/python3.12"'
            " -m pip install requests --user --break-system-packages",
        ),
        (DEBIAN, "sudo apt install python3-requests"),
        (FLATPAK, ""),  # no command reaches the runtime's Python
        (CONDA, '"/opt/conda/bin/python3.11" -m pip install requests'),
    ],
)
def test_install_command_names_the_python_obs_runs(env, expected):
    assert pe.install_command(env) == expected


def page(env, reason=""):
    return "\n".join(pe.missing_requests_lines(env, reason))


def test_flatpak_is_detected_by_the_sandbox_not_by_a_prefix(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert pe.observe(environ={"FLATPAK_ID": "com.obsproject.Studio"}).flatpak
    # /app is where a Flatpak app's own files live; OBS's Python is the runtime's, at /usr.
    assert pe.setup_of(facts(prefix="/usr", flatpak=True)) == pe.FLATPAK
    assert pe.setup_of(facts(prefix="/app")) == pe.OTHER


def test_flatpak_page_offers_the_zip_and_no_command_that_cannot_work():
    text = page(FLATPAK)
    assert "Python 3.12.9 from /usr (the Flatpak runtime's Python)" in text
    assert "release zip" in text
    assert "sudo apt" not in text and "pip install" not in text and "flatpak run" not in text


def test_debian_page_names_version_prefix_command_and_other_distributions():
    lines = pe.missing_requests_lines(DEBIAN)
    text = "\n".join(lines)
    assert "Python 3.11.2 from /usr" in text
    assert "sudo apt install python3-requests" in lines
    assert "sudo dnf install python3-requests" in text and "sudo pacman -S python-requests" in text
    assert "Traceback" not in text


def test_homebrew_page_says_why_plain_pip_fails():
    text = page(HOMEBREW)
    assert "--break-system-packages" in text and "Homebrew" in text and "release zip" in text


@pytest.mark.parametrize("env", [WINDOWS, WINDOWS_MANAGER, MACOS_PYTHON_ORG])
def test_windows_and_macos_pages_have_the_full_path_command_and_no_linux_advice(env):
    lines = pe.missing_requests_lines(env)
    assert pe.install_command(env) in lines
    assert not any("apt" in line or "dnf" in line for line in lines)


@pytest.mark.parametrize(
    ("env", "advice"),
    [
        (WINDOWS, "Tools → Scripts → Python Settings and choose the folder of a 64-bit Python"),
        (HOMEBREW, "choose the folder /Library/Frameworks"),
        (DEBIAN, "there is no Python Settings tab and nothing to choose"),
        (FLATPAK, "flatpak update com.obsproject.Studio"),
    ],
)
def test_with_the_zip_the_only_advice_is_about_the_python(env, advice):
    old = pe.PythonFacts(**{**env.__dict__, "version": "3.9.13", "vendored": True})
    text = page(old)
    assert "needs Python 3.10 or newer" in text and advice in text
    assert "pip" not in text and "apt" not in text
    if env.platform == "linux":
        assert "Python Settings and" not in text and "3.12" not in text  # no such tab, and no version to pick
    else:
        assert "3.12 for OBS 30.1–32.2, 3.11 for OBS 29.1–30.0, 3.10 for OBS 28.0–29.0" in text
    broken = pe.PythonFacts(**{**env.__dict__, "vendored": True})
    text = page(broken, "ModuleNotFoundError: No module named 'urllib3'")
    assert "ailicia_vendor" in text and "No module named 'urllib3'" in text and "Unzip the release again" in text
    assert "pip install" not in text


def test_python_line_says_where_requests_came_from(tmp_path):
    vendor = tmp_path / "ailicia_vendor"
    line = pe.python_line(
        pe.PythonFacts(**{**DEBIAN.__dict__, "vendored": True}),
        "2.34.2",
        str(vendor / "requests" / "__init__.py"),
        str(vendor),
        ("urllib3",),
    )
    assert line.startswith("OBS runs Python 3.11.2 from /usr; requests 2.34.2 from the ailicia_vendor folder")
    assert "had already loaded urllib3 from elsewhere" in line
    installed = pe.python_line(DEBIAN, "2.28.1", "/usr/lib/python3/dist-packages/requests/__init__.py")
    assert installed == "OBS runs Python 3.11.2 from /usr; requests 2.28.1 from /usr/lib/python3/dist-packages."


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        (pe.PythonFacts(**{**WINDOWS.__dict__, "bits": 32, "build_platform": "win32"}), "32-bit"),
        (pe.PythonFacts(**{**WINDOWS.__dict__, "build_platform": "win-arm64"}), "built for ARM"),
        (pe.PythonFacts(**{**MACOS_PYTHON_ORG.__dict__, "build_platform": "macosx-10.9-x86_64"}), "Intel Macs only"),
        (pe.PythonFacts(**{**WINDOWS.__dict__, "version": "3.13.1"}), "cannot load Python 3.13"),
        (pe.PythonFacts(**{**WINDOWS.__dict__, "version": "3.9.13"}), "needs Python 3.10 or newer"),
    ],
)
def test_check_names_a_python_obs_cannot_load(env, needle):
    text = "\n".join(pe.check_lines(env))
    assert needle in text and "OBS can load it" not in text


@pytest.mark.parametrize(
    ("env", "folder"),
    [
        (WINDOWS, WINDOWS.prefix),
        (WINDOWS_MANAGER, WINDOWS_MANAGER.prefix),
        # OBS appends Python.framework/Versions/3.12/lib/libpython3.12.dylib to the folder chosen.
        (MACOS_PYTHON_ORG, "/Library/Frameworks"),
        (HOMEBREW, "/opt/homebrew/opt/python@3.12/Frameworks"),
    ],
)
def test_check_gives_the_folder_to_choose_for_a_good_python(env, folder):
    assert pe.check_lines(env)[-1] == f"OBS 30.1–32.2 can load it: in Tools → Scripts → Python Settings choose {folder}"


def test_observe_reads_this_interpreter():
    here = pe.observe(environ={})
    assert here.version == pe.version_text(sys.version_info) and here.prefix == sys.prefix
    assert here.bits in (32, 64) and not here.vendored


def test_the_check_runs_from_a_terminal():
    result = subprocess.run(
        [sys.executable, "-m", "ailicia_core.python_env"], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert result.returncode == 0 and f"Python {pe.version_text(sys.version_info)}" in result.stdout


def test_python_env_does_not_import_requests():
    code = (
        "import sys; sys.modules['requests'] = None; import ailicia_core.python_env, ailicia_core.settings; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.stdout.strip() == "ok", result.stderr


def test_the_panel_on_windows_gives_a_pip_command_that_runs_in_powershell(fake, script, monkeypatch):
    sysconfig.get_paths()  # this machine's build settings, read before sys.platform says otherwise
    monkeypatch.setitem(sys.modules, "requests", None)  # "import requests" fails: the panel shows the page
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "prefix", r"C:\Program Files\Python312")
    boot(fake, script, **READY)
    script.properties()
    status = html.unescape(script.status())
    command = r'& "C:\Program Files\Python312\python.exe" -m pip install requests'
    assert "with this PowerShell command:" in status and command in status
    assert command in fake.log_lines("script_log")[-1]  # where it can be copied from


def test_the_python_line_says_which_certificates_are_trusted(monkeypatch):
    assert pe.observe(environ={}).os_trust_store is True  # truststore is installed here
    line = pe.python_line(pe.observe(environ={}), "2.34.2", "/x/site-packages/requests/__init__.py")
    assert line.endswith(" Certificates are checked against this computer's trust store.")
    monkeypatch.setitem(sys.modules, "truststore", None)
    without = pe.observe(environ={})
    assert without.os_trust_store is False
    line = pe.python_line(without, "2.34.2", "/x/site-packages/requests/__init__.py")
    assert line.endswith(" Certificates are checked against certifi's list only (truststore is missing).")
