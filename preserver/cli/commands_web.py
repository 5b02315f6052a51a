"""``preserver web``, ``preserver user add`` and ``preserver token create``: the web
pages and their accounts, registered on the one ``app`` of ``commands``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from preserver.cli.commands import _config, _with_archive, app, err, out
from preserver.errors import InputError

if TYPE_CHECKING:
    from preserver.archive import Archive

user_app = typer.Typer(no_args_is_help=True, help="Accounts that sign in to `preserver web`.")
token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for the HTTP API.")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
RoleOpt = Annotated[str, typer.Option("--role", metavar="archivist|legal|viewer",
                                      help="viewer reads; legal also downloads packages; "
                                           "archivist also ingests and runs.")]


@app.command()
def web(host: Annotated[str | None, typer.Option(help="Address to listen on ([web] host).")] = None,
        port: Annotated[int | None, typer.Option(help="Port to listen on ([web] port).")] = None,
        ) -> None:
    """Serve the pages and the HTTP API (/api/docs) until SIGTERM or Ctrl-C."""
    import uvicorn

    from preserver.archive import require_existing
    from preserver.web import create_app

    config = _config()
    require_existing(config)
    settings = config.web
    err.print(f"preserver web: http://{host or settings.host}:{port or settings.port}/ "
              "(sign in with an account from `preserver user add`)", highlight=False)
    uvicorn.run(create_app(config), host=host or settings.host, port=port or settings.port,
                proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
                log_level="warning", server_header=False)


@user_app.command("add")
def user_add(name: Annotated[str, typer.Argument(help="The name to sign in with.")],
             role: RoleOpt,
             password_stdin: Annotated[bool, typer.Option(
                 "--password-stdin", help="Read the password from standard input (one line)."
             )] = False) -> None:
    """Add an account; the password is asked for twice, or read from standard input."""
    from preserver.accounts import parse_role
    from preserver.accounts.passwords import check_new_password
    from preserver.accounts.store import check_name

    check_name(name)
    chosen = parse_role(role)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        raise InputError("no password: give --password-stdin, or run this in a terminal")
    check_new_password(password)

    async def add(archive: Archive) -> None:
        from preserver.accounts import add_user

        async with archive.db.session() as session:
            await add_user(session, name=name, role=chosen, password=password)

    _with_archive(add, access="update", config=_config())
    err.print(f"user {name} added ({chosen.value})", highlight=False, markup=False)


@token_app.command("create")
def token_create(role: RoleOpt,
                 label: Annotated[str, typer.Option(
                     help="A name for the token; custody events name its actions token:LABEL.")],
                 ) -> None:
    """Print a new API bearer token (once: only its SHA-256 is kept)."""
    from preserver.accounts import parse_role

    chosen = parse_role(role)

    async def create(archive: Archive) -> str:
        from preserver.accounts import create_token

        async with archive.db.session() as session:
            return await create_token(session, label=label, role=chosen)

    out.print(_with_archive(create, access="update", config=_config()), markup=False,
              highlight=False)
