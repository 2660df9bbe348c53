"""Identity-verification evidence in the signer registry (21 CFR 11.100(b), Part 11 control 13).

Before an admin registers a person (every role but service) they record how that person's
identity was verified; the text is part of the signed version, so editing it afterwards breaks
the admin's signature. Registering a person without it is refused by the library and by the
CLI; a service key needs none. A registry written before the field existed still loads, and
the tool appends to it."""

from __future__ import annotations

import base64
import copy
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import SignatureError
from cytorelease.report.entry import format_utc
from cytorelease.report.keys import fingerprint, generate_key, load_private_key, raw_public
from cytorelease.report.registry import (
    REGISTRY_SCHEMA,
    load_registry,
    signed_bytes,
    version_sha256,
)
from cytorelease.report.registry_admin import enroll, init_registry, register_key, revoke_key
from cytorelease.signature_policy import Role
from tests.report.conftest import (
    ADMIN,
    KEYS_FROM,
    PASSPHRASE,
    Signer,
    admin_key,
    evidence_text,
    site_registry,
)

runner = CliRunner()
ENV = {"CYTORELEASE_PASSPHRASE": PASSPHRASE, "CYTORELEASE_TSA": None}
ARCHIVE = Path(__file__).resolve().parents[1] / "data" / "archives" / "registry-format1"
BADGE = "badge 4411 and passport checked in person by aadmin, HR record 2026-118"
SHORT = "badge 4411 and passport checked"  # one YAML line as written (BADGE is folded)


def _pending(folder: Path, user_id: str = "jdoe", name: str = "Jane Doe") -> Any:
    return generate_key(signer=name, user_id=user_id, passphrase=PASSPHRASE, out_dir=folder)


@pytest.mark.parametrize("evidence", [None, "", "  \t "], ids=["missing", "empty", "blank"])
def test_registering_a_person_without_evidence_is_refused(
    evidence: str | None, tmp_path: Path
) -> None:
    registry = site_registry(tmp_path)
    before = registry.read_bytes()
    pair = _pending(tmp_path / "new")
    with pytest.raises(SignatureError) as caught:
        register_key(
            pair.public_path, roles=[Role.REVIEWER], registry=registry,
            admin_key=admin_key(tmp_path), identity_evidence=evidence, now=KEYS_FROM,
        )  # fmt: skip
    line = caught.value.one_line()
    assert "jdoe is a person (roles: reviewer)" in line
    assert "evidence of how their identity was verified (21 CFR 11.100(b))" in line
    assert "--identity-evidence" in line
    assert registry.read_bytes() == before
    # enroll refuses before it makes any key pair
    with pytest.raises(SignatureError, match="jdoe is a person"):
        enroll(
            registry, admin_key=admin_key(tmp_path), signer="Jane Doe", user_id="jdoe",
            roles=[Role.ANALYST], passphrase=PASSPHRASE, out_dir=tmp_path / "enrolled",
            identity_evidence=evidence, now=KEYS_FROM,
        )  # fmt: skip
    assert not (tmp_path / "enrolled").exists()
    assert registry.read_bytes() == before


def test_the_first_admin_needs_evidence_too(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="aadmin is a person \\(roles: admin\\)"):
        init_registry(tmp_path / "site", signer=ADMIN[0], user_id=ADMIN[1], passphrase=PASSPHRASE)
    assert not (tmp_path / "site").exists(), "a key or a registry was written"


def test_evidence_longer_than_500_characters_is_refused(tmp_path: Path) -> None:
    registry = site_registry(tmp_path)
    pair = _pending(tmp_path / "new")
    with pytest.raises(SignatureError, match="has 501 characters; at most 500"):
        register_key(
            pair.public_path, roles=[Role.ANALYST], registry=registry,
            admin_key=admin_key(tmp_path), identity_evidence="x" * 501, now=KEYS_FROM,
        )  # fmt: skip
    updated = register_key(
        pair.public_path, roles=[Role.ANALYST], registry=registry,
        admin_key=admin_key(tmp_path), identity_evidence="x" * 500, now=KEYS_FROM,
    )  # fmt: skip
    assert updated.head.entries[-1].identity_evidence == "x" * 500


def test_evidence_is_recorded_on_one_line_and_kept_through_a_revocation(tmp_path: Path) -> None:
    registry = site_registry(tmp_path)
    pair = _pending(tmp_path / "new")
    updated = register_key(
        pair.public_path, roles=[Role.ANALYST], registry=registry, admin_key=admin_key(tmp_path),
        identity_evidence="  badge 4411 and passport\n checked   in person by aadmin ",
        now=KEYS_FROM,
    )  # fmt: skip
    entry = updated.head.active_entry("jdoe")
    assert entry is not None
    assert entry.identity_evidence == "badge 4411 and passport checked in person by aadmin"
    assert updated.head.format == 2
    assert load_registry(registry).raw[-1]["entries"][-1]["identity_evidence"] == (
        "badge 4411 and passport checked in person by aadmin"
    )
    assert load_registry(registry).head.entries[0].identity_evidence == evidence_text("aadmin")
    revoked = revoke_key(
        "jdoe", reason="left the site", registry=registry, admin_key=admin_key(tmp_path),
        now=KEYS_FROM + timedelta(hours=1),
    )  # fmt: skip
    (after,) = [e for e in revoked.head.entries if e.user_id == "jdoe"]
    assert after.status == "revoked"
    assert after.identity_evidence == "badge 4411 and passport checked in person by aadmin"


def test_a_service_key_registers_without_evidence(tmp_path: Path) -> None:
    service = Signer(tmp_path, "Release evaluation service", "svc-eval", Role.SERVICE,
                     identity_evidence=None)  # fmt: skip
    assert service.entry.identity_evidence is None
    assert service.registry.head.active_entry("svc-eval") is not None
    # given, the text is recorded
    worker = Signer(tmp_path, "Queue worker", "svc-worker", Role.SERVICE,
                    identity_evidence="host qc-worker-01, change ticket CHG-2231")  # fmt: skip
    assert worker.entry.identity_evidence == "host qc-worker-01, change ticket CHG-2231"


def test_editing_the_evidence_in_registry_yaml_is_refused_at_load(tmp_path: Path) -> None:
    analyst = Signer(tmp_path, "Ada Analyst", "aanalyst", Role.ANALYST, identity_evidence=SHORT)
    path = analyst.registry_path
    text = path.read_text(encoding="utf-8")
    assert text.count(SHORT) == 1
    # the same version, its evidence reworded after the admin signed it
    path.write_text(text.replace(SHORT, "badge 4411 checked"), encoding="utf-8")
    with pytest.raises(SignatureError) as caught:
        load_registry(path)
    assert caught.value.problem == (
        "version 2: the admin's signature does not verify: the version was edited after it "
        "was signed"
    )
    # so is removing it (the line gone from the entry)
    lines = [line for line in text.splitlines(keepends=True) if SHORT not in line]
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(SignatureError, match="version 2: the admin's signature does not verify"):
        load_registry(path)
    path.write_text(text, encoding="utf-8")
    assert load_registry(path).head.active_entry("aanalyst") is not None  # control


def _raws(path: Path) -> list[dict[str, Any]]:
    return copy.deepcopy(list(load_registry(path).raw))


def _append_signed(folder: Path, raws: list[dict[str, Any]], raw: dict[str, Any]) -> Path:
    """Append ``raw`` signed by the admin, as a hand-written version (no tool checks)."""
    key = admin_key(folder)
    raw = {**raw, "signed_by": ADMIN[1], "signer_fingerprint": fingerprint(raw_public(key))}
    raw["signature"] = base64.b64encode(key.sign(signed_bytes(raw))).decode("ascii")
    path = folder / "registry.yaml"
    document = {"schema": REGISTRY_SCHEMA, "versions": [*raws, raw]}
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path


def _hand_register(
    folder: Path, raws: list[dict[str, Any]], *, evidence: str | None, version_format: int | None
) -> dict[str, Any]:
    pair = _pending(folder / f"hand-{len(list(folder.glob('hand-*')))}", "hhand", "Hal Hand")
    head = raws[-1]
    moment = format_utc(KEYS_FROM + timedelta(hours=2))
    entry: dict[str, Any] = {
        "user_id": "hhand", "name": "Hal Hand", "roles": ["qa-approver"],
        "fingerprint": pair.public.fingerprint, "public_key": pair.public.public_key,
        "valid_from": moment, "valid_until": format_utc(KEYS_FROM + timedelta(days=30)),
        "status": "active", "revoked_at": None, "revoked_reason": None,
    }  # fmt: skip
    if evidence is not None:
        entry["identity_evidence"] = evidence
    raw: dict[str, Any] = {"version": len(raws) + 1}
    if version_format is not None:
        raw["format"] = version_format
    raw |= {
        "created_at": moment,
        "previous_sha256": version_sha256(head),
        "change": {"action": "register", "user_id": "hhand", "detail": None},
        "entries": [*copy.deepcopy(head["entries"]), entry],
        "tsa_certificates": list(head["tsa_certificates"]),
    }
    return raw


def test_a_hand_signed_format_2_version_adding_a_person_without_evidence_is_refused(
    tmp_path: Path,
) -> None:
    Signer(tmp_path, "Ada Analyst", "aanalyst", Role.ANALYST)
    raws = _raws(tmp_path / "registry.yaml")
    # control: with evidence, the hand-written version loads
    good = _hand_register(tmp_path, raws, evidence=BADGE, version_format=2)
    assert load_registry(_append_signed(tmp_path, raws, good)).head.active_entry("hhand")
    bad = _hand_register(tmp_path, raws, evidence=None, version_format=2)
    with pytest.raises(SignatureError) as caught:
        load_registry(_append_signed(tmp_path, raws, bad))
    assert caught.value.problem == (
        "version 3 (register): hhand is a person registered without identity_evidence (how "
        "their identity was verified, 21 CFR 11.100(b))"
    )
    # nor by stepping back to format 1, which asked for none
    old_style = _hand_register(tmp_path, raws, evidence=None, version_format=None)
    with pytest.raises(SignatureError) as caught:
        load_registry(_append_signed(tmp_path, raws, old_style))
    assert caught.value.problem == (
        "version 3 (register): written in format 1 after a format 2 version (a registry's "
        "format never goes back)"
    )


def test_a_later_version_cannot_reword_earlier_evidence(tmp_path: Path) -> None:
    Signer(tmp_path, "Ada Analyst", "aanalyst", Role.ANALYST, identity_evidence=BADGE)
    raws = _raws(tmp_path / "registry.yaml")
    raw = _hand_register(tmp_path, raws, evidence="passport checked", version_format=2)
    (ada,) = [e for e in raw["entries"] if e["user_id"] == "aanalyst"]
    ada["identity_evidence"] = "badge 4411 only"
    with pytest.raises(SignatureError) as caught:
        load_registry(_append_signed(tmp_path, raws, raw))
    assert caught.value.problem == (
        "version 3 (register): a register change adds exactly one entry and alters none"
    )


def _archive(tmp_path: Path) -> Path:
    folder = tmp_path / "old-site"
    shutil.copytree(ARCHIVE, folder)
    return folder


def test_a_registry_written_before_the_field_loads_and_verifies(tmp_path: Path) -> None:
    folder = _archive(tmp_path)
    assert "identity_evidence" not in (folder / "registry.yaml").read_text()
    assert "format" not in (folder / "registry.yaml").read_text()
    loaded = load_registry(folder)
    assert [v.change.action for v in loaded.versions] == ["init", "register", "register", "revoke"]
    assert [v.format for v in loaded.versions] == [1, 1, 1, 1]
    assert [(e.user_id, e.status, e.identity_evidence) for e in loaded.head.entries] == [
        ("oadmin", "active", None),
        ("oanalyst", "revoked", None),
        ("osvc", "active", None),
    ]
    # its signatures are over the versions as written: one changed byte is caught
    text = (folder / "registry.yaml").read_text()
    (folder / "registry.yaml").write_text(text.replace("Otto Oldanalyst", "Otto Oldanalyse"))
    with pytest.raises(SignatureError, match="the admin's signature does not verify"):
        load_registry(folder)


def test_the_tool_appends_a_format_2_version_to_an_old_registry(tmp_path: Path) -> None:
    folder = _archive(tmp_path)
    (folder / "oadmin.pem").chmod(0o600)
    admin = load_private_key(folder / "oadmin.pem", PASSPHRASE)
    pair = _pending(tmp_path / "new")
    with pytest.raises(SignatureError, match="jdoe is a person"):
        register_key(pair.public_path, roles=[Role.ANALYST], registry=folder, admin_key=admin)
    updated = register_key(
        pair.public_path, roles=[Role.ANALYST], registry=folder, admin_key=admin,
        identity_evidence=BADGE,
    )  # fmt: skip
    reloaded = load_registry(folder)
    assert [v.format for v in reloaded.versions] == [1, 1, 1, 1, 2]
    assert reloaded.genesis_sha256 == load_registry(ARCHIVE).genesis_sha256
    assert reloaded.raw[:4] == load_registry(ARCHIVE).raw
    entry = updated.head.active_entry("jdoe")
    assert entry is not None and entry.identity_evidence == BADGE


def _cli_site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    made = runner.invoke(
        app,
        ["keys", "init-registry", "--out", str(folder), "--signer", "Alex Admin", "--user-id",
         "aadmin", "--identity-evidence", "passport checked in person by the QA head"],
        env=ENV,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return folder


def test_keys_register_without_identity_evidence_is_a_usage_error(tmp_path: Path) -> None:
    folder = _cli_site(tmp_path)
    before = (folder / "registry.yaml").read_bytes()
    pair = _pending(tmp_path / "new")
    command = ["keys", "register", str(pair.public_path), "--role", "analyst", "--registry",
               str(folder), "--admin-key", str(folder / "aadmin.pem")]  # fmt: skip
    # no passphrase on stdin: the refusal comes before the admin's passphrase is asked
    refused = runner.invoke(app, command, env={"CYTORELEASE_PASSPHRASE": None}, prog_name="cr")
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        "error: cr keys register: Invalid value for '--identity-evidence': required for a person "
        "(every role but service): how their identity was verified, 21 CFR 11.100(b), e.g. "
        "\"badge 4411 and passport checked in person by aadmin\" (see 'cr keys register --help')"
    ]
    assert "Passphrase" not in refused.stderr
    assert (folder / "registry.yaml").read_bytes() == before
    # a service key needs none
    service = _pending(tmp_path / "svc", "svc-eval", "Release evaluation service")
    registered = runner.invoke(
        app,
        ["keys", "register", str(service.public_path), "--role", "service", "--registry",
         str(folder), "--admin-key", str(folder / "aadmin.pem"), "--json"],
        env=ENV,
    )  # fmt: skip
    assert registered.exit_code == 0, registered.stderr
    assert json.loads(registered.stdout)["entries"][-1]["identity_evidence"] is None


def test_keys_init_registry_without_identity_evidence_is_a_usage_error(tmp_path: Path) -> None:
    refused = runner.invoke(
        app,
        ["keys", "init-registry", "--out", str(tmp_path / "site"), "--signer", "Alex Admin",
         "--user-id", "aadmin"],
        env=ENV, prog_name="cr",
    )  # fmt: skip
    assert refused.exit_code == 2
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(
        "error: cr keys init-registry: Invalid value for '--identity-evidence': required for a "
        "person"
    )
    assert not (tmp_path / "site").exists()


def test_keys_show_lists_the_evidence_per_entry(tmp_path: Path) -> None:
    folder = _cli_site(tmp_path)
    pair = _pending(tmp_path / "new")
    registered = runner.invoke(
        app,
        ["keys", "register", str(pair.public_path), "--role", "analyst", "--registry",
         str(folder), "--admin-key", str(folder / "aadmin.pem"), "--identity-evidence", BADGE],
        env=ENV,
    )  # fmt: skip
    assert registered.exit_code == 0, registered.stderr
    shown = runner.invoke(app, ["keys", "show", "--registry", str(folder), "--json"])
    assert shown.exit_code == 0, shown.stderr
    assert [
        (e["user_id"], e["identity_evidence"]) for e in json.loads(shown.stdout)["entries"]
    ] == [
        ("aadmin", "passport checked in person by the QA head"),
        ("jdoe", BADGE),
    ]
    table = runner.invoke(app, ["keys", "show", "--registry", str(folder)], env={"COLUMNS": "400"})
    assert table.exit_code == 0, table.stderr
    assert "Identity evidence" in table.stdout
    assert BADGE in table.stdout
    assert "passport checked in person by the QA head" in table.stdout
