"""The self-test report: written as JSON and HTML, signed, refused when altered; the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.report.keys import generate_key, load_private_key
from cytorelease.selftest import run_selftest, verify_selftest
from cytorelease.selftest.document import render_html
from tests.cli_contract import invoke, one_json_document

PASSPHRASE = "selftest passphrase 1"
MOMENT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    made = generate_key(signer="Quinn Q", user_id="qq", passphrase=PASSPHRASE, out_dir=folder)
    return made.key_path


def test_report_is_written_and_signed(key: Path, tmp_path: Path) -> None:
    out = tmp_path / "qual"
    result = run_selftest(out, private_key=load_private_key(key, PASSPHRASE), now=MOMENT)
    stored = json.loads((out / "selftest.json").read_text(encoding="utf-8"))
    assert stored == result.document
    assert stored["created_at"] == "2026-12-06T12:00:00Z"
    assert stored["software"]["dependencies"]["numpy"]
    assert len(stored["coa_template"]["sha256"]) == 64
    page = (out / "selftest.html").read_text(encoding="utf-8")
    assert f'class="{stored["verdict"].split()[0].lower().replace("not", "flag")}"' in page
    assert 'id="check-oq.vcn"' in page
    assert verify_selftest(out) == []
    signature = json.loads((out / "selftest.sig.json").read_text(encoding="utf-8"))
    assert signature["utc_time"] == "2026-12-06T12:00:00Z"
    assert verify_selftest(out, fingerprint=signature["key_fingerprint"]) == []
    assert verify_selftest(out, fingerprint="0" * 64) == [
        "signed by another key than the one expected"
    ]


def test_an_altered_report_is_refused(key: Path, tmp_path: Path) -> None:
    out = tmp_path / "qual"
    run_selftest(out, private_key=load_private_key(key, PASSPHRASE), now=MOMENT)
    data = (out / "selftest.json").read_bytes()
    (out / "selftest.json").write_bytes(data.replace(b'"fail": 0', b'"fail": 1', 1))
    assert verify_selftest(out) == ["selftest.json changed after signing (SHA-256 differs)"]
    signature = json.loads((out / "selftest.sig.json").read_text(encoding="utf-8"))
    (out / "selftest.json").write_bytes(data)
    signature["utc_time"] = "2025-01-01T00:00:00Z"  # backdated after signing
    (out / "selftest.sig.json").write_text(json.dumps(signature), encoding="utf-8")
    assert verify_selftest(out) == ["the signature does not verify"]


def test_an_existing_report_is_never_replaced(tmp_path: Path) -> None:
    run_selftest(tmp_path)
    before = (tmp_path / "selftest.json").read_bytes()
    with pytest.raises(InputError, match="refusing to overwrite"):
        run_selftest(tmp_path)
    assert (tmp_path / "selftest.json").read_bytes() == before


def test_a_key_without_out_is_refused(key: Path) -> None:
    with pytest.raises(InputError, match="give --out with --key"):
        run_selftest(None, private_key=load_private_key(key, PASSPHRASE))


def test_the_page_escapes_what_the_document_holds(tmp_path: Path) -> None:
    document = run_selftest(None, now=MOMENT).document
    document["checks"][0]["detail"] = "<script>alert(1)</script>"
    page = render_html(document, "0" * 64)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_cli_json_and_signature(key: Path, tmp_path: Path) -> None:
    out = tmp_path / "qual"
    result = invoke(
        ["selftest", "--out", out, "--key", key, "--json"],
        env={"CYTORELEASE_PASSPHRASE": PASSPHRASE},
    )
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    assert document["summary"]["fail"] == 0
    assert document["files"]["signature"] == str(out / "selftest.sig.json")
    assert verify_selftest(out) == []


def test_cli_exits_1_when_a_check_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cytorelease.spec import rounding

    monkeypatch.setattr(rounding, "ROUND_HALF_UP", ROUND_HALF_EVEN)  # a broken build
    result = invoke(["selftest", "--out", tmp_path / "qual"])
    assert result.exit_code == 1, result.stderr
    assert "cytorelease self-test: FAIL" in result.stdout
    stored = json.loads((tmp_path / "qual" / "selftest.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in stored["checks"] if c["status"] == "fail"] == ["oq.usp_rounding"]


def test_cli_wrong_passphrase_is_one_line(key: Path, tmp_path: Path) -> None:
    result = invoke(
        ["selftest", "--out", tmp_path / "qual", "--key", key],
        env={"CYTORELEASE_PASSPHRASE": "not the passphrase"},
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "qual").exists()  # refused before anything was written
