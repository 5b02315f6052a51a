"""The ``--disable-features`` switch every Chromium preserver starts gets.

Chromium keeps only the last ``--disable-features`` of its command line, and Playwright
passes its own first (``chromiumSwitches.ts`` in its driver), so ours repeats
Playwright's list (``tests/workers/test_browser_memory.py`` checks it still holds all
of it) and adds what preserver turns off:

- ``WebUIOmniboxPopup``, ``WebUIOmniboxAimPopup``: headless Chromium 156 gives every
  window (each target's context, the stamping page) the address bar's WebUI popups, two
  ``chrome://omnibox-popup.top-chrome`` pages in a renderer of their own: about 60 MB
  and 0.4 s a context, measured (``bench/browser_cost.py``, docs/design.md
  "Browser evidence", why Playwright); nothing here ever shows an address bar.
"""

from __future__ import annotations

__all__ = ["DISABLE_FEATURES"]

_PLAYWRIGHTS = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin", "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled",
    "PreconnectToSearch", "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion",
)
_OURS = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")

DISABLE_FEATURES = "--disable-features=" + ",".join(_PLAYWRIGHTS + _OURS)
