"""Every spec error is one line naming the file, the field path and the line (issue item 6)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import SpecError
from cytorelease.spec import load_spec, load_spec_file
from cytorelease.spec.loader import SpecValidationError

WriteSpec = Callable[..., Path]


def _error(path: Path) -> SpecValidationError:
    with pytest.raises(SpecValidationError) as caught:
        load_spec_file(path)
    return caught.value


def test_typo_in_a_field_name(
    write_spec: WriteSpec, draft_v1_text: str, find_line: Callable[..., int]
) -> None:
    text = draft_v1_text.replace("    limit: {max: 1}", "    limt: {max: 1}")
    path = write_spec(text)
    error = _error(path)
    index = 10  # residual-b-cells is the 11th criterion
    line = find_line(text, "limt:")
    assert str(error) == (
        f"{path}: criteria[{index}] (line {line}): unknown field "
        "(did you mean 'limit'?) (1 more problem: run `cytorelease spec validate`)"
    )
    assert error.problems[1].text() == (
        f"criteria[{index}].limit (line {find_line(text, '- id: residual-b-cells')}): "
        "required field is missing"
    )


def test_min_greater_than_max(
    write_spec: WriteSpec, draft_v1_text: str, find_line: Callable[..., int]
) -> None:
    text = draft_v1_text.replace(
        'limit: {min: "0.6e8", max: "6.0e8"}', 'limit: {min: "6.0e8", max: "0.6e8"}'
    )
    path = write_spec(text)
    line = find_line(text, 'limit: {min: "6.0e8"')
    assert str(_error(path)) == (
        f"{path}: criteria[5].limit (line {line}): min 6.0E+8 is greater than max 6E+7"
    )


def test_unknown_attribute(
    write_spec: WriteSpec, draft_v1_text: str, find_line: Callable[..., int]
) -> None:
    text = draft_v1_text.replace(
        "attribute: flow.viability_pct_of_cd45", "attribute: flow.viabilty_pct_of_cd45"
    )
    path = write_spec(text)
    line = find_line(text, "flow.viabilty_pct_of_cd45")
    assert str(_error(path)) == (
        f"{path}: criteria[4].attribute (line {line}): unknown attribute "
        "'flow.viabilty_pct_of_cd45': no analysis produces it and no derived criterion declares "
        "it (did you mean 'flow.viability_pct_of_cd45'?)"
    )


def test_unknown_schema_version(
    write_spec: WriteSpec, draft_v1_text: str, find_line: Callable[..., int]
) -> None:
    text = draft_v1_text.replace("schema_version: 1", "schema_version: 3")
    path = write_spec(text)
    assert str(_error(path)) == (
        f"{path}: schema_version (line {find_line(text, 'schema_version')}): unknown spec schema "
        "version 3: this cytorelease reads schema 1 (upgrade cytorelease to read newer specs)"
    )


def test_derived_formula_naming_an_unknown_attribute(
    write_spec: WriteSpec, draft_v1_text: str, find_line: Callable[..., int]
) -> None:
    text = draft_v1_text.replace(
        "formula: manual.total_viable_cells *", "formula: manual.total_vaible_cells *"
    )
    path = write_spec(text)
    assert str(_error(path)) == (
        f"{path}: criteria[5].formula (line {find_line(text, 'formula:')}): formula names "
        "unknown attribute 'manual.total_vaible_cells' (did you mean 'manual.total_viable_cells'?)"
    )


def test_tampered_effective_spec_is_unlocked_and_its_lock_check_names_both_hashes(
    specs_copy: Path,
) -> None:
    from cytorelease.spec.registry import verify_lock

    path = specs_copy / "cd19-car-t" / "v2.yaml"
    locked = load_spec(path).sha256
    path.write_text(path.read_text().replace("limit: {min: 15}", "limit: {min: 12}"))
    changed = load_spec_file(path).sha256
    tampered = load_spec(path)  # loads as an unlocked what-if: it can never release a lot
    assert (tampered.sha256, tampered.locked) == (changed, False)
    with pytest.raises(SpecError) as caught:
        verify_lock(tampered)
    assert str(caught.value) == (
        f"{path}: cd19-car-t@2 (effective) no longer matches its lock: {specs_copy / 'LOCK'} "
        f"records sha256 {locked}, the file's content is sha256 {changed} (an effective spec "
        "never changes; restore it and make the change in a new version with "
        "`cytorelease spec new-version`)"
    )


def test_duplicate_key_is_refused(
    write_spec: WriteSpec, draft_v1_text: str, find_line: Callable[..., int]
) -> None:
    text = draft_v1_text.replace("market: US\n", "market: US\nmarket: EU\n")
    error = _error(write_spec(text))
    assert error.problems[0].text() == (
        f"(document) (line {find_line(text, 'market: EU')}): duplicate key "
        f"(the first is on line {find_line(text, 'market: US')})"
    )


def test_yaml_syntax_error_names_the_line(
    write_spec: WriteSpec, draft_v1_text: str, find_line: Callable[..., int]
) -> None:
    text = draft_v1_text.replace("    allowed: [conforms]", "    allowed: [conforms")
    error = _error(write_spec(text))
    assert error.problems[0].message.startswith("not valid YAML:")
    assert error.problems[0].line is not None
    assert error.problems[0].line >= find_line(text, "allowed: [conforms")


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "    limit: {max: 5.0}\n",
            "    limit: {max: 5.05}\n",
            "criteria[11].limit.max",
            "5.05 has more places than decimals: 1 (USP rounding compares at the places of the limit; raise decimals)",
        ),
        (
            '    unit: "%"\n    alert: {min: 85}',
            '    unit: "cells"\n    alert: {min: 85}',
            "criteria[4].unit",
            "unit 'cells' does not match 'flow.viability_pct_of_cd45', which is measured in '%'",
        ),
        (
            "all_of: [potency-ifng, potency-fold]",
            "all_of: [potency-ifng, potency-flod]",
            "criteria[9].all_of[1]",
            "unknown criterion 'potency-flod' (did you mean 'potency-fold'?)",
        ),
        (
            "alert: {min: 85}",
            "alert: {min: 75}",
            "criteria[4].alert",
            "the alert band must lie inside the limit",
        ),
        (
            "    kind: qualitative\n    attribute: manual.appearance",
            "    kind: qualitatve\n    attribute: manual.appearance",
            "criteria[0]",
            "unknown kind (kinds: numeric, range, qualitative, report-only, derived, composite)",
        ),
        (
            "attribute: derived.car_viable_t_cells",
            "attribute: flow.car_viable_t_cells",
            "criteria[5].attribute",
            "a derived criterion declares a new attribute named 'derived.*', not "
            "'flow.car_viable_t_cells' (that name belongs to a measured attribute)",
        ),
        (
            "formula: manual.total_viable_cells * flow.car_pct_of_viable_cd3 / 100",
            "formula: derived.car_viable_t_cells * 2",
            "criteria[5].formula",
            "criterion 'dose' depends on itself through other criteria",
        ),
        (
            "    allowed: [conforms]\n",
            "    allowed: [conforms]\n    limit: {min: 1}\n    decimals: 0\n",
            "criteria[0]",
            "unknown field 'limit': a qualitative criterion has no limit",
        ),
        (
            "    kind: numeric\n    attribute: flow.cd3_pct_of_viable_cd45",
            "    kind: range\n    attribute: flow.cd3_pct_of_viable_cd45",
            "criteria[2]",
            "a range criterion needs both limit.min and limit.max",
        ),
        (
            "market: US\n",
            "market: US\nowner: QA\n",
            "(document)",
            "unknown field (not part of spec schema 1)",
        ),
        (
            "    kind: qualitative\n    attribute: manual.appearance\n",
            "    attribute: manual.appearance\n",
            "criteria[0]",
            "criterion has no 'kind' (kinds: numeric, range, qualitative, report-only, derived, composite)",
        ),
        (
            "formula: manual.total_viable_cells * flow.car_pct_of_viable_cd3 / 100",
            "formula: manual.total_viable_cells ** 2",
            "criteria[5].formula",
            "'manual.total_viable_cells ** 2' is not allowed in a formula (use numbers, attribute "
            "names, + - * /, parentheses, min(...), max(...))",
        ),
        (
            "    kind: qualitative\n    attribute: manual.sterility\n    allowed: [no growth]\n",
            "    kind: numeric\n    attribute: manual.sterility\n    limit: {min: 1}\n    decimals: 0\n",
            "criteria[12].kind",
            "'manual.sterility' is qualitative; use kind qualitative",
        ),
        (
            "all_of: [potency-ifng, potency-fold]",
            "all_of: [potency-ifng, potency]",
            "criteria[9].all_of[1]",
            "composite 'potency' cannot include itself",
        ),
        (
            "  - id: potency-fold\n",
            "  - id: potency-ifng\n",
            "criteria[8].id",
            "criterion id 'potency-ifng' is already used by criteria[7]",
        ),
        (
            "effective_from: 2025-01-15\n",
            "effective_from: 2025-01-15\nsupersedes: 1\n",
            "supersedes",
            "version 1 cannot supersede version 1 (not older)",
        ),
        (
            "    kind: composite\n",
            "    kind: composite\n    attribute: potency.ifng_pg_ml\n",
            "criteria[9]",
            "unknown field 'attribute': a composite criterion has no attribute",
        ),
        (
            "status: draft\n",
            "status: effective\n",
            "effective_from",
            None,
        ),
    ],
)
def test_rule_violations_name_field_and_line(
    write_spec: WriteSpec, draft_v1_text: str, old: str, new: str, field: str, message: str | None
) -> None:
    assert old in draft_v1_text
    text = draft_v1_text.replace(old, new)
    if field == "effective_from":  # an effective spec needs its date: remove it
        text = text.replace("effective_from: 2025-01-15\n", "")
        message = "a effective spec needs an effective_from date"
    problem = _error(write_spec(text)).problems[0]
    assert (problem.field, problem.message) == (field, message)
    assert problem.line is not None and problem.line > 0


def test_file_name_must_match_the_version(write_spec: WriteSpec, draft_v1_text: str) -> None:
    problem = _error(write_spec(draft_v1_text, "v7.yaml")).problems[0]
    assert problem.text() == "version (line 7): file v7.yaml holds version 1; name it v1.yaml"


def test_cli_validate_lists_every_problem_on_stderr(
    write_spec: WriteSpec, draft_v1_text: str
) -> None:
    text = draft_v1_text.replace("limit: {max: 1}", "limt: {max: 1}").replace(
        "market: US", "market: ''"
    )
    path = write_spec(text)
    result = CliRunner().invoke(app, ["spec", "validate", str(path), "cd19-car-t@2"])
    assert result.exit_code == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3
    assert all(line.startswith(f"error: {path}: ") for line in errors)
    assert "criteria[10] (line " in errors[0] and "did you mean 'limit'" in errors[0]
    assert result.stdout.startswith("ok: ") and "cd19-car-t@2 (effective)" in result.stdout


def test_cli_show_of_a_bad_spec_is_one_error_line(
    write_spec: WriteSpec, draft_v1_text: str
) -> None:
    path = write_spec(draft_v1_text.replace("schema_version: 1", "schema_version: 2"))
    result = CliRunner().invoke(app, ["spec", "show", str(path)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {path}: schema_version (line ")
    assert "this cytorelease reads schema 1" in result.stderr


def test_cli_validate_json_reports_each_spec(write_spec: WriteSpec, draft_v1_text: str) -> None:
    import json

    bad = write_spec(draft_v1_text.replace("limit: {max: 1}", "limit: {max: -1, min: 0}"))
    result = CliRunner().invoke(app, ["spec", "validate", "cd19-car-t@1", str(bad), "--json"])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert [s["ok"] for s in document["specs"]] == [True, False]
    assert document["specs"][0]["spec"]["version"] == 1
    assert document["specs"][1]["problems"][0].endswith("min 0 is greater than max -1")
