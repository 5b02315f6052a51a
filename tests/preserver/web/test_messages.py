"""Every text of the pages in both languages (i18n's promise), and every availability
status the archive records with a label."""

from __future__ import annotations

import re
from importlib.resources import files

from preserver.web.i18n import LANGUAGES
from preserver.web.messages import MESSAGES


def test_every_message_has_every_language_with_the_same_fields() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), key
        assert all(t.strip() for t in texts.values()), key
        fields = {lang: set(re.findall(r"\{(\w+)\}", text)) for lang, text in texts.items()}
        assert fields["ar"] == fields["en"], key


def test_every_key_a_template_names_exists() -> None:
    templates = files("preserver.web") / "templates"
    for template in templates.iterdir():
        if template.name.endswith(".html"):
            for key in re.findall(r"""\bt\(\s*["']([\w.]+)["']\s*[,)]""", template.read_text("utf-8")):
                assert key in MESSAGES, f"{template.name}: {key}"


def test_every_availability_status_has_a_label() -> None:
    from workers.types import Status

    missing = [s.value for s in Status if f"avail.{s.value}" not in MESSAGES]
    assert not missing, missing
