"""The publication rule: district aggregates leave, a house's values only with its owner's consent."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from energy.datahub.privacy import consenting_houses, publishable
from energy.datahub.records import Record, unit_of
from energy.publication_config import DistrictFigure, PublicationKind
from energy.site import Site
from tests.energy.datahub.conftest import CONSENTING, NOW, WITHHELD, with_consent

ALL_KINDS = list(PublicationKind)


def _house(house_id: str, kind: PublicationKind = PublicationKind.MEASUREMENTS) -> Record:
    return Record(
        kind,
        house_id,
        NOW,
        {"meter_power_kw": 1.0, "battery_soc_frac": 0.5, "heat_pump_power_kw": 2.0},
    )


def test_only_consenting_houses_leave(hub_site: Site) -> None:
    records = [_house(h.id) for h in hub_site.houses]
    out = publishable(hub_site.config, records, ALL_KINDS)
    assert [r.house_id for r in out] == [CONSENTING]
    # only the configured house quantities: the heat pump's power stays inside
    assert set(out[0].values) == {"meter_power_kw", "battery_soc_frac"}


def test_consent_counts_from_its_date_and_a_withdrawal_stops_it(hub_site: Site) -> None:
    before = Record(
        PublicationKind.MEASUREMENTS,
        CONSENTING,
        dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC),
        {"meter_power_kw": 1.0},
    )
    assert publishable(hub_site.config, [before], ALL_KINDS) == []
    assert consenting_houses(hub_site.config, dt.date(2026, 6, 1)) == [CONSENTING]
    assert "house-05" not in consenting_houses(hub_site.config, dt.date(2026, 4, 1))


def test_plans_forecasts_and_kpis_of_a_house_never_leave(hub_site: Site) -> None:
    records = [_house(CONSENTING, kind) for kind in PublicationKind]
    out = publishable(hub_site.config, records, ALL_KINDS)
    assert [r.kind for r in out] == [PublicationKind.MEASUREMENTS]


def test_a_district_record_naming_a_withheld_house_is_dropped_whole(hub_site: Site) -> None:
    leaky = Record(
        PublicationKind.PLAN,
        None,
        NOW,
        {"planned_grid_power_kw": 3.0},
        detail={"note": f"{WITHHELD}.battery charges"},
    )
    fine = Record(
        PublicationKind.PLAN,
        None,
        NOW,
        {"planned_grid_power_kw": 3.0},
        detail={"members": [CONSENTING]},
    )
    assert publishable(hub_site.config, [leaky, fine], ALL_KINDS) == [fine]


def test_a_house_id_inside_a_longer_id_is_not_a_mention(hub_site: Site) -> None:
    record = Record(PublicationKind.KPIS, None, NOW, {"co2_kg": 1.0}, detail={"x": "house-010"})
    assert publishable(hub_site.config, [record], ALL_KINDS) == [record]


def test_district_values_follow_the_configured_figures(site: Site) -> None:
    config = site.config.model_copy(
        update={
            "publication": site.config.publication.model_copy(
                update={"district": [DistrictFigure.GRID, DistrictFigure.CO2]}
            )
        }
    )
    record = Record(
        PublicationKind.MEASUREMENTS,
        None,
        NOW,
        {"grid_power_kw": 1.0, "pv_power_kw": 2.0, "co2_kg": 0.1, "mystery_kw": 9.0},
    )
    (out,) = publishable(config, [record], ALL_KINDS)
    assert set(out.values) == {"grid_power_kw", "co2_kg"}


def test_a_target_gets_only_its_kinds(hub_site: Site) -> None:
    records = [
        Record(PublicationKind.KPIS, None, NOW, {"co2_kg": 1.0}),
        Record(PublicationKind.MEASUREMENTS, None, NOW, {"grid_power_kw": 1.0}),
    ]
    out = publishable(hub_site.config, records, [PublicationKind.KPIS])
    assert [r.kind for r in out] == [PublicationKind.KPIS]


def test_no_consent_table_means_no_house_data(site: Site) -> None:
    bare = with_consent(site, {})
    out = publishable(bare.config, [_house(h.id) for h in bare.houses], ALL_KINDS)
    assert out == []


@given(
    st.lists(st.sampled_from([f"house-0{i}" for i in range(1, 8)]), max_size=20),
    st.sampled_from(list(PublicationKind)),
)
def test_property_nothing_of_a_withheld_house_ever_passes(
    hub_site: Site, houses: list[str], kind: PublicationKind
) -> None:
    records = [_house(h, kind) for h in houses]
    for record in publishable(hub_site.config, records, ALL_KINDS):
        assert record.house_id == CONSENTING


@given(
    st.sampled_from(
        [
            "grid_power_kw",
            "pv_energy_kwh",
            "storage_soc_frac",
            "co2_kg",
            "temp_outdoor_c",
            "co2_intensity_g_per_kwh",
            "ghi_w_per_m2",
        ]
    )
)
def test_every_value_name_has_its_unit(name: str) -> None:
    assert unit_of(name)
