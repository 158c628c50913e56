"""ailicia_core.python_env: the command that installs requests into the Python OBS runs."""

import pytest

from ailicia_core import python_env as pe


@pytest.mark.parametrize(
    ("version", "prefix", "platform", "flags", "expected"),
    [
        ((3, 11, 2), r"C:\Program Files\Python311", "win32", {},
         r'"C:\Program Files\Python311\python.exe" -m pip install requests'),
        ("3.10.11", "C:\\Users\\me\\AppData\\Local\\Programs\\Python\\Python310\\", "win32", {},
         r'"C:\Users\me\AppData\Local\Programs\Python\Python310\python.exe" -m pip install requests'),
        ("3.11.4", "/Library/Frameworks/Python.framework/Versions/3.11", "darwin", {"macos_framework": True},
         '"/Library/Frameworks/Python.framework/Versions/3.11/bin/python3.11" -m pip install requests'),
        ("3.12.1", "/opt/homebrew/opt/python@3.12/Frameworks/Python.framework/Versions/3.12", "darwin",
         {"macos_framework": True},
         '"/opt/homebrew/opt/python@3.12/Frameworks/Python.framework/Versions/3.12/bin/python3.12"'
         " -m pip install requests"),
        ((3, 11, 2), "/usr", "linux", {}, "sudo apt install python3-requests"),
        ((3, 11, 2), "/usr/", "linux", {}, "sudo apt install python3-requests"),
        ((3, 11, 9), "/app", "linux", {"flatpak": True},
         "flatpak run --command=python3 com.obsproject.Studio -m pip install --user requests"),
        ((3, 9, 18), "/opt/conda", "linux", {}, '"/opt/conda/bin/python3.9" -m pip install requests'),
    ],
)
def test_install_command_names_the_python_obs_runs(version, prefix, platform, flags, expected):
    assert pe.install_command(version, prefix, platform, **flags) == expected


def test_detection_of_flatpak_and_framework_prefixes():
    assert pe.looks_like_flatpak("/app")
    assert pe.looks_like_flatpak("/app/lib/python3.11/..")
    assert not pe.looks_like_flatpak("/application")
    assert not pe.looks_like_flatpak("/usr")
    assert pe.looks_like_macos_framework("/Library/Frameworks/Python.framework/Versions/3.11", "darwin")
    assert not pe.looks_like_macos_framework("/usr/local", "darwin")
    assert not pe.looks_like_macos_framework("/Library/Frameworks/Python.framework/Versions/3.11", "linux")


def test_python_info_works_out_the_flags_from_the_prefix():
    info = pe.python_info((3, 11, 2, "final", 0), "/app", "linux")
    assert info == pe.PythonInfo(version="3.11.2", prefix="/app", platform="linux", flatpak=True)
    mac = pe.python_info("3.11.4 (main, Jun  7 2023)", "/Library/Frameworks/Python.framework/Versions/3.11",
                         "darwin")
    assert mac.macos_framework and mac.version == "3.11.4"
    assert not pe.python_info((3, 11, 2), "/app", "win32").flatpak


def test_debian_message_names_version_prefix_command_and_other_distributions():
    lines = pe.missing_requests_lines(pe.python_info((3, 11, 2), "/usr", "linux"))
    text = "\n".join(lines)
    assert "Python 3.11.2 from /usr" in text
    assert "sudo apt install python3-requests" in lines
    assert "sudo dnf install python3-requests" in text
    assert "sudo pacman -S python-requests" in text
    assert "Traceback" not in text


def test_windows_message_has_no_linux_alternatives():
    info = pe.python_info((3, 11, 2), r"C:\Python311", "win32")
    lines = pe.missing_requests_lines(info)
    assert r'"C:\Python311\python.exe" -m pip install requests' in lines
    assert not any("apt" in line or "dnf" in line for line in lines)


def test_python_env_does_not_import_requests():
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; sys.modules['requests'] = None; import ailicia_core.python_env, ailicia_core.settings; "
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "ok", result.stderr
