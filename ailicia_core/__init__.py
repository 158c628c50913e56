"""ailicia_core: the OBS-independent engine of ailicia-obs.

Nothing in this package imports ``obspython``; only ``ailicia_obs.py`` does.
Importing the package itself is cheap and does not import ``requests``, so the
OBS script can still load (and explain how to install ``requests``) when it is
missing.
"""

__version__ = "0.1.0"
PRODUCT = "ailicia-obs"
USER_AGENT = f"{PRODUCT}/{__version__} (+OBS Studio script)"
