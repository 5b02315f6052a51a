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
- ``SpareRendererForSitePerProcess``: Chromium keeps a renderer process started ahead of
  the next navigation; each of our contexts navigates once, so the spare only holds
  memory (a renderer, about 30 MB, at the peak of two pages at once).
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
_OURS = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "SpareRendererForSitePerProcess")

DISABLE_FEATURES = "--disable-features=" + ",".join(_PLAYWRIGHTS + _OURS)
