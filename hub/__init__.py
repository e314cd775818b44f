"""The township hub: sync API, case handling, deadlines, console and public status page."""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from flask import Flask
from flask.templating import Environment
from jinja2 import Template
from jinja2.runtime import Context, new_context
from werkzeug.routing import IntegerConverter, Map

from shared import app_config

# More functions than the hub registers (hooks, context processors, views): past it, nothing is kept.
_KEPT_PLAIN = 4096


class HubTemplate(Template):
    """A Jinja template whose context is made from the environment's globals dict itself.

    A template's globals are Jinja's `ChainMap` of its own (almost always none) over the
    environment's; every render copied that ChainMap into the context key by key in Python, and
    listed its names again (~30 µs a page for the hub's 27 globals). With no globals of its own, the
    environment's dict holds the same names and values, and is copied in C. A template given
    globals of its own is made as Jinja makes it.
    """

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> Context:
        globals: MutableMapping[str, Any] = self.globals
        if isinstance(globals, ChainMap) and len(globals.maps) == 2 and not globals.maps[0]:
            globals = globals.maps[1]
        return new_context(self.environment, self.name, self.blocks, vars, shared, globals, locals)


class HubEnvironment(Environment):
    """Flask's Jinja environment, its templates `HubTemplate`s."""

    template_class = HubTemplate


class HubFlask(Flask):
    """Flask, remembering which hooks and views are plain functions.

    Flask asks `inspect.iscoroutinefunction` of every before/after/teardown hook, context
    processor and view on every request (seventeen times for a status lookup, ~40 µs); a function
    registered once stays what it is. An `async def` one is still wrapped, and asked about each time.
    """

    jinja_environment = HubEnvironment

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._plain: set[Callable[..., Any]] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in self._plain:
                return func
        except TypeError:  # an unhashable callable: asked about every time, as Flask does
            return super().ensure_sync(func)
        wrapped = super().ensure_sync(func)
        if wrapped is func and len(self._plain) < _KEPT_PLAIN:
            self._plain.add(func)
        return wrapped


class RowIdConverter(IntegerConverter):
    """Flask's `int` URL converter, up to the largest 64-bit integer (shared.messages.INT64_MAX)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any):
        from shared.messages import INT64_MAX

        kwargs.setdefault("max", INT64_MAX)
        super().__init__(url_map, *args, **kwargs)


def create_app(test_config: dict[str, Any] | None = None, data_dir: str | None = None) -> Flask:
    """Build the hub app: defaults, instance config, DAIBAN_HUB_* environment, then subsystems."""
    app = create_core_app(test_config, data_dir)

    from . import (
        api,
        auth,
        catalogue_admin,
        console,
        deployment,
        fleet,
        public_status,
        register,
        staff_admin,
        supervision,
    )
    from . import admission, attachment_views, counter_views, ratelimit, search
    from .county import level

    auth.init_app(app)
    app.register_blueprint(api.bp)
    console.init_app(app)
    app.register_blueprint(counter_views.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(attachment_views.bp)
    app.register_blueprint(register.bp)
    app.register_blueprint(public_status.bp)
    app.register_blueprint(supervision.bp)
    app.register_blueprint(fleet.bp)
    app.register_blueprint(catalogue_admin.bp)
    app.register_blueprint(staff_admin.bp)
    # The sync API authenticates by signature, not by session: no CSRF there, no session read.
    auth.csrf.exempt(api.bp)
    auth.without_session(api.bp)
    deployment.init_app(app)
    ratelimit.init_app(app)
    admission.init_app(app)
    from . import county_views, mailbox, public_guide, public_results, publicity, ratings, sms_admin

    app.register_blueprint(mailbox.bp)
    app.register_blueprint(sms_admin.bp)
    app.register_blueprint(publicity.bp)
    app.register_blueprint(county_views.bp)
    from .county import views as county_level_views

    app.register_blueprint(county_level_views.bp)
    app.jinja_env.globals["hub_is_county"] = level.is_county
    app.register_blueprint(public_guide.bp)
    app.register_blueprint(public_results.bp)
    app.register_blueprint(ratings.bp)
    return app


def create_core_app(test_config: dict[str, Any] | None = None, data_dir: str | None = None) -> HubFlask:
    """The hub app up to its pages: configuration, database, keys, shared templates, languages.

    What a `daiban hub` command needs (hub/cli.py): its process does not import the pages, the API
    and what they import (about half the start-up of a command, docs/performance.md)."""
    app = HubFlask(__name__, instance_relative_config=True)
    # Every <int:...> in a URL names a row: beyond a 64-bit integer it names none (404). SQLite cannot
    # bind such a number (a 500 there) where PostgreSQL compared it.
    app.url_map.converters["int"] = RowIdConverter
    app.config.from_mapping(
        # `--dir` arrives as data_dir; gunicorn/systemd give DAIBAN_HUB_DIR.
        DATA_DIR=data_dir or os.environ.get("DAIBAN_HUB_DIR", app.instance_path),
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SECRET_KEY=None,
    )
    app_config.load(app, "DAIBAN_HUB", test_config)

    from shared import templating

    from . import deployment, i18n, web
    from .county import level

    level.forget()  # read again from this app's database (tests build hubs of both levels in one process)

    deployment.init_logging(app)
    web.init_app(app)
    templating.init_app(app)
    i18n.init_app(app)
    return app
