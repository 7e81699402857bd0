"""The rating page: one self-contained HTML file (style, script and data inline; nothing fetched),
so it works opened from the file system on a machine without network. Served by ``humanllm
serve`` the same page carries no data and reads them from the API (behind the token)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

#: What the page needs of ``eval.json``.
PAGE_META = ("name", "id", "created_at", "annotators", "orders", "scales")


@cache
def _asset(name: str) -> str:
    return resources.files("humanllm.humaneval").joinpath("web", name).read_text(encoding="utf-8")


def _json_in_html(data: Any) -> str:
    """JSON that cannot end its ``<script>`` element (every ``<`` escaped)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _fill(data: dict[str, Any]) -> str:
    html = _asset("page.html")
    for mark, value in (
        ("/*STYLE*/", _asset("page.css")),
        ("/*SCRIPT*/", _asset("page.js")),
        ("/*DATA*/", _json_in_html(data)),
    ):
        html = html.replace(mark, value, 1)
    return html


def page_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta[k] for k in PAGE_META}


def render_page(meta: dict[str, Any], instances: list[dict[str, Any]]) -> str:
    """The offline page with the sample's data inside."""
    return _fill({"mode": "file", "meta": page_meta(meta), "instances": instances})


def render_shell(api: str) -> str:
    """The served page: no data inside, they come from ``api`` (e.g. /api/human-eval/NAME)."""
    return _fill({"mode": "served", "api": api})


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def content_security_policy() -> str:
    """CSP for the served page: only its own inline script and style run, only same-origin calls."""
    return (
        f"default-src 'none'; script-src {_sha(_asset('page.js'))}; "
        f"style-src {_sha(_asset('page.css'))}; img-src data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
