"""What is signed is what is shown (issue 13, item 2), tried as the attack was: through the CLI.

A real draft CoA comes from `cytorelease release` on a synthetic lot (the generator writes the
FCS tubes, qPCR export, ELISA plate and lot.yaml an operator would hand in), its bench sheet
entered and verified by two people; a FAIL draft is the same lot with mycoplasma entered and
verified as "detected". The attacker then edits the draft's HTML with a text editor, leaving
the embedded record alone, and hands it to `sign`; if it is signed anyway (by a signer of their
own writing, below), `verify` must still refuse it.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.report.area import render_area, split_report
from cytorelease.report.entry import SignatureEntry, format_utc
from cytorelease.report.record import extract_record, record_digests
from cytorelease.synth import generate_lot
from tests.double_entry import People, Person, bench_values, enter_bench_sheet, enter_verified
from tests.report.conftest import PASSPHRASE, Signer
from tests.report.typed import run_typed

runner = CliRunner()
# `performed` may take its passphrase from the environment; a decision's is typed (stdin).
ENV: dict[str, str | None] = {"CYTORELEASE_PASSPHRASE": PASSPHRASE, "CYTORELEASE_TSA": None}
TYPED: dict[str, str | None] = {"CYTORELEASE_PASSPHRASE": None, "CYTORELEASE_TSA": None}


def _release(lot: Path, out: Path, people: People) -> Path:
    command = ["release", str(lot), "--out", str(out), "--registry", str(people.folder)]
    result = runner.invoke(app, command)
    assert result.exit_code in (0, 1), result.stderr
    (report,) = out.glob("coa-*.html")
    return report


def _site_people(signers: dict[str, Signer]) -> People:
    """The signers' own registry as the people who enter manual results: one site registry
    (verify holds the CoA's carried manual records to the same registry as its signatures)."""

    def person(signer: Signer) -> Person:
        return Person(signer.entry.user_id, signer.entry.name, signer.key_path)

    return People(
        folder=signers["analyst"].registry_path.parent, admin=person(signers["qa"]),
        first=person(signers["analyst"]), second=person(signers["reviewer"]),
        reviewer=person(signers["reviewer"]), qa=person(signers["qa"]),
    )  # fmt: skip


@pytest.fixture(scope="module")
def drafts(tmp_path_factory: pytest.TempPathFactory, signers: dict[str, Signer]) -> dict[str, Path]:
    """A PASS draft and a FAIL draft (mycoplasma detected), both straight from `release`."""
    people = _site_people(signers)
    lot = generate_lot(tmp_path_factory.mktemp("lots"), seed=3).lot_dir
    # the same lot twice, before any entry: each copy gets its own signed manual records
    other = shutil.copytree(lot, tmp_path_factory.mktemp("fail-lot") / lot.name)
    enter_bench_sheet(lot, people)
    passing = _release(lot, tmp_path_factory.mktemp("pass"), people)
    values = bench_values(other)
    assert values["manual.mycoplasma"] == ("not detected", None)
    enter_verified(other, people, {**values, "manual.mycoplasma": ("detected", None)})
    failing = _release(other, tmp_path_factory.mktemp("fail"), people)
    assert b'<div class="disposition-value">PASS</div>' in passing.read_bytes()
    assert b'<div class="disposition-value">FAIL</div>' in failing.read_bytes()
    return {"PASS": passing, "FAIL": failing}


def _edited(draft: Path, tmp_path: Path, old: bytes, new: bytes) -> Path:
    """A copy of ``draft`` with ``old`` (which must occur once) rewritten as ``new``."""
    data = draft.read_bytes()
    assert data.count(old) == 1, old
    copy = tmp_path / draft.name
    copy.write_bytes(data.replace(old, new))
    # the attack leaves the embedded record as it was
    assert extract_record(copy.read_bytes()) == extract_record(data)
    return copy


def _sign(report: Path, signer: Signer, meaning: str = "performed") -> object:
    command = ["sign", str(report), "--key", str(signer.key_path), "--meaning", meaning,
               "--registry", str(signer.registry_path)]  # fmt: skip
    if meaning == "performed":
        return runner.invoke(app, command, env=ENV)
    return run_typed(command, PASSPHRASE, env=TYPED)  # a person's decision: at a terminal


def _verify(report: Path, signer: Signer) -> object:
    return runner.invoke(app, ["verify", str(report), "--trust", str(signer.registry_path)])


def _one_error(result: object, code: int) -> str:
    assert result.exit_code == code, result.output  # type: ignore[attr-defined]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]  # type: ignore[attr-defined]
    assert len(lines) == 1, result.stderr  # type: ignore[attr-defined]
    return lines[0]


def _forge(report: Path, signer: Signer) -> None:
    """Sign ``report`` as `sign` does but without its checks: what a hand-written signer does."""
    parts = split_report(report.read_bytes())
    digests = record_digests(extract_record(parts.content))
    raw_public = signer.private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    unsigned = SignatureEntry(
        signer=signer.entry.name, user_id=signer.entry.user_id, role=str(signer.entry.roles[0]),
        key_fingerprint=signer.entry.fingerprint,
        public_key=base64.b64encode(raw_public).decode("ascii"), meaning="performed",
        # now: the drafts were released now, and a signature may not predate its record
        utc_time=format_utc(datetime.now(UTC)), comment=None,
        content_sha256=hashlib.sha256(parts.content).hexdigest(),
        record_sha256=digests.record_sha256, spec_sha256=digests.spec_sha256,
        input_sha256s=digests.input_sha256s, previous_signature=None, signature="",
        trusted_time=None,
    )  # fmt: skip
    signature = base64.b64encode(signer.private_key.sign(unsigned.signed_bytes())).decode()
    entry = SignatureEntry(
        **{**unsigned.to_dict(), "input_sha256s": unsigned.input_sha256s, "signature": signature}
    )
    report.write_bytes(parts.with_area(render_area([entry])))


VERDICT = b'<div class="disposition-value">%s</div>'


@pytest.mark.parametrize(("real", "shown"), [("FAIL", "PASS"), ("PASS", "FAIL")])
def test_a_rewritten_verdict_is_refused_by_sign_and_by_verify_when_forged(
    drafts: dict[str, Path], signers: dict[str, Signer], tmp_path: Path, real: str, shown: str
) -> None:
    report = _edited(drafts[real], tmp_path, VERDICT % real.encode(), VERDICT % shown.encode())
    before = report.read_bytes()
    line = _one_error(_sign(report, signers["analyst"]), 2)
    assert "refusing to sign" in line and "does not show its record" in line
    assert "#disposition" in line and f"shows '{shown}'" in line and f"renders '{real}'" in line
    assert report.read_bytes() == before, "a refused signature must leave the file untouched"
    _forge(report, signers["analyst"])
    line = _one_error(_verify(report, signers["analyst"]), 1)
    assert "#disposition" in line and f"shows '{shown}'" in line and f"renders '{real}'" in line


def test_a_stylesheet_that_hides_the_verdict_and_shows_another_is_refused(
    drafts: dict[str, Path], signers: dict[str, Signer], tmp_path: Path
) -> None:
    # Visible text untouched: CSS hides the FAIL and paints PASS in its place.
    trick = (
        b"</style>\n<style>#disposition .disposition-value{display:none}"
        b'#disposition::after{content:"PASS";font-size:20pt}</style>'
    )
    report = _edited(drafts["FAIL"], tmp_path, b"</style>", trick)
    line = _one_error(_sign(report, signers["analyst"]), 2)
    assert "does not show its record" in line and "document head" in line and "<style>" in line


def test_a_reordered_results_row_is_refused(
    drafts: dict[str, Path], signers: dict[str, Signer], tmp_path: Path
) -> None:
    data = drafts["PASS"].read_bytes()
    first = data.index(b'      <tr class="criterion" id="criterion-transgene-identity">')
    second = data.index(b'      <tr class="criterion" id="criterion-cd3-identity">')
    end = data.index(b"</tr>\n", second) + len(b"</tr>\n")
    swapped = data[:first] + data[second:end] + data[first:second] + data[end:]
    report = tmp_path / drafts["PASS"].name
    report.write_bytes(swapped)
    assert extract_record(swapped) == extract_record(data)
    line = _one_error(_sign(report, signers["analyst"]), 2)
    assert "section '1. Test results'" in line
    # the moved row is shown as a reader sees it: its words, the sub-line apart from the title
    assert 'the page shows <tr class="criterion" id="criterion-cd3-identity"> ' in line
    assert "'Identity / purity: CD3+ T cells cd3-identity · flow.cd3_pct_of_viable_cd45 " in line


def test_a_changed_result_number_is_refused_naming_the_row_and_column(
    drafts: dict[str, Path], signers: dict[str, Signer], tmp_path: Path
) -> None:
    old = b'<td class="reported">35 <span class="unit">%</span></td>'
    report = _edited(drafts["PASS"], tmp_path, old, old.replace(b">35 ", b">53 "))
    line = _one_error(_sign(report, signers["analyst"]), 2)
    assert "row 'criterion-car-expression', column 'Result'" in line
    assert "shows '53 %'" in line and "renders '35 %'" in line


# A browser's "save as" re-serialises the page (indentation, attribute order, quoting). The page
# may look the same, but the signed bytes are exact and this re-check compares bytes: such a copy
# is not the released document and is refused; release the lot again to get a signable draft.
@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            b'<tr class="criterion" id="criterion-car-expression">',
            b'<tr id="criterion-car-expression" class="criterion">',
        ),
        (
            b'      <tr class="criterion" id="criterion-car-expression">',
            b'  <tr class="criterion" id="criterion-car-expression">',
        ),
    ],
    ids=["attribute-order", "whitespace"],
)
def test_a_re_serialised_page_is_refused(
    drafts: dict[str, Path], signers: dict[str, Signer], tmp_path: Path, old: bytes, new: bytes
) -> None:
    report = _edited(drafts["PASS"], tmp_path, old, new)
    line = _one_error(_sign(report, signers["analyst"]), 2)
    assert "section '1. Test results'" in line and "does not show its record" in line


@pytest.mark.parametrize(("verdict", "decision"), [("PASS", "approved"), ("FAIL", "rejected")])
def test_the_untouched_draft_signs_twice_verifies_and_takes_its_decision(
    drafts: dict[str, Path], signers: dict[str, Signer], tmp_path: Path, verdict: str,
    decision: str,
) -> None:  # fmt: skip
    report = tmp_path / drafts[verdict].name
    shutil.copyfile(drafts[verdict], report)
    performed = _sign(report, signers["analyst"])
    assert performed.exit_code == 0, performed.output
    reviewed = _sign(report, signers["reviewer"], "reviewed")
    assert reviewed.exit_code == 0, reviewed.output
    verified = _verify(report, signers["analyst"])
    assert verified.exit_code == 0, verified.output
    assert f"verified: {report} (2 signatures)" in verified.stdout
    # the release decision the policy allows for this verdict
    decided = _sign(report, signers["qa"], decision)
    assert decided.exit_code == 0, decided.output
    verified = _verify(report, signers["qa"])
    assert verified.exit_code == 0, verified.output
    assert f"verified: {report} (3 signatures)" in verified.stdout


def test_the_hand_written_signer_on_an_untouched_draft_verifies(
    drafts: dict[str, Path], signers: dict[str, Signer], tmp_path: Path
) -> None:
    # The control for the forged signatures above: their refusal is the page, not the forgery.
    report = tmp_path / drafts["FAIL"].name
    shutil.copyfile(drafts["FAIL"], report)
    _forge(report, signers["analyst"])
    verified = _verify(report, signers["analyst"])
    assert verified.exit_code == 0, verified.output
