"""A standalone HTML page for a plan (placeholder: replaced by the SVG renderer)."""

from __future__ import annotations

import html

from plait.plan._model import Plan


def html_page(plan: Plan) -> str:
    from plait.plan._render import mermaid

    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        + html.escape(plan.name)
        + "</title></head><body><pre>"
        + html.escape(mermaid(plan))
        + "</pre></body></html>\n"
    )
