"""Pages of several shapes for the login-wall rules (``workers.walls``): the walls, and
pages that merely look like one (they mention logging in, have a search form, or a
small login box beside plenty of their own text). Served by the fixture site in the
capture and audit tests; read directly in ``tests/workers/test_walls.py``; not the cookies tests' walled post, ``tests/support/walls.py``."""

from __future__ import annotations

from tests.support.fixture_site import html_page

PROSE = " ".join(["The council met on Tuesday and agreed the budget for the year."] * 40)

# -- walls -------------------------------------------------------------------------------
LOGIN_FORM = html_page(title="Sign in", body=(
    '<h1>Sign in to continue</h1><form method="post" action="/session">'
    '<label>Email <input type="email" name="email"></label>'
    '<label>Password <input type="password" name="password"></label>'
    '<button>Sign in</button></form><a href="/reset">Forgot your password?</a>'))
# an unquoted attribute, upper case, unclosed tags: browsers still show a login form
LOGIN_FORM_SLOPPY = (b"<HTML><BODY><FORM ACTION=/login><INPUT TYPE=PASSWORD NAME=pw>"
                     b"<INPUT TYPE=submit>")
FACEBOOK_LOGIN = (b'<html><body><div>You must log in to continue.</div>'
                  b'<form id="login_form" action="/login/device-based/regular/login/">'
                  b'<input name="email"><input type="password" name="pass"></form></body></html>')

# -- not walls ------------------------------------------------------------------------------
MENTIONS_LOGIN = html_page(title="How to log in", body=(
    "<p>You must log in to continue reading on some sites; sign in with your account, "
    "then enter your password.</p>" f"<p>{PROSE}</p>"))
SEARCH_FORM = html_page(title="Search", body=(
    '<form action="/search"><input type="search" name="q"><input type="submit"></form>'
    "<p>Nothing found.</p>"))
ARTICLE_WITH_LOGIN_BOX = html_page(title="News", body=(
    f"<article>{PROSE}</article>"
    '<aside><form action="/login"><input name="u"><input type="password" name="p"></form>'
    "</aside>"))
# ASP.NET wraps the whole page in one form: the article is still the page
ASPNET_ARTICLE = html_page(title="News", body=(
    f'<form id="form1" method="post"><article>{PROSE}</article>'
    '<div class="login"><input name="u"><input type="password" name="p"></div></form>'))
# the password field hides in a comment and a script: neither is shown
HIDDEN_PASSWORD = html_page(title="Page", body=(
    '<!-- <form><input type="password"></form> --><p>Hello.</p>'
    '<script>document.write("<form><input type=\\"password\\"></form>")</script>'))

WALLS = {"login_form": LOGIN_FORM, "login_form_sloppy": LOGIN_FORM_SLOPPY}
NOT_WALLS = {"mentions_login": MENTIONS_LOGIN, "search_form": SEARCH_FORM,
             "article_with_login_box": ARTICLE_WITH_LOGIN_BOX, "aspnet_article": ASPNET_ARTICLE,
             "hidden_password": HIDDEN_PASSWORD}
