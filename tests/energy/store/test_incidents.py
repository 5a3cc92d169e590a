"""Identical alarms become one incident with a count and first/last sighting, not a row each."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import func, select, text

from energy.site import Site
from energy.store import Store
from energy.store.alarms import (
    REOPEN_WITHIN,
    Severity,
    acknowledge_alarms,
    clear_alarm,
    list_alarms,
    raise_alarm,
)
from energy.store.audit import read_audit
from energy.store.incidents import group_incidents, open_incidents
from energy.store.schema import alarms

T0 = dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)


def _rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alarms)).scalar_one())


def test_repeated_reports_are_one_alarm_with_a_count(store: Store, site: Site) -> None:
    ids = {
        raise_alarm(
            store,
            site.id,
            "stale_input",
            "house-01.battery",
            Severity.CRITICAL,
            f"report {n}",
            T0 + dt.timedelta(seconds=5 * n),
        )
        for n in range(12)
    }
    assert len(ids) == 1
    assert _rows(store) == 1
    (alarm,) = list_alarms(store, site.id)
    assert alarm["occurrences"] == 12
    assert alarm["raised_at"] == T0
    assert alarm["last_seen_at"] == T0 + dt.timedelta(seconds=55)
    assert alarm["message"] == "report 11"
    assert [e["action"] for e in read_audit(store)] == ["alarm.raise"]


def test_a_flapping_condition_reopens_its_alarm(store: Store, site: Site) -> None:
    when = T0
    for _ in range(4):
        raise_alarm(store, site.id, "job_failed", "derive", Severity.WARNING, "failed", when)
        when += dt.timedelta(minutes=1)
        assert clear_alarm(store, site.id, "job_failed", "derive", when)
        when += dt.timedelta(minutes=1)
    raise_alarm(store, site.id, "job_failed", "derive", Severity.WARNING, "failed again", when)
    assert _rows(store) == 1
    (alarm,) = list_alarms(store, site.id)
    assert alarm["state"] == "active"
    assert alarm["occurrences"] == 5
    assert alarm["raised_at"] == T0
    assert alarm["cleared_at"] is None
    actions = [e["action"] for e in read_audit(store)]
    assert actions.count("alarm.raise") == 1
    assert actions.count("alarm.reopen") == 4


def test_a_condition_returning_long_after_it_cleared_is_a_new_alarm(
    store: Store, site: Site
) -> None:
    raise_alarm(store, site.id, "job_failed", "plan", Severity.WARNING, "failed", T0)
    clear_alarm(store, site.id, "job_failed", "plan", T0 + dt.timedelta(minutes=1))
    later = T0 + dt.timedelta(minutes=2) + REOPEN_WITHIN
    raise_alarm(store, site.id, "job_failed", "plan", Severity.WARNING, "failed", later)
    assert _rows(store) == 2
    (alarm,) = list_alarms(store, site.id)
    assert alarm["raised_at"] == later
    assert alarm["occurrences"] == 1


def test_one_device_down_is_one_incident(store: Store, site: Site) -> None:
    for n in range(3):
        now = T0 + dt.timedelta(seconds=5 * n)
        raise_alarm(
            store, site.id, "stale_input", "house-01.battery", Severity.CRITICAL, "stale", now
        )
        raise_alarm(
            store, site.id, "write_failed", "house-01.battery", Severity.CRITICAL, "timeout", now
        )
    (incident,) = open_incidents(store, site.id)
    assert incident.codes == ("stale_input", "write_failed")
    assert incident.sources == ("house-01.battery",)
    assert incident.count == 6
    assert incident.severity == "critical"
    assert incident.first_seen == T0
    assert incident.last_seen == T0 + dt.timedelta(seconds=10)


def test_the_same_cause_across_the_district_is_one_incident(store: Store, site: Site) -> None:
    devices = [a.id for a in site.devices()]
    for asset_id in devices:
        raise_alarm(store, site.id, "stale_input", asset_id, Severity.CRITICAL, "stale", T0)
    raise_alarm(store, site.id, "job_failed", "plan", Severity.WARNING, "solver", T0)
    incidents = open_incidents(store, site.id)
    assert len(incidents) == 2
    stale = next(i for i in incidents if i.codes == ("stale_input",))
    assert stale.sources == tuple(sorted(devices))
    assert stale.count == len(devices)


def test_acknowledging_an_incident_acknowledges_its_alarms(store: Store, site: Site) -> None:
    for asset_id in ("house-01.battery", "house-02.battery"):
        raise_alarm(store, site.id, "stale_input", asset_id, Severity.CRITICAL, "stale", T0)
    (incident,) = open_incidents(store, site.id)
    assert incident.state == "active"
    done = acknowledge_alarms(store, site.id, incident.active_alarm_ids, "erika", T0)
    assert done == list(incident.active_alarm_ids)
    (after,) = open_incidents(store, site.id)
    assert after.state == "acknowledged"
    assert after.active_alarm_ids == ()
    assert acknowledge_alarms(store, site.id, incident.alarm_ids, "erika", T0) == []
    assert acknowledge_alarms(store, "another-site", incident.alarm_ids, "erika", T0) == []


def test_cleared_alarms_are_no_incident() -> None:
    row = {
        "id": 1,
        "code": "stale_input",
        "source": "house-01.battery",
        "severity": "critical",
        "state": "cleared",
        "message": "stale",
        "raised_at": T0,
        "last_seen_at": T0,
        "occurrences": 3,
    }
    assert group_incidents([row]) == []


def _downgrade_to_0004(store: Store) -> None:
    command.downgrade(store._alembic_config(), "0004")
    assert store.current_revision() == "0004"


def test_migration_0005_keeps_existing_alarms_and_job_runs(store: Store) -> None:
    _downgrade_to_0004(store)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alarms (site_id, code, source, severity, message, raised_at, "
                "last_seen_at, state) VALUES ('s', 'c', 'x', 'warning', 'm', :t, :t, 'active')"
            ),
            {"t": T0},
        )
        conn.execute(
            text(
                "INSERT INTO job_runs (site_id, job, instance, started_at, finished_at, outcome) "
                "VALUES ('s', 'plan', 'a', :t, :t, 'ok')"
            ),
            {"t": T0},
        )
    store.upgrade()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT occurrences FROM alarms")).scalar_one() == 1
        assert conn.execute(text("SELECT wall_duration_s FROM job_runs")).scalar_one() is None
    _downgrade_to_0004(store)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alarms")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM job_runs")).scalar_one() == 1
    store.upgrade()
