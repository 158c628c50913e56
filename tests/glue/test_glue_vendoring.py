"""The bootstrap at the top of ailicia_obs.py: the zip's ailicia_vendor folder first on sys.path, once."""

import sys

from conftest import READY, boot


def test_fifty_loads_put_the_vendored_folder_first_exactly_once(fake, script, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "path", list(sys.path))  # restored afterwards
    vendor = tmp_path / "ailicia_vendor"
    (vendor / "ailicia_probe_pkg").mkdir(parents=True)
    (vendor / "ailicia_probe_pkg" / "__init__.py").write_text("WHERE = 'vendored'\n")
    monkeypatch.setattr(script.module, "__file__", str(tmp_path / "ailicia_obs.py"))
    try:
        for _ in range(50):  # what 50 Reload Scripts do: the module top runs again each time
            setup = script.module.use_vendored_packages()
        assert setup.active and setup.folder == str(vendor)
        assert sys.path[0] == str(vendor) and sys.path.count(str(vendor)) == 1
        import ailicia_probe_pkg

        assert ailicia_probe_pkg.WHERE == "vendored"
        monkeypatch.setattr(script.module, "VENDOR_SETUP", setup)
        script.unload()  # every start has its stop: the folder leaves sys.path
        assert str(vendor) not in sys.path
    finally:
        sys.modules.pop("ailicia_probe_pkg", None)


def test_from_a_git_clone_nothing_is_vendored_and_the_installed_requests_runs(fake, script):
    import requests

    assert not script.module.VENDOR_SETUP.active  # the repository has no ailicia_vendor folder
    boot(fake, script, **READY)
    assert script.engine is not None
    assert (
        f"; requests {requests.__version__} from {requests.__file__.rsplit('/', 2)[0]}."
        in script.module._glue.core.python_line
    )
