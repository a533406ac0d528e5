"""Jinja2 templates for everything we send: `templates/<kind>/<language>.{subject,txt,html}`.

A folder named in the config (template_dir) overrides any single file; languages without their own
template get English. Text parts are rendered without autoescape, HTML parts with it, and subjects are
flattened to one line so nothing from a customer can inject a header.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

import pipeline

LANGUAGES = ("zh-Hans", "zh-Hant", "en")
FALLBACK_LANGUAGE = "en"
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x00\u2028\u2029\x85]+")


def default_template_dir() -> Path:
    """templates/ of the checkout, or the copy a wheel carries inside the package."""
    package = Path(pipeline.__file__).parent
    installed = package / "_templates"
    return installed if installed.is_dir() else package.parent / "templates"


def one_line(value: object, limit: int = 300) -> str:
    """Make a value safe for a header: no CR/LF or other breaks, bounded length."""
    text = _LINE_BREAKS.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    language: str


class Templates:
    def __init__(self, override_dir: Path | None = None) -> None:
        folders = [str(override_dir)] if override_dir else []
        folders.append(str(default_template_dir()))
        loader = jinja2.FileSystemLoader(folders)
        # auto_reload off: templates are read once per process, not stat()ed on every message
        self._text = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
                                        keep_trailing_newline=True, auto_reload=False)
        self._html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                                        auto_reload=False)
        for env in (self._text, self._html):
            env.filters["one_line"] = one_line

    def language_for(self, kind: str, language: str | None) -> str:
        """The language we can answer in: the customer's when a template exists, else English."""
        if language and self._exists(f"{kind}/{language}.txt"):
            return language
        return FALLBACK_LANGUAGE

    @functools.cache  # noqa: B019 - one Templates per process, a handful of names
    def _exists(self, name: str) -> bool:
        try:
            self._text.get_template(name)
        except jinja2.TemplateNotFound:
            return False
        return True

    def render(self, kind: str, language: str | None, context: dict[str, Any]) -> Rendered:
        language = self.language_for(kind, language)
        subject = one_line(self._text.get_template(f"{kind}/{language}.subject").render(context), 900)
        text = self._text.get_template(f"{kind}/{language}.txt").render(context)
        html_name = f"{kind}/{language}.html"
        html = self._html.get_template(html_name).render(context) if self._exists(html_name) else None
        return Rendered(subject, text, html, language)
