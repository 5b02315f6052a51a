"""Hostile pages against the browser's address rules (issue 10, item 2), with real Chromium.

The promise (docs/design.md "Browser evidence"): a page cannot make the browser reach a
loopback, private, link-local or metadata address that ``[network]`` does not allow, by
any means (subresource, redirect, script, worker, WebSocket, WebRTC, navigation), and
the browser never uses environment proxies.

The pages are served from 127.0.0.3 and only ``127.0.0.3/32`` is allowed. Every attack
aims at ``Forbidden`` (tests/support/forbidden.py): one port on 127.0.0.1, 127.0.0.2 and
::1, TCP and UDP, counting every connection and datagram. After each render both counts
must be zero. Each attack's URL path is its name (``/a/<name>``), and a control test
renders the same pages in a plain Chromium (no preserver switches, no interception) to
show that each attack does reach ``Forbidden`` there: the zero is preserver's doing.

Nothing is mocked. WebRTC needs no peer: gathering candidates, and connectivity checks
to a remote candidate the page adds itself, send the packets.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

import workers._browser_net
from tests.support.browser import CHROMIUM, browser_job, browser_settings
from tests.support.cli import start_cli
from tests.support.fixture_site import FixtureSite, html_page, send
from tests.support.forbidden import Forbidden
from workers.browser import Browser, BrowserOutcome, BrowserSettings, chromium_env, render_page
from workers.net import make_client

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                "(.ci/run installs it)")
SITE_NETWORK = ("127.0.0.3/32",)
MOMENT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                   "all_proxy")


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    s = FixtureSite.start("127.0.0.3")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(allow_private=False, allow_networks=SITE_NETWORK, timeout=5.0) as c:
        yield c


@pytest.fixture(autouse=True)
def every_refusal_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The record lists the first 20 refusals; these pages make more."""
    monkeypatch.setattr(workers._browser_net, "MAX_LISTED", 1000)


# -- the attack pages ------------------------------------------------------------------------


def markup_page(site: FixtureSite, f: Forbidden) -> str:
    """Subresources from markup, styles and response headers; pings, downloads, forms."""
    a = f.url("/a")
    rules = json.dumps({"prefetch": [{"source": "list", "urls": [f"{a}/spec-prefetch"]}],
                        "prerender": [{"source": "list", "urls": [f"{a}/spec-prerender"]}]})
    srcdoc = (f"<script>fetch('{a}/srcdoc-fetch').catch(() => {{}});"
              f"try {{ new WebSocket('ws://127.0.0.2:{f.port}/a/srcdoc-websocket') }} "
              f"catch (e) {{}}</script><img src='{a}/srcdoc-img'>").replace('"', "&quot;")
    head = f"""
      <link rel=preconnect href="{a}/preconnect"><link rel=prefetch href="{a}/prefetch">
      <link rel=preload as=script href="{a}/preload">
      <link rel=preload as=font type="font/woff2" crossorigin href="{a}/preload-font">
      <link rel=modulepreload href="{a}/modulepreload">
      <link rel=stylesheet href="{a}/stylesheet"><link rel=icon href="{a}/icon">
      <script type=speculationrules>{rules}</script>
      <style>
        @import url("{a}/css-import");
        @font-face {{ font-family: evil; src: url("{a}/font") format("woff2"); }}
        body {{ font-family: evil, sans-serif; }}
        .bg {{ background-image: url("{a}/css-url"); height: 9px }}
        .set {{ background-image: image-set(url("{a}/image-set") 1x); height: 9px }}
        .cur {{ cursor: url("{a}/cursor"), auto; height: 9px }}
        .mask {{ mask-image: url("{a}/mask"); height: 9px; background: red }}
      </style>"""
    body = f"""
      <p id=marker>markup page</p>
      <img srcset="{a}/srcset 1x, {a}/srcset 2x">
      <picture><source srcset="{a}/picture-source"><img src="{a}/picture-img"></picture>
      <div class=bg></div><div class=set></div><div class=cur></div><div class=mask></div>
      <div style="background: url('{a}/inline-style'); height: 9px"></div>
      <iframe srcdoc="{srcdoc}"></iframe><iframe src="{a}/iframe"></iframe>
      <script src="{a}/script"></script>
      <object data="{a}/object"></object><embed src="{a}/embed">
      <video poster="{a}/poster" src="{a}/video"></video>
      <input type=image src="{a}/input-image">
      <svg width=20 height=20><image href="{a}/svg-image" width=9 height=9 /></svg>
      <a id=ping href="#pinged" ping="{a}/ping">ping</a>
      <a id=download href="{a}/download" download>download</a>
      <iframe name=sink></iframe><iframe name=sink2></iframe><iframe id=moved></iframe>
      <form id=get action="{a}/form-get" target=sink2><input name=q value=1></form>
      <form id=post method=post action="{a}/form-post" target=sink><input name=q value=1></form>
      <script>addEventListener('load', () => {{
        for (const id of ['ping', 'download']) document.getElementById(id).click();
        for (const id of ['get', 'post']) document.getElementById(id).submit();
        document.getElementById('moved').contentWindow.location.href = '{a}/iframe-location';
      }});</script>"""
    headers = {"Content-Security-Policy-Report-Only": f"img-src 'self'; report-uri {a}/csp-report",
               "Link": f"<{a}/link-header>; rel=preload; as=image"}
    return site.add_bytes("/markup", html_page(head=head, body=body), "text/html",
                          headers=headers)


def js(value: object) -> str:
    """``value`` as a JavaScript literal that can sit inside a ``<script>`` element."""
    return json.dumps(value).replace("</", "<\\/")


# Run in a dedicated worker and (names prefixed "shared-") in a SharedWorker.
_WORKER = """
  fetch(A + '/worker-fetch').catch(() => {});
  try { importScripts(A + '/worker-import'); } catch (e) {}
  try { new WebSocket(WS + '/worker-websocket'); } catch (e) {}
  try { new EventSource(A + '/worker-eventsource'); } catch (e) {}
"""


def script_page(site: FixtureSite, f: Forbidden) -> str:
    """What scripts can send: fetches of every kind, workers, sockets, WebRTC, frames of
    other origins, browser-made fetches (payments, FedCM), every spelling of the
    forbidden addresses, and redirects from the allowed site to them."""
    a, port = f.url("/a"), f.port
    setup = f"const A = {json.dumps(a)}, WS = 'ws://127.0.0.2:{port}/a';"
    site.add_bytes("/sw.js", f"{setup} fetch(A + '/sw-fetch'); importScripts(A + '/sw-import');"
                   .encode(), "text/javascript")
    for name, host in (("", "127.0.0.2"), ("-v6", "[::1]"), ("-zero", "0.0.0.0"),
                       ("-localhost", "localhost")):
        site.add_redirect(f"/hop{name}", f"http://{host}:{port}/a/redirected{name}")
    worker = js(setup + _WORKER)
    shared = js(setup + _WORKER.replace("/worker-", "/shared-"))
    spellings = {"decimal": "2130706434", "hex": "0x7f000002", "octal": "0177.0.0.2",
                 "short": "127.2", "v6": "[::1]", "v4-mapped": "[::ffff:127.0.0.2]",
                 "v4-compatible": "[::127.0.0.2]", "zero": "0.0.0.0", "zero-short": "0",
                 "localhost": "localhost", "localhost-dot": "localhost.",
                 "sub-localhost": "evil.localhost"}
    frame = js(f"<img src='{a}/NAME-img'><script>fetch('{a}/NAME-fetch')</script>")
    body = f"""<p id=marker>script page</p><script>
      {setup} const P = {port};
      const blob = (text, type) => URL.createObjectURL(new Blob([text], {{type}}));
      const t = (f) => {{ try {{ const p = f(); if (p && p.catch) p.catch(() => {{}}); }}
                          catch (e) {{}} }};
      t(() => navigator.sendBeacon(A + '/beacon', 'x'));
      t(() => fetch(A + '/keepalive', {{method: 'POST', body: 'x', keepalive: true}}));
      t(() => fetch(A + '/fetch', {{mode: 'no-cors'}}));
      t(() => fetch('https://127.0.0.2:' + P + '/a/https', {{mode: 'no-cors'}}));
      t(() => {{ new Image().src = A + '/js-image'; }});
      t(() => {{ const x = new XMLHttpRequest(); x.open('GET', A + '/xhr'); x.send(); }});
      t(() => import(A + '/dynamic-import'));
      t(() => new EventSource(A + '/eventsource'));
      t(() => new WebSocket(WS + '/websocket'));
      t(() => new WebSocket('ws://[::1]:' + P + '/a/websocket-v6'));
      t(() => new WebTransport('https://127.0.0.2:' + P + '/a/webtransport').ready);
      t(() => new Worker(blob({worker}, 'text/javascript')));
      t(() => new Worker(blob("import '" + A + "/module-import';", 'text/javascript'),
                         {{type: 'module'}}));
      t(() => new SharedWorker(blob({shared}, 'text/javascript')));
      t(() => navigator.serviceWorker.register('/sw.js'));
      t(() => window.open(A + '/window-open'));
      t(() => new TCPSocket('127.0.0.2', P));
      t(() => new PaymentRequest([{{supportedMethods: 'https://127.0.0.2:' + P + '/a/pay'}}],
          {{total: {{label: 'x', amount: {{currency: 'USD', value: '1'}}}}}}).canMakePayment());
      t(() => navigator.credentials.get({{identity: {{providers: [
          {{configURL: 'https://127.0.0.2:' + P + '/a/fedcm', clientId: 'x'}}]}}}}));
      for (const [name, src] of [['data-frame', 'data:text/html,'], ['blob-frame', 'blob']]) {{
        const html = {frame}.replaceAll('NAME', name), f = document.createElement('iframe');
        f.src = src === 'blob' ? blob(html, 'text/html') : src + encodeURIComponent(html);
        document.body.append(f);
      }}
      const blank = document.createElement('iframe'); document.body.append(blank);
      blank.contentDocument.write({frame}.replaceAll('NAME', 'blank-frame'));
      blank.contentDocument.close();
      for (const [name, host] of Object.entries({js(spellings)}))
        t(() => fetch('http://' + host + ':' + P + '/a/host-' + name, {{mode: 'no-cors'}}));
      for (const hop of ['', '-v6', '-zero', '-localhost']) t(() => fetch('/hop' + hop));
      const out = document.getElementById('marker'); out.dataset.ice = '';
      const note = (e) => {{ if (e.candidate) out.dataset.ice += e.candidate.candidate + ';'; }};
      t(async () => {{  // STUN and TURN at the forbidden addresses, over UDP and TCP
        const pc = new RTCPeerConnection({{iceServers: [
          {{urls: ['stun:127.0.0.2:' + P, 'stun:[::1]:' + P, 'stun:0.0.0.0:' + P]}},
          {{urls: ['turn:127.0.0.2:' + P + '?transport=udp',
                   'turn:127.0.0.2:' + P + '?transport=tcp'], username: 'u', credential: 'c'}}]}});
        pc.onicecandidate = note; pc.createDataChannel('x');
        await pc.setLocalDescription(await pc.createOffer());
      }});
      t(async () => {{  // ICE connectivity checks to remote candidates the page names
        const one = new RTCPeerConnection(), two = new RTCPeerConnection();
        one.onicecandidate = note; one.createDataChannel('x');
        await one.setLocalDescription(await one.createOffer());
        await two.setRemoteDescription(one.localDescription);
        await two.setLocalDescription(await two.createAnswer());
        await one.setRemoteDescription(two.localDescription);
        for (const c of ['1 1 udp 2122260223 127.0.0.2 ' + P + ' typ host',
                         '2 1 udp 2122260223 ::1 ' + P + ' typ host',
                         '3 1 tcp 1518280447 127.0.0.2 ' + P + ' typ host tcptype passive'])
          await one.addIceCandidate({{candidate: 'candidate:' + c, sdpMid: '0'}}).catch(() => {{}});
      }});
    </script>"""
    return site.add_bytes("/scripts", html_page(body=body), "text/html",
                          headers={"Alt-Svc": f'h3="127.0.0.2:{port}"; ma=86400'})


def navigation_pages(site: FixtureSite, f: Forbidden) -> dict[str, str]:
    """Pages that take the whole tab to a forbidden address, one way each."""
    a = f.url("/a")
    marker = "<p id=marker>navigating page</p>"
    after_load = "addEventListener('load', () => setTimeout(() => {{ {} }}, 50));"
    pages = {
        "meta-refresh": html_page(
            head=f'<meta http-equiv=refresh content="0;url={a}/meta-refresh">', body=marker),
        "location": html_page(body=marker + "<script>" + after_load.format(
            f"location.href = '{a}/location'") + "</script>"),
        "inline-location": html_page(body=f"{marker}<script>location.replace("
                                          f"'{a}/inline-location')</script><p>never parsed</p>"),
        "form-top": html_page(body=f"{marker}<form id=f method=post action='{a}/form-top'>"
                              "<input name=a value=b></form><script>" +
                              after_load.format("document.getElementById('f').submit()") +
                              "</script>"),
        "link-top": html_page(body=f"{marker}<a id=l href='{a}/link-top'>x</a><script>" +
                              after_load.format("document.getElementById('l').click()") +
                              "</script>"),
    }
    urls = {name: site.add_bytes(f"/nav/{name}", page, "text/html")
            for name, page in pages.items()}
    urls["refresh-header"] = site.add_bytes("/nav/refresh-header", html_page(body=marker),
                                            "text/html",
                                            headers={"Refresh": f"0;url={a}/refresh-header"})
    site.add_bytes("/nav/x.xsl", f"""<xsl:stylesheet version="1.0"
        xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:template match="/">
        <html><body><p id="marker">navigating page</p><img src="{a}/xslt-img"/>
        </body></html>
        </xsl:template></xsl:stylesheet>""".encode(), "text/xsl")
    urls["xslt"] = site.add_bytes(
        "/nav/xslt", b'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="/nav/x.xsl"?>'
        b"<root/>", "application/xml")
    return urls


# -- rendering and counting ------------------------------------------------------------------


def settings(**changes: object) -> BrowserSettings:
    return browser_settings(**({"settle": 2.0, "max_height": 3000} | changes))


async def render(browser: Browser, tmp_path: Path, url: str,
                 http: httpx.AsyncClient) -> tuple[BrowserOutcome, str]:
    """The browser part of a capture of ``url``, and the rendered page ("" if none)."""
    job = browser_job(tmp_path, url, SITE_NETWORK)
    outcome = await render_page(browser, job, http, clock=lambda: MOMENT)
    dom = next((f.path.read_text(encoding="utf-8") for f in outcome.files if f.role == "dom"), "")
    return outcome, dom


def attacks(lines: list[str]) -> set[str]:
    """The attack names (``/a/<name>``) in request lines or URLs."""
    return {m.group(1) for line in lines for m in [re.search(r"/a/([\w-]+)", line)] if m}


def refused(outcome: BrowserOutcome) -> set[str]:
    return attacks([r["url"] for r in outcome.record["refused_requests"]])


async def untouched(forbidden: Forbidden) -> None:
    """Nothing reached ``Forbidden``, also a moment after the page was closed."""
    await asyncio.sleep(0.5)
    assert (forbidden.connections, forbidden.packets) == (0, 0), forbidden.lines


# -- preserver's browser: nothing arrives ----------------------------------------------------

# Attacks the interception sees and refuses (listed in the record). The others on the
# pages die inside Chromium (ESCAPEES, speculation rules, TURN over TCP, preconnect,
# WebTransport, payments) or are never made there (a service worker is blocked): zero
# connections is the test for them, and the control shows they are live.
MARKUP_REFUSED = {
    "css-import", "css-url", "cursor", "download", "embed", "font", "form-get", "form-post", "icon",
    "iframe", "iframe-location", "image-set", "inline-style", "input-image", "link-header",
    "mask", "modulepreload", "object", "picture-source", "ping", "poster", "prefetch",
    "preload", "preload-font", "script", "srcdoc-fetch", "srcdoc-img", "srcdoc-websocket",
    "srcset", "stylesheet", "svg-image", "video"}
SPELLINGS = {"host-decimal", "host-hex", "host-octal", "host-short", "host-v6", "host-v4-mapped",
             "host-zero", "host-zero-short", "host-localhost", "host-localhost-dot",
             "host-sub-localhost"}
SCRIPT_REFUSED = SPELLINGS | {
    "beacon", "keepalive", "fetch", "https", "js-image", "xhr", "dynamic-import", "eventsource",
    "websocket", "websocket-v6", "worker-fetch", "worker-import", "worker-eventsource",
    "module-import", "window-open", "data-frame-fetch", "data-frame-img", "blob-frame-fetch",
    "blob-frame-img", "blank-frame-fetch", "blank-frame-img", "host-v4-compatible"}
# Not seen by Playwright's interception: a SharedWorker's requests, a dedicated worker's
# WebSocket. Chromium's switches (no name resolves, a dead proxy) are what stops them
# (and, without them, Local Network Access once the connection is made).
ESCAPEES = {"shared-fetch", "shared-import", "shared-websocket", "shared-eventsource",
            "worker-websocket"}


@pytest.mark.slow
async def test_markup_and_headers_reach_no_forbidden_address(
        tmp_path: Path, site: FixtureSite, forbidden: Forbidden, http: httpx.AsyncClient) -> None:
    url = markup_page(site, forbidden)
    async with Browser(settings()) as browser:
        outcome, dom = await render(browser, tmp_path, url, http)
    await untouched(forbidden)
    assert outcome.complete, outcome.message
    assert "markup page" in dom
    assert MARKUP_REFUSED <= refused(outcome), MARKUP_REFUSED - refused(outcome)


@pytest.mark.slow
async def test_scripts_workers_sockets_and_webrtc_reach_no_forbidden_address(
        tmp_path: Path, site: FixtureSite, forbidden: Forbidden, http: httpx.AsyncClient) -> None:
    url = script_page(site, forbidden)
    async with Browser(settings()) as browser:
        outcome, dom = await render(browser, tmp_path, url, http)
    await untouched(forbidden)
    assert outcome.complete, outcome.message
    assert "script page" in dom
    assert SCRIPT_REFUSED <= refused(outcome), SCRIPT_REFUSED - refused(outcome)
    hops = {r["url"].rsplit("/", 1)[1]: r["reason"] for r in outcome.record["refused_requests"]
            if "/hop" in r["url"]}
    assert hops == {"hop": "address refused: refused: 127.0.0.2 is not a public address",
                    "hop-v6": "address refused: refused: ::1 is not a public address",
                    "hop-zero": "address refused: refused: 0.0.0.0 is not a public address",
                    "hop-localhost": "address refused: refused: 127.0.0.1 is not a public address"}
    # WebRTC gathered no candidate at all: no UDP socket, no mDNS name, no STUN
    assert re.findall(r'data-ice="([^"]*)"', dom) == [""]


@pytest.mark.slow
async def test_navigations_away_reach_nothing_and_the_page_stays_the_evidence(
        tmp_path: Path, site: FixtureSite, forbidden: Forbidden, http: httpx.AsyncClient) -> None:
    """A page that sends the whole tab to a forbidden address (meta refresh, ``location``
    after load and while parsing, a form, a link, a ``Refresh`` header, an XSLT
    document's image) reaches nothing, and the evidence is still that page under its own
    address: not Chromium's error page under ``chrome-error://``."""
    urls = navigation_pages(site, forbidden)
    async with Browser(settings(concurrency=len(urls))) as browser:
        outcomes = await asyncio.gather(*(render(browser, tmp_path, url, http)
                                          for url in urls.values()))
    await untouched(forbidden)
    for (name, url), (outcome, dom) in zip(urls.items(), outcomes, strict=True):
        assert outcome.complete, (name, outcome.message)
        assert "navigating page" in dom, name
        assert outcome.record["screenshot"]["banner"][0] == url
        assert refused(outcome) == {"xslt-img" if name == "xslt" else name}


@pytest.mark.slow
async def test_environment_proxies_are_never_used(
        tmp_path: Path, site: FixtureSite, forbidden: Forbidden,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxy variables aimed at ``Forbidden`` while rendering: neither the browser nor
    the client uses them. A plain Chromium given the same environment does."""
    shared = js("fetch('http://evidence.invalid/a/env-shared')")
    body = (f"<p id=marker>env page</p><script>fetch('http://evidence.invalid/a/env-fetch');"
            f"new SharedWorker(URL.createObjectURL(new Blob([{shared}])));</script>")
    url = site.add_bytes("/env", html_page(body=body), "text/html")
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, forbidden.url(""))
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert not set(chromium_env()) & set(PROXY_VARIABLES)
    async with make_client(allow_private=False, allow_networks=SITE_NETWORK) as client, \
            Browser(settings()) as browser:
        outcome, dom = await render(browser, tmp_path, url, client)
    await untouched(forbidden)
    assert outcome.complete and "env page" in dom, outcome.message
    assert "env-fetch" in refused(outcome)
    assert {"env-fetch", "env-shared"} <= await plain_chromium([url], forbidden, dict(os.environ))


@pytest.mark.slow
async def test_what_the_interception_misses_dies_in_chromium(
        tmp_path: Path, site: FixtureSite, forbidden: Forbidden, http: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Some requests bypass Playwright's interception: the payment method manifest
    Chromium fetches itself, TURN over TCP, a SharedWorker's requests. Chromium's switches
    stop them: with the resolver rule alone (no proxy switches) nothing arrives; with
    neither, these arrive and nothing the interception refuses does."""
    import workers.browser

    url = script_page(site, forbidden)
    switches = workers.browser.chromium_args()
    resolver_only = tuple(s for s in switches if not s.startswith("--proxy-"))
    monkeypatch.setattr(workers.browser, "_CHROMIUM_ARGS", resolver_only)
    async with Browser(settings()) as browser:
        await render(browser, tmp_path, url, http)
    await untouched(forbidden)
    neither = tuple(s for s in resolver_only if not s.startswith("--host-resolver-rules"))
    monkeypatch.setattr(workers.browser, "_CHROMIUM_ARGS", neither)
    async with Browser(settings()) as browser:
        await render(browser, tmp_path, url, http)
    await asyncio.sleep(0.5)
    assert {"tls", "stun"} <= set(forbidden.lines), forbidden.lines  # payment, TURN
    assert attacks(forbidden.lines) <= ESCAPEES, forbidden.lines
    assert forbidden.packets == 0  # the WebRTC switch still holds


# -- the control: a plain Chromium is reached by every attack --------------------------------


async def plain_chromium(urls: list[str], forbidden: Forbidden,
                         env: dict[str, str] | None = None) -> set[str]:
    """Open the pages at once in Chromium as Playwright starts it (no preserver switches,
    no interception) until no connection reached ``Forbidden`` for a second; the attacks that
    reached it."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, env=env)
        context = await browser.new_context()
        for url in urls:  # "commit": a page stopped by its own navigation never loads
            await (await context.new_page()).goto(url, wait_until="commit")
        seen, quiet_since, until = -1, time.monotonic(), time.monotonic() + 8
        while time.monotonic() < until and time.monotonic() - quiet_since < 1.0:
            await asyncio.sleep(0.1)  # TCP only: WebRTC goes on sending STUN
            if forbidden.connections != seen:
                seen, quiet_since = forbidden.connections, time.monotonic()
        await browser.close()
    return attacks(forbidden.lines)


@pytest.mark.slow
async def test_control_every_attack_reaches_a_plain_chromium(
        site: FixtureSite, forbidden: Forbidden) -> None:
    """Without preserver, the pages above do reach the forbidden addresses: each attack
    the tests count on, WebRTC and WebTransport over UDP, TLS and STUN over TCP."""
    navigations = navigation_pages(site, forbidden)
    # the markup page last: speculation rules act in the tab in front only
    hit = await plain_chromium([script_page(site, forbidden), *navigations.values(),
                                markup_page(site, forbidden)], forbidden)
    expected = ((MARKUP_REFUSED | SCRIPT_REFUSED | ESCAPEES | set(navigations)
                 | {"csp-report", "spec-prefetch", "spec-prerender", "sw-fetch", "sw-import",
                    "redirected", "redirected-v6", "redirected-zero", "redirected-localhost",
                    "xslt-img"})
                - {"xslt", "https", "host-v4-compatible"})  # ::7f00:2 is not loopback on Linux
    assert expected <= hit, expected - hit
    assert {"tls", "stun"} <= set(forbidden.lines) and forbidden.packets > 0


# -- kill -9 of preserver: the browser goes with it ------------------------------------------


def _family(root: int, mark: str) -> dict[int, str]:
    """The live processes below ``root``, and those with ``mark`` in their environment
    (one reparented before it was seen): pid -> program name. Zombies count as gone."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    marked: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            program = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
            if mark.encode() in (entry / "environ").read_bytes():
                marked.add(int(entry.name))
        except OSError:
            continue
        state, parent = stat[stat.rindex(")") + 2:].split()[:2]
        if state != "Z":
            parents[int(entry.name)], names[int(entry.name)] = int(parent), Path(program).name
    family, grown = {root}, True
    while grown:
        below = {pid for pid, parent in parents.items() if parent in family} - family
        family |= below
        grown = bool(below)
    return {pid: names[pid] for pid in (family | marked) & names.keys()}


@pytest.mark.slow
def test_a_killed_preserver_leaves_no_browser_behind(tmp_path: Path, site: FixtureSite) -> None:
    """``kill -9`` of a ``preserve`` run while Chromium renders a page: the Playwright
    driver (node) and every Chromium process end with it."""
    rendering = threading.Event()

    def tick(req: object) -> None:
        rendering.set()
        send(req, 200, b"{}", "application/json")  # type: ignore[arg-type]

    site.add("/tick", tick)
    url = site.add_bytes("/busy", html_page(
        body="<p>busy</p><script>setInterval(() => fetch('/tick'), 50)</script>"), "text/html")
    (tmp_path / "config.toml").write_text(
        'data_dir = "archive"\noperator = "kill"\n[network]\nallow_networks = ["127.0.0.3/32"]\n'
        '[collection]\nip_echo_url = ""\nntp_server = ""\n'
        '[browser]\nsettle = "30s"\ntimeout = "60s"\n', encoding="utf-8")
    (tmp_path / "report.txt").write_text(f"1- busy\n{url}\n", encoding="utf-8")
    mark = uuid.uuid4().hex
    proc = start_cli("preserve", str(tmp_path / "report.txt"), config=tmp_path / "config.toml",
                     env={"PRESERVER_TEST_KILL_MARK": mark})
    assert proc.stderr is not None
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(proc.stderr or ()), daemon=True)
    reader.start()  # drained as it comes: a full pipe would stall the process
    try:
        assert rendering.wait(60), f"the page was never rendered: {''.join(stderr)}"
        before = _family(proc.pid, mark)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        reader.join(timeout=15)
        if not reader.is_alive():
            proc.stderr.close()
    assert {"node", "chromium"} <= set(before.values()), before
    deadline = time.monotonic() + 15
    while (left := {p: n for p, n in _family(proc.pid, mark).items() if p in before}) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"left running after kill -9: {left}"
