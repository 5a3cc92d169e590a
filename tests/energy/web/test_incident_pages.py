"""/controls and /status list incidents, not raw repeats; an operator acknowledges an incident."""

from __future__ import annotations

from energy.store.alarms import Severity, list_alarms, raise_alarm
from energy.store.users import Role
from tests.energy.web.web_support import NOW, Web, login


def _storm(web: Web) -> None:
    for n in range(20):
        for asset_id in ("house-01.battery", "house-02.battery"):
            raise_alarm(
                web.store,
                web.site.id,
                "stale_input",
                asset_id,
                Severity.CRITICAL,
                f"{asset_id}: stale (poll {n})",
                NOW,
            )


def test_the_pages_list_one_incident_for_a_storm(web: Web) -> None:
    _storm(web)
    login(web.client, Role.VIEWER.value)
    for path in ("/controls", "/status"):
        page = web.client.get(path)
        assert page.status_code == 200
        assert page.text.count('<tr class="sev-critical">') == 1, path
        assert "house-01.battery, house-02.battery" in page.text
        assert '<td class="num">40</td>' in page.text  # the reports of both alarms
        assert "/incidents/acknowledge" not in page.text  # a viewer may not acknowledge


def test_an_operator_acknowledges_an_incident(web: Web) -> None:
    _storm(web)
    csrf = login(web.client, Role.OPERATOR.value)
    page = web.client.get("/controls")
    assert "/incidents/acknowledge" in page.text
    ids = [a["id"] for a in list_alarms(web.store, web.site.id)]
    refused = web.client.post("/incidents/acknowledge", data={"alarm_ids": ids})
    assert refused.status_code == 403  # no CSRF token
    done = web.client.post("/incidents/acknowledge", data={"alarm_ids": ids, "csrf_token": csrf})
    assert done.status_code == 303
    assert {a["state"] for a in list_alarms(web.store, web.site.id)} == {"acknowledged"}
    assert {a["acknowledged_by"] for a in list_alarms(web.store, web.site.id)} == {"operator"}


def test_a_viewer_may_not_acknowledge(web: Web) -> None:
    _storm(web)
    csrf = login(web.client, Role.VIEWER.value)
    ids = [a["id"] for a in list_alarms(web.store, web.site.id)]
    response = web.client.post(
        "/incidents/acknowledge", data={"alarm_ids": ids, "csrf_token": csrf}
    )
    assert response.status_code == 403
    assert {a["state"] for a in list_alarms(web.store, web.site.id)} == {"active"}
