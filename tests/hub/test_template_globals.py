"""The hub's templates see the environment's globals as Jinja's own templates do (hub.HubTemplate)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.parametrize("hub_db_url", ["sqlite"], indirect=True)


def test_globals_added_later_and_a_templates_own_globals_are_seen(hub_app) -> None:
    env = hub_app.jinja_env
    page = env.from_string("{{ greeting }}|{{ own|default('none') }}")
    env.globals["greeting"] = "你好"  # after the template was made: seen, as through Jinja's ChainMap
    with hub_app.test_request_context("/"):
        assert page.render() == "你好|none"
        assert page.render(greeting="vars win") == "vars win|none"
        own = env.from_string("{{ greeting }}|{{ own }}", globals={"own": "its own"})
        assert own.render() == "你好|its own"
        assert "own" not in env.globals  # a template's own globals stay its own
    del env.globals["greeting"]
    with hub_app.test_request_context("/"):
        assert page.render() == "|none"
