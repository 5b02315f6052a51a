"""A real yt-dlp plugin package, written by a test into a directory of its own.

``write_plugin(root)`` makes ``root/yt_dlp_plugins/`` with:

- ``extractor/preserver_test.py``: ``PreserverTestIE`` handles
  ``http://127.0.0.1:PORT/plugin-test/<id>`` (a fixture-site path), reads the page there,
  whose body is the address of a video, and returns that video as the one format; no
  extractor of yt-dlp's own would find media on that page (it is plain text); its title ends with its
  ``preservertest:label`` extractor argument (``none`` when not given);
  and ``PreserverTestPTP``, a YouTube PO-token provider named ``preserver:test`` (it
  never gives a token: it is here to be listed and reported);
- ``postprocessor/preserver_test_pp.py``: ``PreserverTestPP``, which does nothing.

Put ``root`` on ``PYTHONPATH`` of a child process (``plugin_env``) and yt-dlp, in
the places ``workers.plugins`` allows, loads them.
"""

from __future__ import annotations

import os
from pathlib import Path

PLUGIN_PATH = "/plugin-test/"

_EXTRACTOR = '''
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.extractor.youtube.pot.provider import (
    PoTokenProvider, PoTokenProviderRejectedRequest, register_provider,
)

__version__ = "9.9.9"


class PreserverTestIE(InfoExtractor):
    _VALID_URL = r"https?://127\\.0\\.0\\.1:\\d+/plugin-test/(?P<id>[a-z0-9]+)"

    def _real_extract(self, url):
        video_id = self._match_id(url)
        video_url = self._download_webpage(url, video_id).strip()
        label = self._configuration_arg("label", ["none"])[0]  # [access] extractor_args
        return {"id": video_id, "title": "plugin " + video_id + " " + label,
                "formats": [{"url": video_url, "format_id": "plugin", "ext": "mp4"}]}


@register_provider
class PreserverTestPTP(PoTokenProvider):
    PROVIDER_NAME = "preserver:test"
    PROVIDER_VERSION = "9.9.9"
    _SUPPORTED_CONTEXTS = None
    _SUPPORTED_CLIENTS = None

    def is_available(self):
        return True

    def _real_request_pot(self, request):
        raise PoTokenProviderRejectedRequest("a test provider gives no token")
'''

_POSTPROCESSOR = '''
from yt_dlp.postprocessor.common import PostProcessor


class PreserverTestPP(PostProcessor):
    def run(self, info):
        return [], info
'''


def write_plugin(root: Path) -> Path:
    """The plugin package under ``root`` (returned: put it on ``PYTHONPATH``)."""
    for kind, name, text in (("extractor", "preserver_test.py", _EXTRACTOR),
                             ("postprocessor", "preserver_test_pp.py", _POSTPROCESSOR)):
        where = root / "yt_dlp_plugins" / kind
        where.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text, encoding="utf-8")
    return root


def plugin_env(*dirs: Path) -> dict[str, str]:
    """``PYTHONPATH`` for a child: ``dirs``, then this checkout (for ``preserver``)."""
    here = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": os.pathsep.join([*map(str, dirs), here, *([rest] if rest else [])])}
