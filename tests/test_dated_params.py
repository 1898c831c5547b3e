"""Parameters with values by date: a benchmark that changed over time (NATO's 2% became a floor
in 2023; The Hague set 3.5% for 2035) takes, for each case, the value of the case's fiscal
year."""
from __future__ import annotations

import pytest
import yaml

from engine import PackError, assess, load_pack
from engine.core.run import for_year
from conftest import make_case, param, rule, run_cli, write_pack

FLOOR = {**param(2.0, "percent of GDP"),
         "by_year": [{"from": 2030, "value": 3.0, "source": "A later agreement."},
                     {"from": 2035, "value": 3.5, "source": "A target year."}]}
BELOW = rule("Y-1", [{"fact": "case", "where": "share_of_gdp_pct < $floor_pct"}],
             report={"message": "{case.share_of_gdp_pct|pct} is below {$floor_pct|pct}"})


def dated_pack(tmp_path, floor=FLOOR):
    return write_pack(tmp_path / "p", [BELOW], parameters={"floor_pct": floor})


def case(year, gdp=23_000):   # the base case's total is 580: 2.52% of 23,000
    return make_case(fiscal_year=year, gdp=gdp)


@pytest.mark.parametrize("year, fires, value", [
    (2027, False, 2.0), (2029, False, 2.0), (2030, True, 3.0), (2034, True, 3.0),
    (2035, True, 3.5), (2050, True, 3.5)])
def test_the_case_year_chooses_the_value(tmp_path, year, fires, value):
    report = assess(case(year), load_pack(dated_pack(tmp_path)))
    found = [f for f in report.findings if f.rule == "Y-1"]
    assert bool(found) == fires
    if found:
        assert found[0].parameters == {"floor_pct": value}
        assert found[0].message == f"2.52% is below {value:g}%"


def test_a_year_variant_is_compiled_once_and_kept(tmp_path):
    pack = load_pack(dated_pack(tmp_path))
    assert for_year(pack, 2027) is pack
    later = for_year(pack, 2031)
    assert later is not pack and for_year(pack, 2033) is later
    assert for_year(pack, 2036) is not later


def test_a_value_for_the_run_replaces_the_schedule(tmp_path):
    pack = load_pack(dated_pack(tmp_path), params={"floor_pct": "2.6"})
    assert not pack.dated_parameters
    assert [f.parameters for f in assess(case(2040), pack).findings] == [{"floor_pct": 2.6}]
    assert assess(case(2027), pack).findings[0].parameters == {"floor_pct": 2.6}


def test_the_command_line_uses_the_case_year(tmp_path):
    folder = dated_pack(tmp_path)
    for year, expected in ((2027, 0), (2031, 1)):
        path = tmp_path / f"case-{year}.yaml"
        path.write_text(yaml.safe_dump(case(year).model_dump(exclude_none=True)),
                        encoding="utf-8")
        result = run_cli("assess", path, "--pack", folder, "--format", "json")
        assert result.exit_code == 0, result.stderr
        assert len(yaml.safe_load(result.stdout)["findings"]) == expected


@pytest.mark.parametrize("by_year, words", [
    ([{"from": 2030, "value": 3.0, "source": "s"}, {"from": 2030, "value": 3.5, "source": "s"}],
     ["increasing years", "2030 follows 2030", "by_year[1].from"]),
    ([{"from": 2030, "value": "three", "source": "s"}], ["expected a number", "by_year[0].value"]),
    ([{"from": 2030, "value": 3.0}], ["source", "by_year[0]"]),
    ([], ["by_year"]),
])
def test_a_bad_schedule_is_refused_where_it_is_written(tmp_path, by_year, words):
    with pytest.raises(PackError) as caught:
        load_pack(dated_pack(tmp_path, {**param(2.0), "by_year": by_year}))
    message = str(caught.value)
    assert "pack.yaml" in message
    for word in words:
        assert word in message, message


def test_lint_judges_a_condition_over_every_period_of_a_schedule(tmp_path):
    from engine.authoring.lint import lint_pack
    between = rule("Y-2", [{"fact": "case",
                            "where": "share_of_gdp_pct >= $low_pct and share_of_gdp_pct < $floor_pct"}],
                   report={})
    dated = write_pack(tmp_path / "dated", [between],
                       parameters={"floor_pct": FLOOR, "low_pct": param(2.0)})
    assert not [d for d in lint_pack(dated) if d.code == "contradictory-condition"]
    plain = write_pack(tmp_path / "plain", [between],
                       parameters={"floor_pct": param(2.0), "low_pct": param(2.0)})
    assert [d.rule for d in lint_pack(plain) if d.code == "contradictory-condition"] == ["Y-2"]
