"""Audit checkpoints (report/checkpoint.py): the chain head signed outside the database.

The attacks are the ones the hash chain alone cannot see: an insider with write access to the
database drops the append-only trigger, rewrites a row, recomputes every later hash and puts the
trigger back, or cuts the last rows off. ``audit verify``'s chain check then says intact; the
checkpoint written before the attack must say which checkpoint and which row no longer hold.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import InputError
from cytorelease.provenance import canonical_json
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Dialect, Store
from cytorelease.report.checkpoint import (
    CHECKPOINT_SCHEMA,
    latest_checkpoint,
    maybe_checkpoint,
    write_checkpoint,
)
from cytorelease.report.checkpoint_verify import verify_checkpoints, verify_data_checkpoints
from cytorelease.report.keys import fingerprint, generate_key, raw_public
from tests.report.test_tsa import Tsa, running_tsas

PASSPHRASE = "checkpoint key passphrase"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SIGNED_FIELDS = ("schema", "sequence", "row_hash", "rows", "utc_time", "database")


@pytest.fixture(scope="module")
def site_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _fp(key: Ed25519PrivateKey) -> str:
    return fingerprint(raw_public(key))


def _append(store: Store, n: int, start: int = 0) -> None:
    with store.write():
        for i in range(start, start + n):
            audit.append(
                store,
                actor="qc-analyst-01",
                action=audit.Action.INGEST,
                object=f"file-{i}",
                lot="lot-A",
                details={"n": i},
            )


def _head(store: Store) -> int:
    return int(store.scalar("SELECT MAX(sequence) FROM audit_log"))


def _tamper(store: Store, data: DataDir, *statements: str) -> None:
    """The insider: the append-only guard dropped, the trail edited, the guard put back."""
    if store.dialect is Dialect.SQLITE:
        connection = sqlite3.connect(data.db_path, isolation_level=None)
        triggers = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        ).fetchall()
        assert triggers, "the store has no append-only trigger to drop"
        for name, _ in triggers:
            connection.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            connection.execute(statement)
        for _, sql in triggers:
            connection.execute(sql)
        connection.close()
    else:
        store.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        for statement in statements:
            store.execute(statement)
        store.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rebuild(
    store: Store, data: DataDir, sequence: int, details: dict[int, dict[str, Any]] | None = None
) -> None:
    """Rewrite row ``sequence`` (actor -> mallory), and the ``details`` of any later rows given,
    and recompute its hash and every later one."""
    statements, previous = [], None
    for entry in audit.entries(store):
        if entry.sequence < sequence:
            previous = entry.hash
            continue
        fields = entry.hashed_fields()
        if entry.sequence == sequence:
            fields["actor"] = "mallory"
        changed = (details or {}).get(entry.sequence)
        if changed is not None:
            fields["details"] = {**fields["details"], **changed}
        fields["previous_hash"] = previous or audit.GENESIS_HASH
        previous = audit.row_hash(fields)
        set_details = f" details = {_quote(canonical_json(fields['details']))}," if changed else ""
        statements.append(
            f"UPDATE audit_log SET actor = {_quote(fields['actor'])},{set_details}"
            f" previous_hash = {_quote(fields['previous_hash'])}, hash = {_quote(previous)}"
            f" WHERE sequence = {entry.sequence}"
        )
    _tamper(store, data, *statements)
    # the attack works against the chain alone: every link and hash holds again
    check = audit.verify_chain(store)
    assert check.ok, check.problem
    assert audit.entries(store)[sequence - 1].actor == "mallory"


def _checkpointed(store: Store, data: DataDir, key: Ed25519PrivateKey, rows: int = 5) -> dict:
    _append(store, rows)
    return write_checkpoint(store, data, key, actor="auditor", now=T0)


def _problems(store: Store, data: DataDir, **kwargs: Any) -> list[str | None]:
    return [c.problem for c in verify_checkpoints(store, data, **kwargs)]


# -- what a checkpoint holds -------------------------------------------------------------------


def test_a_checkpoint_signs_the_head_and_is_audited(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    written = _checkpointed(store, data, site_key)
    path = Path(written["file"])
    assert path.parent == data.root / "checkpoints"
    assert path.name == "5-20261201T080000000000Z.json"
    document = json.loads(path.read_bytes())
    row5 = audit.entries(store)[4]
    assert document["schema"] == CHECKPOINT_SCHEMA
    assert (document["sequence"], document["row_hash"], document["rows"]) == (5, row5.hash, 5)
    assert document["signer_fingerprint"] == _fp(site_key) == written["signer_fingerprint"]
    assert document["trusted_time"] is None and written["trusted_time"] is None
    # the signature covers exactly the signed fields
    body = canonical_json({k: document[k] for k in SIGNED_FIELDS}).encode()
    site_key.public_key().verify(base64.b64decode(document["signature"]), body)
    last = audit.entries(store)[-1]
    assert (last.sequence, last.action, last.actor) == (6, "checkpoint", "auditor")
    assert last.object == f"checkpoints/{path.name}"
    assert last.details["sequence"] == 5 and last.details["row_hash"] == row5.hash
    (check,) = verify_checkpoints(store, data, trusted_fingerprints=[_fp(site_key)])
    assert check.ok and (check.sequence, check.row_hash) == (5, row5.hash)
    assert check.note == "no trusted time"
    assert latest_checkpoint(data) == {**written, "file": str(path)}


def test_nothing_to_checkpoint_or_verify_without_rows_or_files(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    with pytest.raises(InputError, match="no rows yet: nothing to checkpoint"):
        write_checkpoint(store, data, site_key)
    _append(store, 2)
    assert latest_checkpoint(data) is None
    assert verify_checkpoints(store, data) == []


# -- (a) a rebuilt trail -----------------------------------------------------------------------


def test_a_rewritten_and_rehashed_trail_fails_at_the_checkpoint(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    written = _checkpointed(store, data, site_key)
    assert _problems(store, data) == [None]
    _rebuild(store, data, 3)  # row 3 rewritten; 4, 5 and the checkpoint row 6 rehashed
    (check,) = verify_checkpoints(store, data)
    assert check.file == Path(written["file"]).name and check.sequence == 5
    assert check.problem == "row 5's hash differs from the checkpoint's (the trail was rewritten)"


def test_cli_verify_json_names_the_checkpoint_and_row_and_audits_it(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    written = _checkpointed(store, data, site_key)
    name = Path(written["file"]).name
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--json", "--data-dir", str(data.root)])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["checkpoints"][0]["ok"] is True
    _rebuild(store, data, 2)
    result = runner.invoke(app, ["audit", "verify", "--json", "--data-dir", str(data.root)])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["broken_at"] is None  # the chain alone says intact
    (check,) = document["checkpoints"]
    assert (check["file"], check["sequence"], check["ok"]) == (name, 5, False)
    assert "the trail was rewritten" in check["problem"]
    assert result.stderr == (
        f"error: checkpoints/{name}: row 5: row 5's hash differs from the checkpoint's"
        " (the trail was rewritten)\n"
    )
    last = audit.entries(store)[-1]
    assert last.action == "verification-failed" and last.object == "checkpoints"
    assert last.details["checkpoints"] == [{"file": name, "problem": check["problem"]}]
    text = runner.invoke(app, ["audit", "verify", "--data-dir", str(data.root)])
    assert text.exit_code == 1
    assert f"checkpoint {name} (row 5): FAILED: row 5's hash differs" in text.stdout


# -- (b) a cut tail ----------------------------------------------------------------------------


def test_rows_cut_from_the_tail_fail_at_the_checkpoint(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    _checkpointed(store, data, site_key)
    _tamper(store, data, "DELETE FROM audit_log WHERE sequence >= 4")  # rows 4, 5, checkpoint 6
    assert audit.verify_chain(store).ok  # a shorter trail is still a valid chain
    assert _problems(store, data) == ["row 5 is missing from the trail (rows removed after it?)"]
    result = verify_data_checkpoints(data.root)
    assert [c.ok for c in result] == [False]
    assert audit.entries(store)[-1].action == "verification-failed"


def test_a_cut_tail_grown_back_to_the_same_length_still_fails(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    _checkpointed(store, data, site_key)
    _tamper(store, data, "DELETE FROM audit_log WHERE sequence >= 3")
    _append(store, 4, start=100)  # rows 3-6 again, other content, chained honestly
    assert audit.verify_chain(store).ok and _head(store) == 6
    assert _problems(store, data) == [
        "row 5's hash differs from the checkpoint's (the trail was rewritten)"
    ]


# -- (c) a forged checkpoint file --------------------------------------------------------------


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_bytes())
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def _resign(path: Path, key: Ed25519PrivateKey, **fields: Any) -> None:
    """Edit a checkpoint's signed fields and sign it again, as a key holder can."""

    def change(document: dict[str, Any]) -> None:
        document.update(fields)
        body = canonical_json({k: document[k] for k in SIGNED_FIELDS}).encode()
        document["public_key"] = base64.b64encode(raw_public(key)).decode()
        document["signer_fingerprint"] = _fp(key)
        document["signature"] = base64.b64encode(key.sign(body)).decode()

    _edit(path, change)


def _other_signature(document: dict[str, Any]) -> None:
    body = canonical_json({k: document[k] for k in SIGNED_FIELDS}).encode()
    document["signature"] = base64.b64encode(Ed25519PrivateKey.generate().sign(body)).decode()


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        pytest.param(
            lambda d: d.update(row_hash="0" * 64),
            "its signature does not verify (the checkpoint file was edited or forged)",
            id="row-hash-edited",
        ),
        pytest.param(
            lambda d: d.update(sequence=d["sequence"] + 1),
            "its signature does not verify (the checkpoint file was edited or forged)",
            id="sequence-edited",
        ),
        pytest.param(
            _other_signature,
            "its signature does not verify (the checkpoint file was edited or forged)",
            id="signature-by-another-key",
        ),
        pytest.param(
            lambda d: d.update(signer_fingerprint="ab" * 32),
            "its signer fingerprint is not its public key's (edited checkpoint)",
            id="fingerprint-edited",
        ),
        pytest.param(
            lambda d: d.update(signature="not base64!"),
            "its public key or signature is not base64 of an Ed25519 key/signature",
            id="signature-garbage",
        ),
    ],
)
def test_an_edited_checkpoint_file_fails(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey, edit: Any, problem: str
) -> None:
    written = _checkpointed(store, data, site_key)
    assert _problems(store, data) == [None]
    _edit(Path(written["file"]), edit)
    assert _problems(store, data) == [problem]


def test_a_checkpoint_moved_to_a_rewritten_row_fails(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    """The rebuild hides behind an edited checkpoint: its sequence and row hash set to the
    rebuilt row's (which the chain then agrees with): only the signature catches it."""
    written = _checkpointed(store, data, site_key)
    _rebuild(store, data, 2)
    rebuilt = audit.entries(store)[4].hash
    _edit(Path(written["file"]), lambda d: d.update(row_hash=rebuilt))
    assert _problems(store, data) == [
        "its signature does not verify (the checkpoint file was edited or forged)"
    ]


def test_an_unreadable_or_misnamed_checkpoint_is_reported(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    written = _checkpointed(store, data, site_key)
    folder = Path(written["file"]).parent
    (folder / "7-20261201T090000000000Z.json").write_text("{not json", encoding="utf-8")
    shutil.copyfile(written["file"], folder / "renamed.json")
    checks = {c.file: c for c in verify_checkpoints(store, data)}
    assert checks[Path(written["file"]).name].ok
    assert "not a readable cytorelease.audit-checkpoint/1 file" in (
        checks["7-20261201T090000000000Z.json"].problem or ""
    )
    assert checks["renamed.json"].ok  # misnamed but genuine: still held against the chain


# -- (d) signed by a key that is not the site's ------------------------------------------------


def test_a_checkpoint_resigned_by_the_insider_needs_the_trust_fingerprint(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    """The insider rebuilds the trail and rewrites the checkpoint with their own key over the
    rebuilt head: it is self-consistent, so only --trust-fingerprint tells it apart."""
    written = _checkpointed(store, data, site_key)
    checkpoint_row = _head(store)
    _rebuild(store, data, 2)
    insider = Ed25519PrivateKey.generate()
    _resign(Path(written["file"]), insider, row_hash=audit.entries(store)[4].hash)
    # the trail's checkpoint row still records the old head: the swap shows without a list
    (lazy,) = _problems(store, data)
    assert lazy is not None and "not what the file signs" in lazy
    # the thorough insider rewrites that row's details too (and rehashes from row 2 again)
    rebuilt_row5 = audit.entries(store)[4].hash
    _rebuild(store, data, 2, details={checkpoint_row: {"row_hash": rebuilt_row5}})
    assert audit.entries(store)[4].hash == rebuilt_row5  # rows before it are unchanged
    assert _problems(store, data) == [None]  # without a trust list it verifies...
    (check,) = verify_checkpoints(store, data)
    assert check.signer_fingerprint == _fp(insider)  # ...and names the key that signed it
    assert _problems(store, data, trusted_fingerprints=[_fp(site_key)]) == [
        f"signed by key {_fp(insider)[:16]}…, which is not in the trust list"
    ]
    runner = CliRunner()
    args = ["audit", "verify", "--json", "--data-dir", str(data.root)]
    trusted = runner.invoke(app, [*args, "--trust-fingerprint", _fp(site_key)])
    assert trusted.exit_code == 1, trusted.output
    (failed,) = json.loads(trusted.stdout)["checkpoints"]
    assert (
        failed["signer_fingerprint"] == _fp(insider)
        and "not in the trust list" in (failed["problem"])
    )
    either = runner.invoke(
        app, [*args, "--trust-fingerprint", _fp(site_key), "--trust-fingerprint", _fp(insider)]
    )
    assert either.exit_code == 0, either.output  # a key in the (repeated) list is trusted


def test_the_site_key_in_the_trust_list_passes(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    _checkpointed(store, data, site_key)
    assert _problems(store, data, trusted_fingerprints=[_fp(site_key)]) == [None]
    assert _problems(store, data, trusted_fingerprints=[]) == [
        f"signed by key {_fp(site_key)[:16]}…, which is not in the trust list"
    ]


# -- (e) trusted time --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tsa, Tsa]]:
    yield from running_tsas(tmp_path_factory)


def test_a_timestamped_checkpoint_verifies_with_the_tsa_certificate(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey, tsas: tuple[Tsa, Tsa]
) -> None:
    site, other = tsas
    _append(store, 3)
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    written = write_checkpoint(store, data, site_key, tsa=site.url)
    document = json.loads(Path(written["file"]).read_bytes())
    assert isinstance(document["trusted_time"]["token"], str)
    gen_time = datetime.fromisoformat(written["trusted_time"])
    assert before <= gen_time <= datetime.now(UTC) + timedelta(seconds=1)
    assert audit.entries(store)[-1].details["trusted_time"] is True
    (check,) = verify_checkpoints(store, data, tsa_certificates=[site.cert()])
    assert check.ok and check.note is None
    assert check.trusted_time == gen_time.isoformat()
    (unchecked,) = verify_checkpoints(store, data)
    assert unchecked.ok and unchecked.trusted_time is None
    assert unchecked.note == "trusted-time token not verified (no TSA certificate given)"
    (foreign,) = verify_checkpoints(store, data, tsa_certificates=[other.cert()])
    assert (foreign.problem or "").startswith("its trusted-time token does not verify (")
    # any of several certificates may verify it
    assert _problems(store, data, tsa_certificates=[other.cert(), site.cert()]) == [None]


def test_a_checkpoint_redated_by_the_key_holder_fails_on_its_token(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey, tsas: tuple[Tsa, Tsa]
) -> None:
    """Even the holder of the signing key cannot move a stamped checkpoint: re-signing an
    edited body keeps the signature valid, but the token was issued over the old bytes."""
    site, _ = tsas
    _append(store, 3)
    written = write_checkpoint(store, data, site_key, tsa=site.url)

    _resign(Path(written["file"]), site_key, utc_time="2026-01-01T00:00:00.000000+00:00")
    assert _problems(store, data) == [None]  # the signature holds
    (check,) = verify_checkpoints(store, data, tsa_certificates=[site.cert()])
    assert (check.problem or "").startswith("its trusted-time token does not verify (")
    assert "digest" in (check.problem or "")


def test_cli_checkpoint_with_tsa_and_verify_with_tsa_cert(
    data: DataDir,
    store: Store,
    tsas: tuple[Tsa, Tsa],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site, other = tsas
    _append(store, 2)
    pair = generate_key(
        signer="Site Auditor", user_id="auditor", passphrase=PASSPHRASE, out_dir=tmp_path / "k"
    )
    monkeypatch.setenv("CYTORELEASE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("CYTORELEASE_TSA", site.url)
    runner = CliRunner()
    made = runner.invoke(
        app, ["audit", "checkpoint", "--key", str(pair.key_path), "--json", "--data-dir",
              str(data.root)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    written = json.loads(made.stdout)
    assert written["sequence"] == 2 and written["trusted_time"] is not None
    assert Path(written["file"]).is_file()
    (site.folder / "x.crt").write_bytes(site.cert())
    (other.folder / "x.crt").write_bytes(other.cert())
    args = ["audit", "verify", "--json", "--data-dir", str(data.root)]
    good = runner.invoke(app, [*args, "--tsa-cert", str(site.folder / "x.crt")])
    assert good.exit_code == 0, good.output
    (check,) = json.loads(good.stdout)["checkpoints"]
    assert check["ok"] and check["trusted_time"] == written["trusted_time"]
    bad = runner.invoke(app, [*args, "--tsa-cert", str(other.folder / "x.crt")])
    assert bad.exit_code == 1, bad.output
    assert (
        "its trusted-time token does not verify"
        in json.loads(bad.stdout)["checkpoints"][0]["problem"]
    )


def test_cli_checkpoint_without_tsa_says_so(
    data: DataDir, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _append(store, 1)
    pair = generate_key(
        signer="Site Auditor", user_id="auditor", passphrase=PASSPHRASE, out_dir=tmp_path / "k"
    )
    monkeypatch.delenv("CYTORELEASE_TSA", raising=False)
    result = CliRunner().invoke(
        app, ["audit", "checkpoint", "--key", str(pair.key_path), "--data-dir", str(data.root)],
        input=PASSPHRASE + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"checkpoint {data.root / 'checkpoints'}/1-" in result.stdout
    assert "row 1 hash " in result.stdout
    assert "note: no trusted time (set CYTORELEASE_TSA to a TSA URL)" in result.stderr


# -- (f) maybe_checkpoint ----------------------------------------------------------------------


def test_maybe_checkpoint_writes_only_when_due(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    def maybe(at: datetime, **every: Any) -> dict[str, Any] | None:
        return maybe_checkpoint(store, site_key, data=data, now=at, actor="svc", **every)

    _append(store, 2)
    first = maybe(T0, every_rows=3)
    assert first is not None and first["sequence"] == 2  # no checkpoint yet: due at once
    assert maybe(T0 + timedelta(hours=5), every_rows=3) is None  # only its own row since
    assert maybe(T0 + timedelta(days=9), every_seconds=60) is None  # idle: not again and again
    _append(store, 2)
    assert maybe(T0 + timedelta(minutes=1), every_rows=3) is None  # 2 new rows < 3
    _append(store, 1)
    third = maybe(T0 + timedelta(minutes=2), every_rows=3)
    assert third is not None and third["sequence"] == 6
    _append(store, 1)
    assert maybe(T0 + timedelta(minutes=2, seconds=59), every_seconds=60) is None  # too soon
    by_age = maybe(T0 + timedelta(minutes=3), every_seconds=60, every_rows=1000)
    assert by_age is not None and by_age["sequence"] == 8
    names = sorted(p.name for p in (data.root / "checkpoints").iterdir())
    assert [n.split("-")[0] for n in names] == ["2", "6", "8"]
    assert [c.ok for c in verify_checkpoints(store, data)] == [True, True, True]
    assert [e.actor for e in audit.entries(store) if e.action == "checkpoint"] == ["svc"] * 3


def test_maybe_checkpoint_with_a_key_file_and_a_data_folder(
    data: DataDir, store: Store, tmp_path: Path
) -> None:
    pair = generate_key(
        signer="Site Auditor", user_id="auditor", passphrase=PASSPHRASE, out_dir=tmp_path / "k"
    )
    assert maybe_checkpoint(data.root, pair.key_path, PASSPHRASE, every_rows=1) is None  # empty
    _append(store, 1)
    from cytorelease.report.keys import WrongPassphrase

    with pytest.raises(WrongPassphrase):
        maybe_checkpoint(data.root, pair.key_path, "a wrong passphrase", every_rows=1)
    written = maybe_checkpoint(data.root, pair.key_path, PASSPHRASE, every_rows=1)
    assert written is not None and written["sequence"] == 1
    # not due: the key is not even opened (a wrong passphrase goes unnoticed until due)
    assert maybe_checkpoint(data.root, pair.key_path, "a wrong passphrase", every_rows=1) is None
    with pytest.raises(InputError, match="needs every_rows or every_seconds"):
        maybe_checkpoint(data.root, pair.key_path, PASSPHRASE)
    with pytest.raises(InputError, match="needs its data folder"):
        maybe_checkpoint(store, pair.key_path, PASSPHRASE, every_rows=1)


# -- (g) written once, private -----------------------------------------------------------------


def test_a_checkpoint_file_is_never_overwritten(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    _append(store, 3)
    folder = data.root / "checkpoints"
    folder.mkdir(mode=0o700)
    planted = folder / "3-20261201T080000000000Z.json"
    planted.write_bytes(b"planted first")
    rows = _head(store)
    with pytest.raises(InputError, match="never overwritten") as raised:
        write_checkpoint(store, data, site_key, now=T0)
    assert str(raised.value.path) == str(planted)
    assert planted.read_bytes() == b"planted first"
    assert _head(store) == rows  # no checkpoint row for a checkpoint not written
    assert sorted(p.name for p in folder.iterdir()) == [planted.name]  # no temporary left
    later = write_checkpoint(store, data, site_key, now=T0 + timedelta(microseconds=1))
    assert Path(later["file"]).name == "3-20261201T080000000001Z.json"


def test_checkpoint_files_and_folder_are_private(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    _append(store, 1)
    old = os.umask(0o022)
    try:
        written = write_checkpoint(store, data, site_key)
    finally:
        os.umask(old)
    path = Path(written["file"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


# -- what a key holder or an insider with the files can still try -------------------------------


def test_a_stripped_token_fails_when_trusted_time_is_asked_for(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey, tsas: tuple[Tsa, Tsa]
) -> None:
    """The token is outside the signed body: stripping it keeps the signature valid. An auditor
    who gives the TSA certificate must get a failure, not a 'no trusted time' note."""
    site, _ = tsas
    _append(store, 3)
    written = write_checkpoint(store, data, site_key, tsa=site.url)
    _edit(Path(written["file"]), lambda d: d.update(trusted_time=None))
    (plain,) = verify_checkpoints(store, data)
    assert plain.ok and plain.note == "no trusted time"
    (asked,) = verify_checkpoints(store, data, tsa_certificates=[site.cert()])
    assert asked.problem == "it carries no trusted-time token, but a TSA certificate was given"


def test_a_deleted_checkpoint_file_fails_by_its_trail_row(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    written = _checkpointed(store, data, site_key)
    row = _head(store)  # the checkpoint's own audit row
    Path(written["file"]).unlink()
    (check,) = verify_checkpoints(store, data)
    assert check.file == Path(written["file"]).name and check.sequence == 5
    assert check.problem == (
        f"the trail's row {row} records this checkpoint, but its file is gone from the data "
        "folder's checkpoints (deleted?)"
    )


def test_a_copy_kept_elsewhere_catches_a_rewrite_whose_files_were_deleted(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    written = _checkpointed(store, data, site_key)
    copy = tmp_path / "worm" / "checkpoints"
    shutil.copytree(Path(written["file"]).parent, copy)
    # the insider rewrites row 2, rehashes, deletes the checkpoint files and their trail rows
    _rebuild(store, data, 2)
    Path(written["file"]).unlink()
    _tamper(store, data, f"DELETE FROM audit_log WHERE action = '{audit.Action.CHECKPOINT}'")
    assert audit.verify_chain(store).ok  # the checkpoint row was the last: the chain holds
    assert verify_checkpoints(store, data) == []  # nothing left in the data folder to hold
    (check,) = verify_checkpoints(store, data, folder=copy)
    assert check.problem == "row 5's hash differs from the checkpoint's (the trail was rewritten)"
    runner = CliRunner()
    result = runner.invoke(
        app, ["audit", "verify", "--json", "--data-dir", str(data.root), "--checkpoints", str(copy)]
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["checkpoints"][0]["sequence"] == 5
    missing = runner.invoke(
        app, ["audit", "verify", "--data-dir", str(data.root), "--checkpoints", str(tmp_path / "x")]
    )
    assert missing.exit_code == 2
    assert missing.stderr == f"error: {tmp_path / 'x'}: no such checkpoints folder\n"


def test_an_earlier_checkpoint_copied_over_a_later_ones_name_fails(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    """Found by attack: rows after the first checkpoint rewritten, the later checkpoint
    overwritten with a copy of the earlier (genuine, trusted, still valid for its own row)."""
    _append(store, 4)
    first = write_checkpoint(store, data, site_key, now=T0)
    _append(store, 6, start=10)
    second = write_checkpoint(store, data, site_key, now=T0 + timedelta(hours=1))
    _rebuild(store, data, first["sequence"] + 3)
    trusted = [_fp(site_key)]
    assert any(_problems(store, data, trusted_fingerprints=trusted))
    shutil.copyfile(first["file"], second["file"])
    problems = _problems(store, data, trusted_fingerprints=trusted)
    assert problems[0] is None  # the first checkpoint itself still holds
    assert problems[1] == (
        f"its name says row {second['sequence']} but it signs row {first['sequence']}"
    )


def test_an_absurd_sequence_is_an_unreadable_checkpoint_not_a_crash(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey
) -> None:
    written = _checkpointed(store, data, site_key)
    _edit(Path(written["file"]), lambda d: d.update(sequence=2**70))
    (check,) = verify_checkpoints(store, data)
    assert check.problem is not None and "sequence out of range" in check.problem


def test_audit_verify_refuses_a_file_that_is_no_certificate_and_a_bad_fingerprint(
    data: DataDir, store: Store, site_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    """Found by attack: any file passed as --tsa-cert and any text as --trust-fingerprint."""
    _checkpointed(store, data, site_key)
    garbage = tmp_path / "garbage.crt"
    garbage.write_bytes(b"not a certificate\n")
    runner = CliRunner()
    args = ["audit", "verify", "--data-dir", str(data.root)]
    bad_cert = runner.invoke(app, [*args, "--tsa-cert", str(garbage)])
    assert bad_cert.exit_code == 2
    assert bad_cert.stderr == f"error: {garbage}: not an X.509 certificate (PEM or DER)\n"
    bad_fp = runner.invoke(app, [*args, "--trust-fingerprint", "nothex"])
    assert bad_fp.exit_code == 2
    assert "a --trust-fingerprint is a key's SHA-256 fingerprint (64 hex digits)" in bad_fp.stderr
    upper = runner.invoke(app, [*args, "--trust-fingerprint", _fp(site_key).upper()])
    assert upper.exit_code == 0, upper.output
