"""好差评 at the village point: five levels, paper forms entered by the clerk, one rating per matter."""

from __future__ import annotations

from node.models import Event
from tests.node.test_capture_views import capture


def test_clerk_enters_one_rating_per_matter_also_from_paper(clerk) -> None:
    req = capture(clerk)
    page = f"/requests/{req.receipt_code}"
    html = clerk.client.get(page).get_data(as_text=True)
    for level in ("非常满意", "满意", "基本满意", "不满意", "非常不满意"):
        assert f'value="{level}"' in html
    for bad, message in (
        ({"satisfaction": "很好"}, "请选择评价"),
        ({"satisfaction": "满意", "comment": "长" * 501}, "意见不能超过 500 字"),
    ):
        clerk.post(f"{page}/feedback", bad, page=page)
        assert message in clerk.client.get(page).get_data(as_text=True)
    assert Event.select().where(Event.type == "request.feedback").count() == 0
    clerk.post(f"{page}/feedback", {"satisfaction": "非常不满意", "comment": "等太久", "paper": "on"}, page=page)
    ev = Event.select().where(Event.type == "request.feedback").get()
    assert ev.data == {"satisfaction": "非常不满意", "comment": "等太久", "channel": "paper"}
    html = clerk.client.get(page).get_data(as_text=True)
    assert 'name="satisfaction"' not in html
    assert "非常不满意" in html
    clerk.post(f"{page}/feedback", {"satisfaction": "非常满意"}, page=page)
    assert "一事一评" in clerk.client.get(page).get_data(as_text=True)
    assert Event.select().where(Event.type == "request.feedback").count() == 1
    # A rating the hub refused does not count: the clerk may enter the right one.
    Event.update(result="refused").where(Event.id == ev.id).execute()
    assert 'name="satisfaction"' in clerk.client.get(page).get_data(as_text=True)


def test_sms_consent_is_asked_at_capture_and_travels_with_the_request(clerk) -> None:
    assert 'name="sms"' in clerk.client.get("/capture/JF-01").get_data(as_text=True)
    yes = capture(clerk, sms="on")
    no = capture(clerk)
    assert yes.data["sms"] is True
    assert no.data["sms"] is False
    assert Event.get(Event.request_id == yes.request_id).data["sms"] is True
