"""Starting a capture run from the web and watching it: ``python -m preserver run`` as a
child process in the user's name, one at a time, its progress on ``/runs/{id}`` (which
reloads itself while it runs) and ``/api/runs/{id}``; with the web's configuration from a
file or from the environment; stopped when the web server stops. And the same in a real
Chromium: sign in, upload through the file chooser, start the run, see it complete."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from preserver.config import load_config
from tests.preserver.web.conftest import WebArchive, data_dir_of
from tests.support.cli import run_cli
from tests.support.fixture_site import FixtureSite, Media, html_page
from tests.support.web import PASSWORD, csrf_of, serve_web, sign_in
from tests.support.web_actions import events, upload, wait_for_run, written

CHROMIUM = "/usr/bin/chromium"


def _web_runs(client: httpx.Client) -> list[dict[str, object]]:
    runs: list[dict[str, object]] = client.get("/api/runs").json()["web_runs"]
    return runs


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("role", ["viewer", "legal"])
def test_only_archivists_start_or_watch_runs(clients: dict[str, httpx.Client],
                                             archivist: httpx.Client, role: str) -> None:
    before = _web_runs(archivist)
    client = clients[role]
    token = csrf_of(client.get("/reports").text)
    assert client.post("/runs", data={"csrf": token}).status_code == 403
    assert client.get("/runs").status_code == 403
    assert client.get(f"/runs/{'0' * 32}").status_code == 403
    api = client.post("/api/runs", headers={"X-CSRF-Token": token})
    assert api.status_code == 403
    assert "archivist" in api.json()["error"]
    assert client.get("/api/runs").status_code == 403
    assert _web_runs(archivist) == before


def test_a_forged_csrf_token_starts_no_run(archivist: httpx.Client) -> None:
    before = _web_runs(archivist)
    assert archivist.post("/runs", data={"csrf": "forged"}).status_code == 403
    assert archivist.post("/runs", data={"report": ""}).status_code == 403  # no token
    assert archivist.post("/api/runs").status_code == 403  # a session's script sends the header
    assert archivist.post("/api/runs", headers={"X-CSRF-Token": "x"}).status_code == 403
    assert _web_runs(archivist) == before


@pytest.mark.parametrize(("report", "message"), [
    ("not-a-hash", "64 hex digits"),
    ("0" * 64, "no report with SHA-256"),
    ("g" * 64, "64 hex digits"),
])
def test_a_bad_report_to_watch_is_400(archivist: httpx.Client, report: str,
                                      message: str) -> None:
    before = _web_runs(archivist)
    token = csrf_of(archivist.get("/runs").text)
    page = archivist.post("/runs", data={"csrf": token, "report": report})
    assert page.status_code == 400
    assert message in page.text
    api = archivist.post("/api/runs", json={"report": report}, headers={"X-CSRF-Token": token})
    assert api.status_code == 400
    assert message in api.json()["error"]
    assert _web_runs(archivist) == before


@pytest.mark.parametrize("body", [b"[1]", b"{not json", b'{"report": 5}', b"\xff",
                                  b"[" * 60_000])  # nested past the parser's recursion
def test_a_bad_api_body_is_400(archivist: httpx.Client, body: bytes) -> None:
    token = csrf_of(archivist.get("/runs").text)
    response = archivist.post("/api/runs", content=body,
                              headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "the body" in response.json()["error"]


@pytest.mark.parametrize("run_id", ["0" * 32, "nope", "../../etc"])
def test_an_unknown_run_is_404(archivist: httpx.Client, run_id: str) -> None:
    assert archivist.get(f"/runs/{run_id}").status_code == 404
    assert archivist.get(f"/api/runs/{run_id}").status_code == 404


@pytest.mark.slow
def test_a_run_from_the_web_captures_in_the_users_name(web_archive: WebArchive,
                                                       archivist: httpx.Client, site: FixtureSite,
                                                       media: Media) -> None:
    data_dir = data_dir_of(web_archive.site)
    clip = site.add_file("/b/clip.mp4", media.mp4_b, "video/mp4")
    slow = site.add_trickle("/b/slow.html", html_page(title="Slow", body="<p>slow</p>"),
                            "text/html", pieces=4, pause=0.75)  # the run lasts 3 s at least
    token = csrf_of(archivist.get("/runs").text)
    uploaded = upload(archivist, "report-b.txt", f"1- clip\n{clip}\n2- slow\n{slow}\n".encode(),
                      csrf=None, path="/api/reports", headers={"X-CSRF-Token": token})
    assert uploaded.status_code == 201, uploaded.text
    sha256 = uploaded.json()["report_sha256"]
    stored_before = len(events(data_dir, "capture_stored"))

    started = archivist.post("/runs", data={"csrf": token, "report": sha256})
    assert started.status_code == 303
    run_id = started.headers["location"].rsplit("/", 1)[-1]
    watching = archivist.get(f"/runs/{run_id}")
    assert '<meta http-equiv="refresh" content="2">' in watching.text  # reloads while running
    assert "report-b.txt" in watching.text
    busy = archivist.post("/api/runs", headers={"X-CSRF-Token": token})
    assert busy.status_code == 409
    assert "still going" in busy.json()["error"]

    done = wait_for_run(archivist, run_id)
    assert done["run"]["status"] == "complete", done
    assert done["run"]["started_by"] == "archivist"
    assert done["progress"]["report"]["sha256"] == sha256
    assert done["progress"]["links"] == {"complete": 2}
    assert done["progress"]["jobs"] == {"done": 2}
    assert done["progress"]["pending"] == 0
    page = archivist.get(f"/runs/{run_id}")
    assert 'http-equiv="refresh"' not in page.text
    assert "complete 2" in page.text
    stored = events(data_dir, "capture_stored")[stored_before:]
    assert sorted(e["subject"] for e in stored) == sorted([f"web:{clip}", f"web:{slow}"])
    assert {e["actor"]["operator"] for e in stored} == {"archivist"}
    assert list((data_dir / "logs").glob(f"web-run-{run_id}.log"))
    # the runs table has the child's run, and the list links it to the web's
    listed = archivist.get("/api/runs").json()
    row = next(r for r in listed["runs"] if r["web_run"] == run_id)
    assert row["jobs"] == 2
    assert archivist.get(f"/api/runs/{row['id']}").json()["run"]["status"] == "ended"
    assert f'href="/runs/{run_id}"' in archivist.get("/runs").text


def _env_config(root: Path) -> dict[str, str]:
    return {"PRESERVER_DATA_DIR": str(root / "archive"), "PRESERVER_OPERATOR": "env-operator",
            "PRESERVER_CAPTURE_TIMEOUT": "20s", "PRESERVER_CAPTURE_MAX_ATTEMPTS": "1",
            "PRESERVER_NETWORK_ALLOW_NETWORKS": '["127.0.0.1/32"]',
            "PRESERVER_BROWSER_ENABLED": "false", "PRESERVER_COLLECTION_IP_ECHO_URL": "",
            "PRESERVER_COLLECTION_NTP_SERVER": "", "PRESERVER_WEB_MAX_UPLOAD": "1MiB"}


@pytest.mark.slow
def test_a_web_configured_by_the_environment_passes_it_to_its_runs(
        tmp_path: Path, site: FixtureSite, media: Media, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = site.add_file("/c/clip.mp4", media.mp4, "video/mp4")
    hang = site.add_trickle("/c/hang.html", html_page(title="Hang"), "text/html", pieces=30,
                            pause=1.0)
    env = _env_config(tmp_path)
    (tmp_path / "report.txt").write_text(f"{clip}\n", encoding="utf-8")
    run_cli("ingest", str(tmp_path / "report.txt"), env=env, cwd=tmp_path, check=0)
    run_cli("user", "add", "ana", "--role", "archivist", "--password-stdin", env=env,
            cwd=tmp_path, stdin=f"{PASSWORD}\n".encode(), check=0)
    monkeypatch.chdir(tmp_path)  # no ./config.toml here: the environment alone
    config = load_config(None, env=env)
    assert config.path is None
    with serve_web(config) as web, web.client() as client:
        assert sign_in(client, "ana").status_code == 303
        token = csrf_of(client.get("/runs").text)
        started = client.post("/api/runs", headers={"X-CSRF-Token": token})
        assert started.status_code == 202, started.text
        done = wait_for_run(client, started.json()["run"]["id"])
        assert done["run"]["status"] == "complete", done
        assert done["progress"]["links"] == {"complete": 1}
        stored = events(tmp_path / "archive", "capture_stored")
        assert [(e["subject"], e["actor"]["operator"]) for e in stored] == [(f"web:{clip}", "ana")]
        # a run still going when the web server stops is stopped with it
        upload(client, "hang.txt", f"{hang}\n".encode(), csrf=token)
        going = client.post("/api/runs", headers={"X-CSRF-Token": token}).json()["run"]
        assert client.get(f"/api/runs/{going['id']}").json()["run"]["status"] == "running"
    assert not _alive(going["pid"])
    assert written(tmp_path / "archive").reports == 2


@pytest.mark.slow
def test_in_a_browser_upload_run_and_watch_it_complete(web_archive: WebArchive, site: FixtureSite,
                                                       media: Media, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    clip = site.add_file("/d/clip.mp4", media.mp4_b, "video/mp4")
    report = tmp_path / "تقرير-d.txt"
    report.write_text(f"1- مقطع\n{clip}\n", encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{web_archive.site.url}/upload")
            page.fill("input[name=name]", "archivist")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/upload")
            with page.expect_file_chooser() as chooser:
                page.click("input[type=file]")
            chooser.value.set_files(str(report))
            page.click("form.upload button[type=submit]")
            expect(page.locator("section.result h2")).to_have_text(f"Ingested: {report.name}")
            page.click("text=Capture now and watch this report")
            page.wait_for_url("**/runs/*")
            expect(page.locator("#run-status")).to_have_text("complete", timeout=180_000)
            expect(page.locator("p.links")).to_contain_text("complete 1")
            assert report.name in page.content()
        finally:
            browser.close()
    stored = events(data_dir_of(web_archive.site), "capture_stored")[-1]
    assert stored["subject"] == f"web:{clip}"
    assert stored["actor"]["operator"] == "archivist"


def test_the_launcher_refuses_a_configuration_it_cannot_pass(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from preserver.errors import RunError
    from preserver.web.launcher import config_env

    monkeypatch.chdir(tmp_path)
    config = load_config(None, env={"PRESERVER_DATA_DIR": str(tmp_path)})
    assert config_env(config)["PRESERVER_DATA_DIR"] == str(tmp_path)
    odd = replace(config, capture=replace(config.capture, timeout=0.0005))  # no whole ms
    with pytest.raises(RunError, match="capture would differ"):
        config_env(odd)


async def test_progress_is_counted_alike_on_every_database(db_url: str, tmp_path: Path) -> None:
    """The run pages' counts (``views.progress``) on SQLite and PostgreSQL: two links
    queued, of a report and of the archive; a third link cited by another report only."""
    from preserver.archive import open_archive, read_archive
    from preserver.errors import UnknownKey
    from preserver.ingest import ingest_report
    from preserver.views.progress import capture_progress, capture_runs

    config_file = tmp_path / "config.toml"
    config_file.write_text(f'data_dir = "{tmp_path / "archive"}"\ndatabase_url = "{db_url}"\n'
                           'operator = "test-archivist"\n', encoding="utf-8")
    config = load_config(config_file, env={})
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("https://example.org/a\nhttps://example.org/b\nhttps://example.org/a\n",
                     encoding="utf-8")
    second.write_text("https://example.org/c\n", encoding="utf-8")
    async with open_archive(config) as archive:
        result = await ingest_report(archive, first)
        await ingest_report(archive, second)
    async with read_archive(config) as archive:
        of_report = await capture_progress(archive.db, report=result.report_sha256)
        of_all = await capture_progress(archive.db, report=None)
        runs = await capture_runs(archive.db)
        with pytest.raises(UnknownKey, match="no report with SHA-256"):
            await capture_progress(archive.db, report="0" * 64)
    assert of_report == {"report": {"name": "first.txt", "sha256": result.report_sha256},
                         "jobs": {"queued": 2}, "links": {"queued": 2}, "pending": 2}
    assert of_all == {"report": None, "jobs": {"queued": 3}, "links": {"queued": 3},
                      "pending": 3}
    assert runs == []


async def test_a_link_queued_again_is_counted_once(db_url: str, tmp_path: Path) -> None:
    """A target whose capture job failed, cited again (so queued again: a second job), is
    one link, in the state of its newest job, on SQLite and PostgreSQL."""
    from preserver.archive import open_archive, read_archive
    from preserver.db.queue import claim, finish
    from preserver.db.values import JobState
    from preserver.ingest import ingest_report
    from preserver.views.progress import capture_progress

    config_file = tmp_path / "config.toml"
    config_file.write_text(f'data_dir = "{tmp_path / "archive"}"\ndatabase_url = "{db_url}"\n'
                           'operator = "test-archivist"\n', encoding="utf-8")
    config = load_config(config_file, env={})
    first, again = tmp_path / "first.txt", tmp_path / "again.txt"
    first.write_text("https://example.org/a\n", encoding="utf-8")
    again.write_text("cited again\nhttps://example.org/a\n", encoding="utf-8")
    async with open_archive(config) as archive:
        await ingest_report(archive, first)
        async with archive.db.session() as session:
            job = await claim(session)
            assert job is not None
            assert await finish(session, job.id, state=JobState.FAILED, error="gone")
        result = await ingest_report(archive, again)
        assert result.queued == 1  # a second capture job for the same target
    async with read_archive(config) as archive:
        of_report = await capture_progress(archive.db, report=result.report_sha256)
        of_all = await capture_progress(archive.db, report=None)
    assert of_report["links"] == {"queued": 1}
    assert of_report["jobs"] == {"failed": 1, "queued": 1}
    assert of_all["links"] == {"queued": 1}


@pytest.mark.slow  # a web server of its own
def test_a_run_that_cannot_be_started_is_a_500_with_its_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    env = _env_config(tmp_path)
    (tmp_path / "report.txt").write_text("https://example.org/x\n", encoding="utf-8")
    run_cli("ingest", str(tmp_path / "report.txt"), env=env, cwd=tmp_path, check=0)
    run_cli("user", "add", "ana", "--role", "archivist", "--password-stdin", env=env,
            cwd=tmp_path, stdin=f"{PASSWORD}\n".encode(), check=0)
    monkeypatch.chdir(tmp_path)
    config = load_config(None, env=env)
    odd = replace(config, capture=replace(config.capture, timeout=0.0005))  # no whole ms
    with serve_web(odd) as web, web.client() as client:
        assert sign_in(client, "ana").status_code == 303
        token = csrf_of(client.get("/runs").text)
        api = client.post("/api/runs", headers={"X-CSRF-Token": token})
        assert api.status_code == 500
        assert "cannot be passed to a run" in api.json()["error"]
        page = client.post("/runs", data={"csrf": token})
        assert page.status_code == 500
        assert "cannot be passed to a run" in page.text
        assert client.get("/api/runs").json()["web_runs"] == []


def test_a_child_is_told_its_operator_once(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``--operator``, and no ``PRESERVER_OPERATOR``: neither the web server's own operator
    (its file's, its environment's) nor one it inherited reaches the child."""
    from preserver.web.launcher import preserver_child

    monkeypatch.setenv("PRESERVER_OPERATOR", "inherited")
    config = load_config(None, env={"PRESERVER_DATA_DIR": str(tmp_path),
                                    "PRESERVER_OPERATOR": "the-server"})
    for name, args in (("run", ()), ("export", ("--report", "ab" * 32, "out.zip", "--zip")),
                       ("ingest", ("--json", "--", "/r.txt"))):
        command, env = preserver_child(config, name, *args, operator="ana")
        assert command.count("--operator") == 1
        at = command.index("--operator")
        assert command[at - 1:at + 2] == [name, "--operator", "ana"]
        assert command[at + 2:] == list(args)
        assert not any("PRESERVER_OPERATOR" in k or v in ("inherited", "the-server")
                       for k, v in env.items())


@pytest.mark.slow  # an upload and an export, each a child process
def test_an_inherited_operator_does_not_stand_in_for_the_user(
        web_archive: WebArchive, clients: dict[str, httpx.Client],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The web server's own environment says PRESERVER_OPERATOR (a unit file left over):
    the custody events of what its users do still name them."""
    monkeypatch.setenv("PRESERVER_OPERATOR", "inherited")  # this process serves the web
    data_dir = data_dir_of(web_archive.site)
    archivist = clients["archivist"]
    token = csrf_of(archivist.get("/upload").text)
    sent = upload(archivist, "inherited.txt", b"1- x\nhttps://example.org/inherited\n",
                  csrf=token)
    assert sent.status_code == 201, sent.text
    assert events(data_dir, "report_ingested")[-1]["actor"]["operator"] == "archivist"
    sha = hashlib.sha256(web_archive.report.read_bytes()).hexdigest()
    assert clients["legal"].get(f"/reports/{sha}/package.zip").status_code == 200
    assert events(data_dir, "package_exported")[-1]["actor"]["operator"] == "legal"
