"""Study specs: overlays, grid expansion and errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.study import StudySpecError, expand_tasks, load_study_spec
from energy.study.overlay import OverlayError, apply_overlay
from energy.study.spec import GridSpec, parse_study_spec

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "docs" / "studies" / "klimaviertel-concepts.yaml"


def _study(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "t",
        "variants": [{"name": "as-built"}],
        "policies": ["rule"],
        "periods": [{"name": "d", "from": "2026-03-02T00:00Z", "to": "2026-03-02T01:00Z"}],
        "options": {"training_days": 14},
    }
    body.update(changes)
    return {"study": body}


def _parse(data: dict[str, Any]) -> Any:
    return parse_study_spec(data, "study.yaml", REPO)


def _messages(data: dict[str, Any]) -> str:
    with pytest.raises(StudySpecError) as info:
        _parse(data)
    return str(info.value)


def test_overlay_sets_every_list_item_and_leaves_the_base_alone() -> None:
    base = {"houses": [{"id": "a", "battery": {"capacity_kwh": 5}}, {"id": "b", "battery": None}]}
    out = apply_overlay(base, {"houses.*.battery": None, "houses.0.id": "c"})
    assert out == {"houses": [{"id": "c", "battery": None}, {"id": "b", "battery": None}]}
    assert base["houses"][0]["battery"] == {"capacity_kwh": 5}


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("houses.*.batery.capacity_kwh", "no key 'batery'"),
        ("houses.5.id", "has 2 item(s); found index 5"),
        ("houses.x.id", "expected an index or '*'"),
        ("grid.*", "'*' only selects list items"),
        ("houses..id", "expected a dotted path"),
    ],
)
def test_overlay_errors_name_the_path(path: str, fragment: str) -> None:
    base = {"grid": {"import_limit_kw": 1}, "houses": [{"id": "a"}, {"id": "b"}]}
    with pytest.raises(OverlayError) as info:
        apply_overlay(base, {path: 1})
    assert fragment in str(info.value)
    assert path in str(info.value)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.lists(st.integers(1, 500), min_size=1, max_size=4, unique=True), min_size=1, max_size=3
    )
)
def test_grid_expands_to_every_combination_with_unique_names(values: list[list[int]]) -> None:
    parameters = {f"p{i}": {"key": f"a.k{i}", "values": v} for i, v in enumerate(values)}
    name = "-".join("{" + p + "}" for p in parameters)
    grid = GridSpec.model_validate({"name": name, "parameters": parameters})
    variants = grid.variants()
    expected = 1
    for v in values:
        expected *= len(v)
    assert len(variants) == expected
    assert len({v.name for v in variants}) == expected
    for variant in variants:
        parts = [int(x) for x in variant.name.split("-")]
        assert variant.overlay == {f"a.k{i}": parts[i] for i in range(len(values))}


@settings(max_examples=25, deadline=None)
@given(
    n_variants=st.integers(1, 3),
    policies=st.lists(st.sampled_from(["rule", "rule-tuned", "mpc"]), min_size=1, unique=True),
    seeds=st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True),
)
def test_one_task_per_variant_policy_period_seed(
    n_variants: int, policies: list[str], seeds: list[int]
) -> None:
    variants = [
        {"name": f"cap-{i}", "overlay": {"houses.0.battery.capacity_kwh": 10.0 * (i + 1)}}
        for i in range(n_variants)
    ]
    spec, sites = _parse(_study(variants=variants, policies=policies, seeds=seeds))
    tasks = expand_tasks(spec, sites)
    assert len(tasks) == n_variants * len(policies) * len(seeds)
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert len({t.fingerprint for t in tasks}) == len(tasks)
    capacities = {t.variant: t.site_data["houses"][0]["battery"]["capacity_kwh"] for t in tasks}
    assert capacities == {f"cap-{i}": 10.0 * (i + 1) for i in range(n_variants)}


def test_unknown_policy_and_key_are_named() -> None:
    text = _messages(_study(policies=["rule", "mpcc"], colour="blue"))
    assert "study.policies" in text
    assert "'mpcc'" in text
    assert "study.colour" in text


def test_variant_overlay_that_breaks_the_site_names_variant_and_key() -> None:
    text = _messages(
        _study(
            grids=[
                {
                    "name": "flow-{c}kWh",
                    "parameters": {
                        "c": {"key": "houses.0.battery.capacity_kwh", "values": [50, -1]}
                    },
                }
            ]
        )
    )
    assert "study.variants(flow--1kWh).overlay -> site.houses[0](id=house-01).battery" in text
    assert "capacity_kwh" in text
    assert "flow-50kWh" not in text


def test_grid_template_must_name_its_parameters() -> None:
    text = _messages(
        _study(grids=[{"name": "flow", "parameters": {"c": {"key": "a.b", "values": [1]}}}])
    )
    assert "study.grids[0]" in text
    assert "{c}" in text


def test_periods_are_checked() -> None:
    text = _messages(
        _study(periods=[{"name": "d", "from": "2026-03-02T00:10Z", "to": "2026-03-01"}])
    )
    assert "study.periods[0].from: expected a 15-minute slot boundary" in text
    text = _messages(_study(periods=[{"name": "d", "from": "2026-03-02", "to": "2026-03-01"}]))
    assert "study.periods[0]: expected 'to' after 'from'" in text


def test_duplicate_variant_names_are_named() -> None:
    text = _messages(_study(variants=[{"name": "a"}, {"name": "a"}]))
    assert "unique variant names; ['a'] repeated" in text


def test_missing_base_file_is_named(tmp_path: Path) -> None:
    text = _messages(_study(base=str(tmp_path / "nowhere.yaml")))
    assert "study.base" in text
    assert "nowhere.yaml" in text


def test_example_study_is_valid(tmp_path: Path) -> None:
    spec, sites = load_study_spec(EXAMPLE)
    tasks = expand_tasks(spec, sites)
    assert len(tasks) == len(spec.all_variants()) * len(spec.policies) * len(spec.periods)
    assert all(h["battery"] is None for h in sites["no-battery"]["houses"])
    copy = tmp_path / "copy.yaml"
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["study"]["base"] = str(REPO / "config" / "klimaviertel.yaml")
    copy.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert expand_tasks(*load_study_spec(copy))[0].site_data == tasks[0].site_data
