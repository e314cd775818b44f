"""The clerk's web UI: template helpers and the blueprints of each page family."""

from __future__ import annotations

from flask import Flask, render_template

from shared import china_time, states
from shared.catalogue import KINDS
from shared.receipt_codes import format_code

from .auth import current_clerk


def init_app(app: Flask) -> None:
    """Register the page blueprints and the helpers their templates use."""
    from . import (
        attachment_views,
        auth,
        bundle_views,
        capture_views,
        correction_views,
        notices,
        progress,
        requests_views,
        status_page,
        sync_panel,
    )

    china_time.register(app)  # stored times are UTC; pages show Beijing time through the one shared rule
    app.jinja_env.filters["code"] = format_code
    app.jinja_env.filters["state_label"] = states.label  # Chinese, as printed papers say it; screens add |tr
    app.jinja_env.filters["filesize"] = progress.size
    app.jinja_env.filters["duration"] = progress.duration
    app.jinja_env.globals["progress_line"] = progress.line
    progress.reset()  # what an earlier app in this process did is not this one's to report
    app.jinja_env.globals["KINDS"] = KINDS
    app.jinja_env.globals["current_clerk"] = current_clerk

    @app.errorhandler(404)
    def _not_found(exc: Exception) -> tuple[str, int]:
        return render_template("error.html", title="没有找到", message="没有这个页面或这个回执码。"), 404

    for bp in (
        auth.bp,
        capture_views.bp,
        requests_views.bp,
        notices.bp,
        status_page.bp,
        sync_panel.bp,
        attachment_views.bp,
        bundle_views.bp,
        correction_views.bp,
    ):
        app.register_blueprint(bp)
    from . import guide_views, mailbox_views

    app.register_blueprint(guide_views.bp)
    app.register_blueprint(mailbox_views.bp)
