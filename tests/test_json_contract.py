"""``--json``: exactly one JSON document on stdout, whatever the command prints besides (warnings,
progress and errors go to stderr), on success and on a failed verification or spec alike."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cytorelease.cli.main import app
from cytorelease.provenance import file_sha256
from tests.cli_contract import SAMPLE_LOT, invoke, one_json_document, runner
from tests.conftest import shared_path
from tests.report.typed import run_typed

PASSPHRASE = "json contract passphrase"
ENV = {"CYTORELEASE_PASSPHRASE": PASSPHRASE}
INSTRUMENTS = (
    "schema: cytorelease.instruments/1\n"
    "instruments:\n  - {id: FACS-01, serial: V657338, kind: flow-cytometer}\n"
)


def _json(args: list[Any], *, code: int = 0, env: dict[str, str] | None = None) -> Any:
    result = invoke([*args, "--json"], env=env or ENV)
    assert "Traceback" not in result.stderr
    assert result.exit_code == code, (result.exit_code, result.stderr)
    return one_json_document(result.stdout)


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the sample lot (other work may regenerate the original)."""
    target = tmp_path_factory.mktemp("json-lot") / SAMPLE_LOT.name
    shutil.copytree(SAMPLE_LOT, target)
    return target


@pytest.fixture(scope="module")
def released(lot: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("json-release")
    result = invoke(["release", lot, "--out", out, "--json"])
    assert result.exit_code in (0, 1), result.stderr
    return one_json_document(result.stdout), out


def test_flow_inspect(lot: Path) -> None:
    tube = lot / "tube1_stained.fcs"
    document = _json(["flow", "inspect", tube, "--stats"])
    assert document["sha256"] == file_sha256(tube)
    assert document["event_count"] > 0
    assert all(c["mean"] is not None for c in document["channels"])


def test_flow_inspect_with_a_warning_keeps_stdout_pure() -> None:
    path = shared_path("fcs", "test_comp_example.fcs")
    result = invoke(["flow", "inspect", path, "--json"])
    assert result.exit_code == 0
    assert one_json_document(result.stdout)["event_count"] == 10_703
    assert result.stderr.startswith(f"warning: {path}: DATA segment bytes 3,318-773,934")


def test_flow_inspect_with_a_warning_in_a_real_process() -> None:
    path = shared_path("fcs", "test_comp_example.fcs")
    proc = subprocess.run(
        [sys.executable, "-m", "cytorelease", "flow", "inspect", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert one_json_document(proc.stdout)["sha256"] == file_sha256(path)
    assert [line.split(":")[0] for line in proc.stderr.splitlines()] == ["warning"]


def test_flow_gate(lot: Path) -> None:
    document = _json(
        ["flow", "gate", lot / "tube1_stained.fcs", "-t", "cd19-car-t-panel",
         "--control", lot / "tube2_fmo_car.fcs"]
    )  # fmt: skip
    assert document["template"]["id"] == "cd19-car-t-panel"
    assert {m["attribute"] for m in document["measurements"]} >= {"flow.car_pct_of_viable_cd3"}


def test_flow_cluster() -> None:
    path = shared_path("fcs", "test_comp_example.fcs")
    document = _json(["flow", "cluster", path, "--grid", "3x3", "--metaclusters", "3"])
    assert sum(m["size"] for m in document["metaclusters"]) == document["events"] == 10_703


def test_qpcr_read() -> None:
    path = shared_path("qpcr", "ddpcr_bio-rad", "ddpcr_read_quant_quant_QXManager.csv")
    document = _json(["qpcr", "read", path])
    assert document["format"] == "qx"
    assert document["sha256"] == file_sha256(path)
    assert document["rows"]


def test_qpcr_curve() -> None:
    path = shared_path("qpcr", "quantstudio", "allotropy_example_quantsudio_results_only.txt")
    # Two standard levels and no NTC: the run fails acceptance (exit 1), the JSON still comes.
    document = _json(["qpcr", "curve", path, "--target", "3'UTR"], code=1)
    for key in (
        "slope",
        "intercept",
        "r_squared",
        "efficiency_pct",
        "standards_used",
        "standards_excluded",
        "wells",
        "run_acceptance",
        "instrument_curve",
        "flags",
    ):
        assert key in document, key
    assert set(document["wells"][0]) >= {"well", "sample", "cq", "quantity", "ci_low", "ci_high"}
    assert document["provenance"]["input"]["sha256"] == file_sha256(path)


def test_potency_elisa() -> None:
    plate = Path(__file__).parent / "data" / "potency" / "plates" / "elisa_grid_seed1.csv"
    document = _json(["potency", "elisa", plate, "--assay", "potency-ifng-elisa"])
    assert document["plots"] == []


def test_potency_cytotox(tmp_path: Path) -> None:
    from cytorelease.synth.killing_assay import write_killing_assay

    record = write_killing_assay(
        tmp_path, seed=3, cytotoxicity_truth_pct=50.0, target_cells=3000, beads=2000
    )
    tubes = [tmp_path / record[k]["file"] for k in ("with_effectors", "targets_alone")]
    document = _json(["potency", "cytotox", *tubes, "--assay", "potency-cytotox"])
    assert document["cytotoxicity_pct"] == pytest.approx(record["cytotoxicity_pct"], abs=5.0)


def test_spec_commands() -> None:
    validated = _json(["spec", "validate", "cd19-car-t@1", "cd19-car-t@2"])
    assert [s["ok"] for s in validated["specs"]] == [True, True]
    shown = _json(["spec", "show", "cd19-car-t@2"])
    assert shown["spec"]["version"] == 2
    diff = _json(["spec", "diff", "cd19-car-t@1", "cd19-car-t@2"])
    assert diff["old"]["version"] == 1 and diff["new"]["version"] == 2


def test_spec_validate_of_a_bad_spec_keeps_json_on_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "v1.yaml"
    bad.write_text("schema_version: 1\n", encoding="utf-8")
    result = invoke(["spec", "validate", bad, "--json"])
    assert result.exit_code == 2
    (check,) = one_json_document(result.stdout)["specs"]
    assert check["ok"] is False
    assert result.stderr.startswith(f"error: {bad}: ")


def test_release_reevaluate_and_evaluate(released: tuple[dict[str, Any], Path]) -> None:
    summary, out = released
    assert summary["lot"]["id"] == "lot-CAR-0001"
    assert summary["disposition"] in {"PASS", "FAIL", "INCOMPLETE"}
    result = out / "result.json"
    assert summary["result"] == str(result)
    code = 0 if summary["disposition"] == "PASS" else 1
    evaluated = _json(["evaluate", result, "--spec", summary["spec"]["id"]
                       + f"@{summary['spec']['version']}"], code=code)  # fmt: skip
    assert evaluated["input"]["sha256"] == file_sha256(result)
    reevaluated = _json(
        ["audit", "reevaluate", result, "--spec", "cd19-car-t@1", "--spec", "cd19-car-t@2",
         "--out", out / "whatif"]
    )  # fmt: skip
    assert len(reevaluated["lots"]) == 1


def _typed(args: list[Any], passphrase: str, *, code: int = 0) -> Any:
    """A command whose passphrase is typed (no CYTORELEASE_PASSPHRASE): the prompt goes to
    stderr, the JSON document alone to stdout."""
    command = [str(a) for a in [*args, "--json"]]
    if command[0] == "sign":  # a person's decision: typed at a terminal, never piped
        result: Any = run_typed(command, passphrase)
    else:
        result = runner.invoke(
            app, command, input=f"{passphrase}\n", env={"CYTORELEASE_PASSPHRASE": None}
        )
    assert "Traceback" not in result.stderr
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert "Passphrase" in result.stderr
    return one_json_document(result.stdout) if code == 0 else result


REGISTRY_ENTRY_KEYS = {
    "user_id", "name", "roles", "fingerprint", "public_key", "valid_from", "valid_until",
    "status", "revoked_at", "revoked_reason", "identity_evidence",
}  # fmt: skip
EVIDENCE = "synthetic test identity: no document checked"


def _registry_document(document: dict[str, Any], version: int, action: str) -> dict[str, Any]:
    """The keys of every registry-changing command's JSON; the entry the change is about."""
    assert set(document) == {"registry", "version", "change", "entries"}
    assert all(set(e) == REGISTRY_ENTRY_KEYS for e in document["entries"])
    assert set(document["registry"]) == {"path", "versions", "genesis_sha256", "head_sha256"}
    assert document["version"] == document["registry"]["versions"] == version
    assert document["change"]["action"] == action
    return document["entries"][-1]


def _self_signed_certificate(folder: Path) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "JSON contract TSA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path = folder / "tsa.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def test_keys_registry_commands(tmp_path: Path) -> None:
    """init-registry, generate, register, add-tsa, revoke and show, each one JSON document."""
    site = tmp_path / "site"
    made = _json(["keys", "init-registry", "--out", site, "--signer", "Ad Min",
                  "--user-id", "admin", "--identity-evidence", EVIDENCE])  # fmt: skip
    admin = _registry_document(made, 1, "init")
    assert (admin["user_id"], admin["roles"], admin["status"]) == ("admin", ["admin"], "active")
    assert admin["identity_evidence"] == EVIDENCE
    assert made["registry"]["path"] == str(site / "registry.yaml")
    key = _json(["keys", "generate", "--signer", "Jo Json", "--user-id", "jjson",
                 "--out", tmp_path / "keys"])  # fmt: skip
    assert set(key) == {"key", "public", "signer"}
    assert set(key["signer"]) == {"name", "user_id", "fingerprint"}
    assert key["public"] == str(tmp_path / "keys" / "jjson.pub")
    admin_key = ["--registry", site, "--admin-key", site / "admin.pem"]
    registered = _json(["keys", "register", key["public"], "--role", "analyst",
                        "--role", "reviewer", *admin_key,
                        "--identity-evidence", "badge 4411 checked"])  # fmt: skip
    entry = _registry_document(registered, 2, "register")
    assert entry["fingerprint"] == key["signer"]["fingerprint"]
    assert (entry["user_id"], entry["roles"]) == ("jjson", ["analyst", "reviewer"])
    assert entry["identity_evidence"] == "badge 4411 checked"
    trusted = _json(["keys", "add-tsa", _self_signed_certificate(tmp_path), *admin_key])
    _registry_document(trusted, 3, "add-tsa")
    assert trusted["change"]["detail"] == "CN=JSON contract TSA"
    revoked = _json(["keys", "revoke", "jjson", "--reason", "left the site", *admin_key])
    entry = _registry_document(revoked, 4, "revoke")
    assert (entry["user_id"], entry["status"]) == ("jjson", "revoked")
    assert entry["revoked_reason"] == "left the site"
    shown = _json(["keys", "show", "--registry", site])
    assert set(shown) == {"registry", "versions", "entries"}
    assert shown["registry"]["head_sha256"] == revoked["registry"]["head_sha256"]
    assert [v["action"] for v in shown["versions"]] == ["init", "register", "add-tsa", "revoke"]
    assert [v["version"] for v in shown["versions"]] == [1, 2, 3, 4]
    assert {"created_at", "signed_by"} <= set(shown["versions"][0])
    assert [(e["user_id"], e["status"], e["identity_evidence"]) for e in shown["entries"]] == [
        ("admin", "active", EVIDENCE),
        ("jjson", "revoked", "badge 4411 checked"),
    ]
    assert all(set(e) == REGISTRY_ENTRY_KEYS for e in shown["entries"])


def test_keys_sign_verify(released: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    """sign --registry (performed from CYTORELEASE_PASSPHRASE, reviewed typed), verify --trust,
    and keys unlock after the lock-out, each one JSON document."""
    summary, _ = released
    coa = tmp_path / "coa.html"
    shutil.copyfile(summary["report"], coa)
    draft = _json(["verify", coa], code=1)  # a draft carries no signature: verification fails
    assert draft["ok"] is False
    site = tmp_path / "site"
    _json(["keys", "init-registry", "--out", site, "--signer", "Ad Min", "--user-id", "admin",
           "--identity-evidence", EVIDENCE])  # fmt: skip
    admin_key = ["--registry", site, "--admin-key", site / "admin.pem"]
    keys = {}
    for user_id, name, role in (("jjson", "Jo Json", "analyst"), ("rrev", "Ro Rev", "reviewer")):
        keys[user_id] = _json(["keys", "generate", "--signer", name, "--user-id", user_id,
                               "--out", tmp_path / "keys"])["key"]  # fmt: skip
        _json(["keys", "register", tmp_path / "keys" / f"{user_id}.pub", "--role", role,
               *admin_key, "--identity-evidence", EVIDENCE])  # fmt: skip
    signed = _json(["sign", coa, "--key", keys["jjson"], "--meaning", "performed",
                    "--registry", site])  # fmt: skip
    assert set(signed) == {"report", "signature"}
    assert (signed["signature"]["meaning"], signed["signature"]["role"]) == ("performed", "analyst")
    # five wrong typed passphrases lock the reviewer's key; an admin's unlock lifts it
    for _ in range(5):
        _typed(["sign", coa, "--key", keys["rrev"], "--meaning", "reviewed", "--registry", site],
               "not the passphrase", code=2)  # fmt: skip
    locked = _typed(["sign", coa, "--key", keys["rrev"], "--meaning", "reviewed",
                     "--registry", site], PASSPHRASE, code=2)  # fmt: skip
    assert "is locked after 5 wrong passphrases" in locked.stderr
    unlocked = _json(["keys", "unlock", "rrev", *admin_key])
    assert _registry_document(unlocked, 4, "unlock")["user_id"] == "rrev"
    assert unlocked["change"]["user_id"] == "rrev"
    reviewed = _typed(["sign", coa, "--key", keys["rrev"], "--meaning", "reviewed",
                       "--registry", site], PASSPHRASE)  # fmt: skip
    assert (reviewed["signature"]["meaning"], reviewed["signature"]["role"]) == (
        "reviewed",
        "reviewer",
    )
    verified = _json(["verify", coa, "--trust", site])
    assert verified["ok"] is True and verified["trust_checked"] is True
    assert [(s["user_id"], s["meaning"], s["ok"]) for s in verified["signatures"]] == [
        ("jjson", "performed", True),
        ("rrev", "reviewed", True),
    ]
    assert verified["registry"]["genesis_sha256"] == unlocked["registry"]["genesis_sha256"]


def test_sample_data_generate(tmp_path: Path) -> None:
    document = _json(["sample-data", "generate", tmp_path, "--seed", "7"])
    assert document["lot_dir"] == str(tmp_path / "lot-CAR-0007")


def test_hook_audit_and_worker(lot: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "instruments.yaml").write_text(INSTRUMENTS, encoding="utf-8")
    tube = lot / "tube2_fmo_car.fcs"
    before = file_sha256(tube)
    hooked = _json(["hook", tube, "--instrument", "FACS-01", "--data-dir", data,
                    "--stable-seconds", "0"])  # fmt: skip
    assert hooked["sha256"] == before == file_sha256(tube)
    assert _json(["audit", "verify", "--data-dir", data])["ok"] is True
    assert _json(["audit", "log", "--data-dir", data])["rows"]
    assert _json(["audit", "archive-verify", "--data-dir", data])["ok"] == 1
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watched = _json(["watch", inbox, "--once", "--instrument", "FACS-01", "--data-dir", data,
                     "--stable-seconds", "0"])  # fmt: skip
    assert watched["counts"]["ingested"] == 0 and watched["files"] == []
    # the hooked tube was queued: the worker takes it (done or failed, it is processed)
    assert _json(["worker", "--once", "--data-dir", data, "--poll", "0.01"])["processed"] == 1


@pytest.mark.slow
def test_demo(tmp_path: Path) -> None:
    document = _json(["demo", "--out", tmp_path / "demo"])
    assert document["verified"] is True


def test_warmup_names_every_kernel_the_commands_use() -> None:
    document = _json(["warmup"])
    kernels = {k["kernel"]: k for k in document["kernels"]}
    # one kernel serves small inputs (on one thread) and large ones: no serial twin to compile
    for name in (
        "flow._biexp_kernel._scale_values",
        "flow._biexp_kernel._inverse_values",
        "flow.gating._polygon_kernel._inside",
        "flow.gating._mixture_kernel._em",
        "flow._som_kernel.neighbourhood_update",
        "flow._compensation_kernel.solve_columns_into",
    ):
        assert kernels[name]["specializations"] >= 1, name
    # each kernel compiled, loaded from the cache, or already in this (test) process
    assert not [k for k in kernels if k.endswith("_serial") or k.endswith("_parallel")]
    assert all(k["compiled"] + k["loaded"] + k["in_memory"] >= 1 for k in kernels.values())
    assert document["compiled"] + document["loaded"] == sum(
        k["compiled"] + k["loaded"] for k in kernels.values()
    )
    assert document["seconds"] >= sum(s["seconds"] for s in document["steps"]) - 0.01


def test_warmup_lists_every_module_with_numba_kernels() -> None:
    from cytorelease.warmup import KERNEL_MODULES

    package = Path(__file__).resolve().parents[1] / "cytorelease"
    with_kernels = {
        ".".join(path.relative_to(package.parent).with_suffix("").parts)
        for path in package.rglob("*.py")
        if "@njit" in path.read_text(encoding="utf-8") and path.name != "warmup.py"
    }
    assert with_kernels == set(KERNEL_MODULES)


def test_json_output_is_one_document_even_for_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "nope.fcs"
    result = invoke(["flow", "inspect", missing, "--json"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"error: {missing}: no such file\n"


def test_help_imports_no_heavy_library() -> None:
    """``--help`` stays fast: no command module pulls numpy, pandas, scipy ... at import time."""
    code = (
        "import sys, cytorelease.cli.main\n"
        "heavy = ['numpy', 'pandas', 'scipy', 'numba', 'jinja2', 'yaml', 'pydantic',"
        " 'cryptography', 'sklearn', 'statsmodels', 'openpyxl', 'flowkit', 'watchdog']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_inspect_loads_neither_numba_nor_scipy(tmp_path: Path) -> None:
    """``flow inspect --stats`` reads and sums: the compiler (numba, ~0.5 s to import and
    initialise in a fresh process) and scipy are not on its path."""
    import numpy as np

    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs

    tube = write_fcs(
        tmp_path / "t.fcs",
        np.array([[1.0, 2.0], [3.0, np.nan]]),
        [ChannelSpec("FL1", None, 1024, 32), ChannelSpec("FL2", None, 1024, 32)],
    )
    code = (
        "import sys\n"
        "from cytorelease.cli.main import main\n"
        f"sys.argv = ['cytorelease', 'flow', 'inspect', {str(tube)!r}, '--stats', '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('loaded:' + ','.join(m for m in ('numba', 'scipy') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert '"event_count": 2' in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "loaded:"


def test_passphrase_prompt_stays_off_stdout(tmp_path: Path) -> None:
    """Without CYTORELEASE_PASSPHRASE and without a terminal the prompt must not pollute stdout."""
    env = {k: v for k, v in os.environ.items() if k != "CYTORELEASE_PASSPHRASE"}
    proc = subprocess.run(
        [sys.executable, "-m", "cytorelease", "keys", "generate", "--signer", "Pat Pipe",
         "--user-id", "ppipe", "--out", str(tmp_path), "--json"],
        input=f"{PASSPHRASE}\n{PASSPHRASE}\n",
        capture_output=True,
        text=True,
        check=False,
        env=env,
        start_new_session=True,  # no controlling terminal: the prompt falls back to the pipes
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert one_json_document(proc.stdout)["key"] == str(tmp_path / "ppipe.pem")
    assert "Passphrase:" in proc.stderr


def test_selftest(tmp_path: Path) -> None:
    document = _json(["selftest", "--out", tmp_path / "qual"])
    # a development (editable) install is flagged, never passed; nothing may fail
    assert document["verdict"] in ("PASS", "NOT QUALIFIED")
    assert document["summary"]["fail"] == 0
    assert {"iq.record", "oq.vcn", "oq.coa_tamper"} <= {c["id"] for c in document["checks"]}
    assert Path(document["files"]["json"]).is_file()
