"""Every command, fed realistic bad input: one ``error: <file>: <problem>`` line, exit 2 (1 for
a failed verification), no traceback, nothing on stdout, and every input left as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cytorelease._resources import ResourceKind, resource_dir
from cytorelease.cli.keys import PASSPHRASE_ENV
from cytorelease.errors import FCSChannelNameWarning
from tests.cli_contract import (
    GARBAGE,
    SAMPLE_LOT,
    Bad,
    assert_bad_input,
    command_paths,
    invoke,
    make_bad,
    snapshot,
)
from tests.conftest import shared_path

PASSPHRASE = "sweep passphrase 1234"
ENV = {"CYTORELEASE_PASSPHRASE": PASSPHRASE}
INSTRUMENTS = (
    "schema: cytorelease.instruments/1\n"
    "instruments:\n  - {id: FACS-01, serial: V657338, kind: flow-cytometer}\n"
)


@dataclass(frozen=True)
class Inputs:
    """Genuine files every slot's good companions and bad variants are made from."""

    folder: Path
    lot: Path  # a private copy of the sample lot: other work may regenerate the original

    @property
    def stained(self) -> Path:
        return self.lot / "tube1_stained.fcs"

    @property
    def fmo(self) -> Path:
        return self.lot / "tube2_fmo_car.fcs"

    killing: tuple[Path, Path] = (Path(), Path())
    measurements: Path = Path()
    key: Path = Path()  # an analyst's key, registered in ``registry``
    registry: Path = Path()  # a signed registry.yaml (admin + analyst)
    admin_key: Path = Path()  # the registry admin's key
    public: Path = Path()  # an ID.pub not yet registered
    tsa_cert: Path = Path()  # a TSA certificate (PEM)
    data_dir: Path = Path()
    trail: Path = Path()  # a data folder with a record store (audit checkpoint)
    coa: Path = Path()
    signed_coa: Path = Path()

    @property
    def spec(self) -> Path:
        return resource_dir(ResourceKind.SPECS) / "cd19-car-t" / "v2.yaml"

    def assay(self, name: str) -> Path:
        return resource_dir(ResourceKind.ASSAYS) / f"{name}.yaml"

    @property
    def template(self) -> Path:
        return resource_dir(ResourceKind.GATING) / "cd19-car-t-panel.yaml"

    @property
    def plate(self) -> Path:
        return PROJECT_TESTS / "data" / "potency" / "plates" / "elisa_grid_seed1.csv"


PROJECT_TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    from cytorelease.records.audit import Action
    from cytorelease.records.trail import Trail
    from cytorelease.report.keys import generate_key, load_private_key
    from cytorelease.report.registry_admin import enroll, init_registry
    from cytorelease.report.render import write_coa
    from cytorelease.signature_policy import Role
    from cytorelease.synth.killing_assay import write_killing_assay
    from tests.report.conftest import RENDERED_AT, example_record

    folder = tmp_path_factory.mktemp("sweep-inputs")
    lot = tmp_path_factory.mktemp("sweep-lot") / SAMPLE_LOT.name
    shutil.copytree(SAMPLE_LOT, lot)
    record = write_killing_assay(
        folder, seed=4, cytotoxicity_truth_pct=40.0, target_cells=3000, beads=2000
    )
    keys = folder / "keys"
    site = init_registry(
        keys, signer="Alex Admin", user_id="aadmin", passphrase=PASSPHRASE,
        identity_evidence="synthetic test identity",
    )  # fmt: skip
    made, _ = enroll(
        keys,
        admin_key=load_private_key(site.admin_key.key_path, PASSPHRASE),
        signer="Sam Sweep",
        user_id="ssweep",
        roles=[Role.ANALYST],
        passphrase=PASSPHRASE,
        out_dir=keys,
        identity_evidence="synthetic test identity",
    )
    pending = generate_key(
        signer="Pat Pending", user_id="ppending", passphrase=PASSPHRASE, out_dir=folder / "new"
    )
    measurements = folder / "measurements.json"
    measurements.write_text(
        '{"measurements": [\n'
        + ",\n".join(
            f'  {{"attribute": "{a}", "value": {v}, "unit": "%"}}'
            for a, v in (
                ("flow.viability_pct_of_cd45", 91.4),
                ("flow.cd3_pct_of_viable_cd45", 88.1),
                ("flow.car_pct_of_viable_cd3", 31.7),
                ("flow.cd19_pct_of_viable", 0.2),
            )
        )
        + "\n]}\n",
        encoding="utf-8",
    )
    data_dir = folder / "data"
    data_dir.mkdir()
    (data_dir / "instruments.yaml").write_text(INSTRUMENTS, encoding="utf-8")
    trail = folder / "trail"
    Trail(trail, "sweep").record(Action.EVALUATE, "lot-CAR-0001")  # a row to checkpoint
    coa = write_coa(example_record(), folder / "coa.html", generated_at=RENDERED_AT)
    return Inputs(
        folder=folder,
        lot=lot,
        killing=(
            folder / record["with_effectors"]["file"],
            folder / record["targets_alone"]["file"],
        ),
        measurements=measurements,
        key=made.key_path,
        registry=keys / "registry.yaml",
        admin_key=site.admin_key.key_path,
        public=pending.public_path,
        tsa_cert=_tsa_certificate(folder / "tsa.crt"),
        data_dir=data_dir,
        trail=trail,
        coa=coa,
        signed_coa=PROJECT_TESTS / "golden" / "coa_example_signed.html",
    )


def _tsa_certificate(path: Path) -> Path:
    """A self-signed certificate with the timeStamping usage, as a TSA's (PEM)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sweep TSA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(4660)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


ArgvFn = Callable[[Path, Inputs, Path], list[object]]


@dataclass(frozen=True)
class Slot:
    """One place a command takes a file: how to call it, and what a genuine file there is."""

    id: str
    command: str
    argv: ArgvFn
    suffix: str
    real: Callable[[Inputs], Path]
    wrong: Callable[[Inputs], Path]
    utf8_only: bool = False
    codes: dict[Bad, int] = field(default_factory=dict)  # exit codes other than 2
    # kinds left out, each with the reason (reported to the lead, not hidden here)
    skip: dict[Bad, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=lambda: dict(ENV))


def _qpcr_export(_: Inputs) -> Path:
    return shared_path("qpcr", "ddpcr_bio-rad", "ddpcr_read_quant_quant_QXManager.csv")


def _quantstudio_export(_: Inputs) -> Path:
    return shared_path("qpcr", "quantstudio", "allotropy_example_quantsudio_results_only.txt")


def _result_json(i: Inputs) -> Path:
    """A release record as release writes it (result.json), for lots import."""
    from cytorelease.lot.record import write_record
    from tests.report.conftest import example_record

    path = i.folder / "record" / "result.json"
    return path if path.is_file() else write_record(example_record(), path)


SPEC_REF = "cd19-car-t@2"
WSP = PROJECT_TESTS / "data" / "flowjo" / "8_color_ICS.wsp"  # a FlowJo 10 workspace (FlowKit's)
WSP_SAMPLE = "101_DEN084Y5_15_E03_009_clean.fcs"
FCS = {"suffix": ".fcs", "real": lambda i: i.fmo, "wrong": lambda i: i.spec}
YAML = {"suffix": ".yaml", "wrong": lambda i: i.fmo, "utf8_only": True}
# a registry given an ID.pub (another YAML of the signing set-up), a key given the ID.pub
REGISTRY = {"suffix": ".yaml", "real": lambda i: i.registry, "wrong": lambda i: i.public,
            "utf8_only": True}  # fmt: skip
KEY = {"suffix": ".pem", "real": lambda i: i.key, "wrong": lambda i: i.public}
ADMIN_KEY = {"suffix": ".pem", "real": lambda i: i.admin_key, "wrong": lambda i: i.public}

# the admin commands: each takes --registry and --admin-key (the key's passphrase from ENV)
ADMIN_COMMANDS: dict[str, Callable[[Inputs], list[object]]] = {
    "register": lambda i: [
        "register",
        i.public,
        "--role",
        "analyst",
        "--identity-evidence",
        "synthetic test identity",
    ],
    "revoke": lambda i: ["revoke", "ssweep", "--reason", "left the site"],
    "unlock": lambda i: ["unlock", "ssweep"],
    "add-tsa": lambda i: ["add-tsa", i.tsa_cert],
}


def _admin_argv(head: Callable[[Inputs], list[object]], slot: str) -> ArgvFn:
    """``keys <head> --registry R --admin-key K`` with the bad file in ``slot``; the good
    registry beside it is a private copy (a command that wrongly succeeded would change it)."""

    def argv(p: Path, i: Inputs, t: Path) -> list[object]:
        registry = p if slot == "registry" else _copy(i.registry, t)
        admin = p if slot == "admin-key" else i.admin_key
        return ["keys", *head(i), "--registry", registry, "--admin-key", admin]

    return argv


def _controls_argv(slot: str) -> ArgvFn:
    """``flow gate`` with the bundled panel compensating from single-stain controls, the bad
    file as the control (``controls``) or the unstained tube (``unstained``)."""

    def argv(p: Path, i: Inputs, t: Path) -> list[object]:
        template = t / "controls-panel.yaml"
        text = i.template.read_text(encoding="utf-8").replace(
            "compensation:\n  source: file\n", "compensation:\n  source: controls\n"
        )
        template.write_text(text, encoding="utf-8")
        control, unstained = (p, i.fmo) if slot == "controls" else (i.fmo, p)
        return ["flow", "gate", i.stained, "-t", template, "--controls", control,
                "--unstained", unstained]  # fmt: skip

    return argv


SLOTS = [
    Slot("flow-inspect", "flow inspect", lambda p, i, t: ["flow", "inspect", p], **FCS),
    Slot(
        "flow-inspect-json", "flow inspect", lambda p, i, t: ["flow", "inspect", p, "--json"], **FCS
    ),
    Slot("flow-gate", "flow gate", lambda p, i, t: ["flow", "gate", p, "-t", i.template], **FCS),
    Slot(
        "flow-gate-control",
        "flow gate",
        lambda p, i, t: ["flow", "gate", i.stained, "-t", i.template, "--control", p],
        **FCS,
    ),
    Slot(
        "flow-gate-controls",
        "flow gate",
        _controls_argv("controls"),
        **FCS,
    ),
    Slot(
        "flow-gate-unstained",
        "flow gate",
        _controls_argv("unstained"),
        **FCS,
    ),
    Slot(
        "flow-gate-template",
        "flow gate",
        lambda p, i, t: ["flow", "gate", i.stained, "-t", p],
        real=lambda i: i.template,
        skip={
            Bad.TRUNCATED: "a template cut at a comment is valid YAML with fewer gates and no "
            "measurements; the gating loader accepts it (area owned elsewhere: reported)"
        },
        **YAML,
    ),
    Slot(
        "flow-gate-wsp",
        "flow gate",
        lambda p, i, t: ["flow", "gate", i.stained, "-t", p, "--wsp-sample", WSP_SAMPLE],
        suffix=".wsp",
        real=lambda i: WSP,
        wrong=lambda i: i.fmo,
    ),
    Slot(
        "flow-wsp-import",
        "flow wsp-import",
        lambda p, i, t: ["flow", "wsp-import", p, "--sample", WSP_SAMPLE, "--out", t / "t.yaml"],
        suffix=".wsp",
        real=lambda i: WSP,
        wrong=lambda i: i.fmo,
    ),
    Slot("flow-cluster", "flow cluster", lambda p, i, t: ["flow", "cluster", p], **FCS),
    Slot(
        "flow-spillover-control",
        "flow spillover",
        lambda p, i, t: ["flow", "spillover", p, "--unstained", i.fmo],
        **FCS,
    ),
    Slot(
        "flow-spillover-unstained",
        "flow spillover",
        lambda p, i, t: ["flow", "spillover", i.fmo, "--unstained", p],
        **FCS,
    ),
    Slot(
        "qpcr-read",
        "qpcr read",
        lambda p, i, t: ["qpcr", "read", p],
        suffix=".csv",
        real=_qpcr_export,
        wrong=lambda i: i.fmo,
    ),
    Slot(
        "qpcr-vcn",
        "qpcr vcn",
        lambda p, i, t: ["qpcr", "vcn", p, "--assay", "vcn-car-rpp30"],
        suffix=".csv",
        real=_qpcr_export,
        wrong=lambda i: i.fmo,
    ),
    Slot(
        "qpcr-vcn-assay",
        "qpcr vcn",
        lambda p, i, t: ["qpcr", "vcn", _qpcr_export(i), "--assay", p],
        real=lambda i: i.assay("vcn-car-rpp30"),
        **YAML,
    ),
    Slot(
        "qpcr-curve",
        "qpcr curve",
        lambda p, i, t: ["qpcr", "curve", p, "--target", "3'UTR"],
        suffix=".txt",
        real=_quantstudio_export,
        wrong=lambda i: i.fmo,
    ),
    Slot(
        "qpcr-curve-assay",
        "qpcr curve",
        lambda p, i, t: [
            "qpcr",
            "curve",
            _quantstudio_export(i),
            "--target",
            "3'UTR",
            "--assay",
            p,
        ],
        real=lambda i: i.assay("vcn-car-rpp30"),
        **YAML,
    ),
    Slot(
        "potency-elisa",
        "potency elisa",
        lambda p, i, t: ["potency", "elisa", p, "--assay", "potency-ifng-elisa"],
        suffix=".csv",
        real=lambda i: i.plate,
        wrong=lambda i: i.fmo,
    ),
    Slot(
        "potency-elisa-assay",
        "potency elisa",
        lambda p, i, t: ["potency", "elisa", i.plate, "--assay", p],
        real=lambda i: i.assay("potency-ifng-elisa"),
        **YAML,
    ),
    Slot(
        "potency-cytotox-effectors",
        "potency cytotox",
        lambda p, i, t: ["potency", "cytotox", p, i.killing[1], "--assay", "potency-cytotox"],
        suffix=".fcs",
        real=lambda i: i.killing[0],
        wrong=lambda i: i.spec,
    ),
    Slot(
        "potency-cytotox-alone",
        "potency cytotox",
        lambda p, i, t: ["potency", "cytotox", i.killing[0], p, "--assay", "potency-cytotox"],
        suffix=".fcs",
        real=lambda i: i.killing[1],
        wrong=lambda i: i.spec,
    ),
    Slot(
        "potency-cytotox-assay",
        "potency cytotox",
        lambda p, i, t: ["potency", "cytotox", *i.killing, "--assay", p],
        real=lambda i: i.assay("potency-cytotox"),
        **YAML,
    ),
    Slot(
        "spec-validate",
        "spec validate",
        lambda p, i, t: ["spec", "validate", p],
        real=lambda i: i.spec,
        **YAML,
    ),
    Slot(
        "spec-show", "spec show", lambda p, i, t: ["spec", "show", p], real=lambda i: i.spec, **YAML
    ),
    Slot(
        "spec-diff",
        "spec diff",
        lambda p, i, t: ["spec", "diff", SPEC_REF, p],
        real=lambda i: i.spec,
        **YAML,
    ),
    Slot(
        "spec-lock", "spec lock", lambda p, i, t: ["spec", "lock", p], real=lambda i: i.spec, **YAML
    ),
    Slot(
        "spec-new-version",
        "spec new-version",
        lambda p, i, t: ["spec", "new-version", p],
        real=lambda i: i.spec,
        **YAML,
    ),
    Slot(
        "evaluate",
        "evaluate",
        lambda p, i, t: ["evaluate", p, "--spec", SPEC_REF],
        suffix=".json",
        real=lambda i: i.measurements,
        wrong=lambda i: i.spec,
        utf8_only=True,
    ),
    Slot(
        "evaluate-spec",
        "evaluate",
        lambda p, i, t: ["evaluate", i.measurements, "--spec", p],
        real=lambda i: i.spec,
        **YAML,
    ),
    Slot(
        "release-spec",
        "release",
        lambda p, i, t: ["release", i.lot, "--spec", p, "--out", t / "out"],
        real=lambda i: i.spec,
        **YAML,
    ),
    Slot(
        "verify",
        "verify",
        lambda p, i, t: ["verify", p, "--trust", i.registry],
        suffix=".html",
        real=lambda i: i.signed_coa,
        wrong=lambda i: i.fmo,
        codes={Bad.TRUNCATED: 1},  # a damaged CoA fails verification
    ),
    Slot(
        "verify-trust",
        "verify",
        lambda p, i, t: ["verify", i.signed_coa, "--trust", p],
        **REGISTRY,
    ),
    Slot(
        "addendum",
        "addendum",
        lambda p, i, t: [
            "addendum",
            p,
            "--attribute",
            "manual.sterility",
            "--value",
            "no growth",
            "--key",
            i.key,
            "--out",
            t / "addendum.html",
            "--lot-dir",
            i.lot,
            "--registry",
            i.registry,
        ],
        suffix=".html",
        real=lambda i: i.signed_coa,
        wrong=lambda i: i.fmo,
    ),
    Slot(
        "addendum-key",
        "addendum",
        lambda p, i, t: [
            "addendum",
            i.signed_coa,
            "--attribute",
            "manual.sterility",
            "--value",
            "no growth",
            "--key",
            p,
            "--out",
            t / "addendum.html",
            "--lot-dir",
            i.lot,
            "--registry",
            i.registry,
        ],
        **KEY,
    ),
    Slot(
        "sign",
        "sign",
        lambda p, i, t: [
            "sign",
            p,
            "--key",
            i.key,
            "--meaning",
            "performed",
            "--registry",
            i.registry,
        ],
        suffix=".html",
        real=lambda i: i.coa,
        wrong=lambda i: i.fmo,
    ),
    Slot(
        "sign-key",
        "sign",
        lambda p, i, t: [
            "sign",
            _copy(i.coa, t),
            "--key",
            p,
            "--meaning",
            "performed",
            "--registry",
            _copy(i.registry, t),
        ],
        suffix=".pem",
        real=lambda i: i.key,
        wrong=lambda i: i.spec,
    ),
    Slot(
        "sign-registry",
        "sign",
        lambda p, i, t: [
            "sign",
            _copy(i.coa, t),
            "--key",
            i.key,
            "--meaning",
            "performed",
            "--registry",
            p,
        ],
        **REGISTRY,
    ),
    Slot(
        "manual-enter-key",
        "manual enter",
        lambda p, i, t: [
            "manual",
            "enter",
            _copy_tree(i.lot, t),
            "--attribute",
            "manual.rcl",
            "--value",
            "not detected",
            "--key",
            p,
            "--registry",
            _copy(i.registry, t),
        ],
        **KEY,
    ),
    Slot(
        "manual-enter-registry",
        "manual enter",
        lambda p, i, t: [
            "manual",
            "enter",
            _copy_tree(i.lot, t),
            "--attribute",
            "manual.rcl",
            "--value",
            "not detected",
            "--key",
            i.key,
            "--registry",
            p,
        ],
        **REGISTRY,
    ),
    Slot(
        "selftest-key",
        "selftest",
        lambda p, i, t: ["selftest", "--out", t / "out", "--key", p],
        suffix=".pem",
        real=lambda i: i.key,
        wrong=lambda i: i.spec,
    ),
    Slot(
        "audit-reevaluate",
        "audit reevaluate",
        lambda p, i, t: ["audit", "reevaluate", p, "--spec", "cd19-car-t@1", "--spec", SPEC_REF],
        suffix=".json",
        real=lambda i: i.measurements,
        wrong=lambda i: i.spec,
        utf8_only=True,
    ),
    Slot(
        "audit-reevaluate-spec",
        "audit reevaluate",
        lambda p, i, t: ["audit", "reevaluate", i.measurements, "--spec", p, "--spec", SPEC_REF],
        real=lambda i: i.spec,
        **YAML,
    ),
    *[
        Slot(
            f"keys-{name}-{slot}",
            f"keys {name}",
            _admin_argv(head, slot),
            **(REGISTRY if slot == "registry" else ADMIN_KEY),
        )
        for name, head in ADMIN_COMMANDS.items()
        for slot in ("registry", "admin-key")
    ],
    Slot(
        "keys-register-public",
        "keys register",
        lambda p, i, t: [
            "keys",
            "register",
            p,
            "--role",
            "analyst",
            "--registry",
            _copy(i.registry, t),
            "--admin-key",
            i.admin_key,
            "--identity-evidence",
            "synthetic test identity",
        ],
        suffix=".pub",
        real=lambda i: i.public,
        wrong=lambda i: i.key,
        utf8_only=True,
    ),
    Slot(
        "keys-add-tsa-certificate",
        "keys add-tsa",
        lambda p, i, t: [
            "keys",
            "add-tsa",
            p,
            "--registry",
            _copy(i.registry, t),
            "--admin-key",
            i.admin_key,
        ],
        suffix=".crt",
        real=lambda i: i.tsa_cert,
        wrong=lambda i: i.public,
    ),
    Slot("keys-show", "keys show", lambda p, i, t: ["keys", "show", "--registry", p], **REGISTRY),
    Slot(
        "keys-show-json",
        "keys show",
        lambda p, i, t: ["keys", "show", "--registry", p, "--json"],
        **REGISTRY,
    ),
    Slot(
        "audit-checkpoint-key",
        "audit checkpoint",
        lambda p, i, t: ["audit", "checkpoint", "--key", p, "--data-dir", _copy_tree(i.trail, t)],
        **KEY,
    ),
    Slot(
        "reanalyse-key",
        "reanalyse",
        lambda p, i, t: [
            "reanalyse",
            "--data-dir",
            _copy_tree(i.trail, t),
            "--spec",
            "cd19-car-t@1",
            "--out",
            t / "impact.html",
            "--sign",
            p,
            "--registry",
            i.registry,
        ],
        **KEY,
    ),
    Slot(
        "reanalyse-registry",
        "reanalyse",
        lambda p, i, t: [
            "reanalyse",
            "--data-dir",
            _copy_tree(i.trail, t),
            "--spec",
            "cd19-car-t@1",
            "--out",
            t / "impact.html",
            "--sign",
            i.key,
            "--registry",
            p,
        ],
        **REGISTRY,
    ),
    Slot(
        "audit-checkpoint-data-dir",
        "audit checkpoint",
        lambda p, i, t: ["audit", "checkpoint", "--key", i.key, "--data-dir", p],
        suffix="",
        real=lambda i: i.trail / "cytorelease.db",
        wrong=lambda i: i.spec,
    ),
    Slot(
        "trend-from-csv",
        "trend",
        lambda p, i, t: ["trend", "flow.viability_pct", "--from-csv", p, "--json"],
        suffix=".csv",
        real=lambda i: PROJECT_TESTS / "trend" / "data" / "history.csv",
        wrong=lambda i: i.fmo,
    ),
    Slot(
        "compare-set",
        "compare",
        lambda p, i, t: [
            "compare",
            p,
            PROJECT_TESTS / "compare" / "data" / "site_b.csv",
            "--pair-by",
            "lot",
            "--json",
        ],
        suffix=".csv",
        real=lambda i: PROJECT_TESTS / "compare" / "data" / "site_a.csv",
        wrong=lambda i: i.fmo,
    ),
    Slot(
        "compare-protocol",
        "compare",
        lambda p, i, t: [
            "compare",
            PROJECT_TESTS / "compare" / "data" / "site_a.csv",
            PROJECT_TESTS / "compare" / "data" / "site_b.csv",
            "--pair-by",
            "lot",
            "--protocol",
            p,
            "--json",
        ],
        suffix=".yaml",
        real=lambda i: PROJECT_TESTS / "compare" / "data" / "protocol.yaml",
        wrong=lambda i: i.spec,
        utf8_only=True,
    ),
    Slot(
        "protocol-lock",
        "protocol lock",
        lambda p, i, t: ["--library", _site_library(t), "protocol", "lock", p, "--json"],
        suffix=".yaml",
        real=lambda i: PROJECT_TESTS / "compare" / "data" / "protocol.yaml",
        wrong=lambda i: i.spec,
        utf8_only=True,
    ),
    Slot(
        "lots-import",
        "lots import",
        lambda p, i, t: [
            "lots",
            "import",
            p,
            "--unchecked",
            "--data-dir",
            t / "lots-data",
            "--json",
        ],
        suffix=".json",
        real=_result_json,
        wrong=lambda i: i.measurements,
        utf8_only=True,
    ),
    Slot(
        "hook",
        "hook",
        lambda p, i, t: [
            "hook",
            p,
            "--instrument",
            "FACS-01",
            "--data-dir",
            _data_dir(t),
            "--stable-seconds",
            "0",
        ],
        **FCS,
    ),
]


def _site_library(folder: Path) -> Path:
    """A fresh site library (protocol lock writes its protocols/LOCK)."""
    library = folder / "library"
    (library / "specs").mkdir(parents=True, exist_ok=True)
    return library


@pytest.fixture(autouse=True)
def _no_site_library_after() -> Iterator[None]:
    """--library sets the site library for the whole process: each test starts without one."""
    from cytorelease._resources import set_library

    yield
    set_library(None)


def _data_dir(folder: Path) -> Path:
    """A fresh data folder with an instrument allow-list (the hook archives into it)."""
    data = folder / "data"
    data.mkdir(exist_ok=True)
    (data / "instruments.yaml").write_text(INSTRUMENTS, encoding="utf-8")
    return data


def _copy_tree(source: Path, folder: Path) -> Path:
    """A private copy of a folder (a data folder the command opens)."""
    target = folder / f"copy-{source.name}"
    if not target.exists():
        shutil.copytree(source, target)
    return target


def _copy(source: Path, folder: Path) -> Path:
    """A private copy of ``source`` for commands that write to it (sign)."""
    target = folder / f"copy-{source.name}"
    if not target.exists():
        shutil.copyfile(source, target)
    return target


@pytest.mark.parametrize(
    ("slot", "kind"),
    [(s, k) for s in SLOTS for k in Bad if k not in s.skip],
    ids=lambda v: v.id if isinstance(v, Slot) else str(v),
)
def test_bad_file(slot: Slot, kind: Bad, inputs: Inputs, tmp_path: Path) -> None:
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    path = make_bad(
        kind,
        bad_dir,
        slot.suffix,
        real=slot.real(inputs),
        wrong=slot.wrong(inputs),
        utf8_only=slot.utf8_only,
    )
    args = slot.argv(path, inputs, work)
    watched = [bad_dir, inputs.folder, inputs.lot, slot.real(inputs), slot.wrong(inputs)]
    before = snapshot(watched)
    result = invoke(args, env=slot.env)
    assert_bad_input(result, path, code=slot.codes.get(kind, 2))
    if kind is Bad.MISSING:
        assert not path.exists(), "a missing input was created"
    assert snapshot(watched) == before, "an input file was modified, moved or deleted"


def test_every_command_is_swept() -> None:
    """A new command must join the sweep: here, or in the lot-folder and output-path tests."""
    covered = {s.command for s in SLOTS} | {c for c, _ in OUTPUT_CASES} | LOT_COMMANDS
    covered |= NO_PATH_COMMANDS
    assert set(command_paths()) - covered == set()


# --- lot folders -------------------------------------------------------------------------

LOT_COMMANDS = {"release", "audit reevaluate"}
# verify reads a typed passphrase before its key (never one from the environment) and status
# reads the lot folder manual enter reads: their bad records and keys are tests/manual's
LOT_COMMANDS |= {"manual verify", "manual status"}
NO_PATH_COMMANDS = {"warmup"}  # reads and writes no path of the user's (test_json_contract)


def _lot_copy(tmp_path: Path) -> Path:
    lot = tmp_path / "lot-CAR-0001"
    shutil.copytree(SAMPLE_LOT, lot)
    return lot


def _replace(name: str, data: bytes) -> Callable[[Path], Path]:
    def mutate(lot: Path) -> Path:
        (lot / name).write_bytes(data)
        return lot / name

    return mutate


def _append(name: str, data: bytes) -> Callable[[Path], Path]:
    def mutate(lot: Path) -> Path:
        with (lot / name).open("ab") as handle:
            handle.write(data)
        return lot / name

    return mutate


def _to_folder(name: str) -> Callable[[Path], Path]:
    def mutate(lot: Path) -> Path:
        (lot / name).unlink()
        (lot / name).mkdir()
        return lot / name

    return mutate


def _cut_mid_key(name: str) -> Callable[[Path], Path]:
    """Cut a YAML file inside the first key after its middle. (A cut exactly at a line boundary
    can leave a valid, shorter manifest: nothing in YAML says a document ended early; such a
    lot lacks inputs and cannot pass, but is not refused as truncated.)"""

    def mutate(lot: Path) -> Path:
        data = (lot / name).read_bytes()
        start = data.index(b"\n", len(data) // 2) + 1
        key = start + len(data[start:]) - len(data[start:].lstrip(b" -"))
        (lot / name).write_bytes(data[: key + 2])
        return lot / name

    return mutate


def _half(name: str) -> Callable[[Path], Path]:
    def mutate(lot: Path) -> Path:
        data = (lot / name).read_bytes()
        (lot / name).write_bytes(data[: len(data) // 2])
        return lot / name

    return mutate


def _no_manifest(lot: Path) -> Path:
    (lot / "lot.yaml").unlink()
    return lot


LOT_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "no-lot-yaml": (_no_manifest, "lot folder has no lot.yaml manifest"),
    "lot-yaml-empty": (_replace("lot.yaml", b""), "expected a mapping of lot fields"),
    "lot-yaml-garbage": (_replace("lot.yaml", GARBAGE), "not UTF-8 text"),
    "lot-yaml-truncated": (_cut_mid_key("lot.yaml"), "(line "),
    "lot-yaml-latin1": (
        _append("lot.yaml", b"# caf\xe9 (Latin-1)\n"),
        "not UTF-8 text",
    ),
    "lot-yaml-is-a-folder": (_to_folder("lot.yaml"), "lot.yaml is a folder"),
    "tube-truncated": (_half("tube1_stained.fcs"), "truncated copy?"),
    "tube-empty": (_replace("tube2_fmo_car.fcs", b""), "the file is empty"),
    "tube-garbage": (_replace("tube2_fmo_car.fcs", GARBAGE), "not an FCS file"),
    "tube-is-a-folder": (_to_folder("tube2_fmo_car.fcs"), "is a folder, not a file"),
}


@pytest.mark.parametrize("case", list(LOT_CASES), ids=str)
def test_release_of_a_bad_lot_folder(case: str, tmp_path: Path) -> None:
    lot = _lot_copy(tmp_path)
    mutate, problem = LOT_CASES[case]
    offending = mutate(lot)
    # a tube that is a folder is the manifest's fault: the manifest line is named
    named = lot / "lot.yaml" if case == "tube-is-a-folder" else offending
    before = snapshot([lot])
    result = invoke(["release", lot, "--out", tmp_path / "out", "--json"])
    line = assert_bad_input(result, named)
    assert problem in line
    assert snapshot([lot]) == before
    assert not (tmp_path / "out").exists(), "outputs written for a lot that could not be read"


@pytest.mark.parametrize("kind", [Bad.MISSING, Bad.EMPTY, Bad.GARBAGE], ids=str)
def test_release_of_a_path_that_is_no_folder(kind: Bad, tmp_path: Path) -> None:
    path = make_bad(
        kind,
        tmp_path,
        "",
        real=SAMPLE_LOT / "lot.yaml",
        wrong=SAMPLE_LOT / "lot.yaml",
        utf8_only=True,
    )
    line = assert_bad_input(invoke(["release", path, "--out", tmp_path / "out"]), path)
    assert line.endswith("not a lot folder (expected a directory holding lot.yaml)")


def test_reevaluate_of_a_lot_folder_without_a_result(tmp_path: Path) -> None:
    lot = _lot_copy(tmp_path)
    before = snapshot([lot])
    result = invoke(["audit", "reevaluate", lot, "--spec", "cd19-car-t@1", "--spec", SPEC_REF])
    assert assert_bad_input(result, lot).endswith(
        "no result.json (or result*.json) in this lot folder"
    )
    assert snapshot([lot]) == before


# --- output paths: a file where a folder goes, an existing lot ---------------------------


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "in-the-way.txt"
    path.write_text("precious\n", encoding="utf-8")
    return path


OUTPUT_CASES: list[tuple[str, Callable[[Path, Inputs], list[object]]]] = [
    ("keys generate", lambda p, i: ["keys", "generate", "--signer", "A B", "--user-id", "ab", "--out", p]),
    ("keys init-registry", lambda p, i: ["keys", "init-registry", "--signer", "A B", "--user-id", "ab", "--out", p, "--identity-evidence", "synthetic test identity"]),
    ("sample-data generate", lambda p, i: ["sample-data", "generate", p]),
    ("sample-data history", lambda p, i: ["sample-data", "history", p]),
    ("sample-data history --raw", lambda p, i: ["sample-data", "history", p, "--raw", "--events", "1000"]),
    ("sample-data controls", lambda p, i: ["sample-data", "controls", p, "--events", "10"]),
    ("demo", lambda p, i: ["demo", "--out", p]),
    ("release", lambda p, i: ["release", i.lot, "--out", p]),
    # a workspace in the way may hold an analyst's gates: never overwritten, refused up front
    ("flow gate --export-wsp", lambda p, i: ["flow", "gate", i.stained, "-t", i.template, "--control", i.fmo, "--export-wsp", p]),
    ("release --export-wsp", lambda p, i: ["release", i.lot, "--out", i.folder / "never-released", "--export-wsp", p]),
    ("potency elisa", lambda p, i: ["potency", "elisa", i.plate, "--assay", "potency-ifng-elisa", "--plots", p]),
    ("audit log", lambda p, i: ["audit", "log", "--data-dir", p]),
    ("audit verify", lambda p, i: ["audit", "verify", "--data-dir", p]),
    ("audit checkpoint", lambda p, i: ["audit", "checkpoint", "--key", i.key, "--data-dir", p]),
    ("audit archive-verify", lambda p, i: ["audit", "archive-verify", "--data-dir", p]),
    ("audit correct", lambda p, i: ["audit", "correct", "1", "--reason", "typo", "--data-dir", p]),
    ("audit export", lambda p, i: ["audit", "export", "lot-CAR-0001", "--out", p, "--data-dir", i.data_dir]),
    ("queue list", lambda p, i: ["queue", "list", "--data-dir", p]),
    ("lots table", lambda p, i: ["lots", "table", "--data-dir", p, "--out", i.folder / "never.csv"]),
    ("compare", lambda p, i: ["compare", "lots:site=site-1", "lots:site=site-2", "--pair-by", "none", "--data-dir", p]),
    ("queue retry", lambda p, i: ["queue", "retry", "1", "--reason", "fixed", "--data-dir", p]),
    ("worker", lambda p, i: ["worker", "--once", "--data-dir", p]),
    ("reanalyse", lambda p, i: ["reanalyse", "--data-dir", p, "--spec", "cd19-car-t@1"]),
    ("watch", lambda p, i: ["watch", p, "--once", "--data-dir", i.data_dir]),
    ("selftest", lambda p, i: ["selftest", "--out", p]),
]  # fmt: skip


@pytest.mark.parametrize(("command", "argv"), OUTPUT_CASES, ids=[c for c, _ in OUTPUT_CASES])
def test_a_file_where_a_folder_goes(
    command: str, argv: Callable[[Path, Inputs], list[object]], inputs: Inputs, tmp_path: Path
) -> None:
    path = _file(tmp_path)
    assert_bad_input(invoke(argv(path, inputs), env=ENV), path)
    assert path.read_text(encoding="utf-8") == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in-the-way.txt"]


def test_sample_data_refuses_to_overwrite_a_lot(tmp_path: Path) -> None:
    lot = tmp_path / "lot-CAR-0001"
    lot.mkdir()
    (lot / "notes.txt").write_text("keep me\n", encoding="utf-8")
    line = assert_bad_input(invoke(["sample-data", "generate", tmp_path]), lot)
    assert "pass --force to overwrite it" in line
    assert [p.name for p in lot.iterdir()] == ["notes.txt"]


def test_keys_generate_never_overwrites_a_key(inputs: Inputs) -> None:
    before = snapshot([inputs.key.parent])
    args = [
        "keys",
        "generate",
        "--signer",
        "Sam Sweep",
        "--user-id",
        "ssweep",
        "--out",
        inputs.key.parent,
    ]
    line = assert_bad_input(invoke(args, env=ENV), inputs.key)
    assert "refusing to overwrite it" in line
    assert snapshot([inputs.key.parent]) == before


# --- messages of the fixes made in this sweep --------------------------------------------

# the signing set-up's slots, each given a genuine file where the sweep puts a bad one: the
# companions are good, so in test_bad_file the bad file alone is what is refused
SIGNING_SLOTS = [s for s in SLOTS if s.id.startswith(("keys-", "sign", "audit-checkpoint-key"))]


@pytest.mark.parametrize("slot", SIGNING_SLOTS, ids=lambda s: s.id)
def test_a_genuine_file_in_a_signing_slot_is_accepted(
    slot: Slot, inputs: Inputs, tmp_path: Path
) -> None:
    real = tmp_path / f"real{slot.suffix}"  # a copy: register, revoke, sign... write to it
    shutil.copyfile(slot.real(inputs), real)
    work = tmp_path / "work"
    work.mkdir()
    result = invoke(slot.argv(real, inputs, work), env=slot.env)
    assert result.exit_code == 0, result.stderr


def _sign_args(key: Path, registry: Path, inputs: Inputs, tmp_path: Path) -> list[object]:
    return ["sign", _copy(inputs.coa, tmp_path), "--key", key, "--meaning", "performed",
            "--registry", registry]  # fmt: skip


def test_a_truncated_key_is_no_wrong_passphrase(inputs: Inputs, tmp_path: Path) -> None:
    """A cut key file was reported as a wrong passphrase and counted towards the lock-out."""
    data = inputs.key.read_bytes()
    key = _write(tmp_path / "ssweep.pem", data[: len(data) // 2])
    registry = _copy(inputs.registry, tmp_path)
    for args in (
        _sign_args(key, registry, inputs, tmp_path),
        ["audit", "checkpoint", "--key", key, "--data-dir", _copy_tree(inputs.trail, tmp_path)],
    ):
        assert assert_bad_input(invoke(args, env=ENV), key) == (
            f"error: {key}: the key file ends before its END line (truncated copy?) (copy the "
            "key file again)"
        )
    assert not (tmp_path / "lockout").exists(), "a truncated key counted as a wrong passphrase"


def test_a_whole_key_with_a_wrong_passphrase_still_counts(inputs: Inputs, tmp_path: Path) -> None:
    key = _write(tmp_path / "ssweep.pem", inputs.key.read_bytes())
    registry = _copy(inputs.registry, tmp_path)
    result = invoke(_sign_args(key, registry, inputs, tmp_path), env={PASSPHRASE_ENV: "wrong one"})
    assert assert_bad_input(result, key) == (
        f"error: {key}: wrong passphrase for this key (1 in a row; 4 more lock the key)"
    )
    assert len(list((tmp_path / "lockout").glob("*.json"))) == 1


def test_add_tsa_names_the_certificate_that_is_none(inputs: Inputs, tmp_path: Path) -> None:
    """The refusal named the registry, not the file that was no certificate."""
    registry = _copy(inputs.registry, tmp_path)
    before = registry.read_bytes()
    certificate = _write(tmp_path / "tsa.crt", inputs.public.read_bytes())
    args = ["keys", "add-tsa", certificate, "--registry", registry, "--admin-key",
            inputs.admin_key]  # fmt: skip
    assert assert_bad_input(invoke(args, env=ENV), certificate) == (
        f"error: {certificate}: not a PEM or DER X.509 certificate"
    )
    assert registry.read_bytes() == before


def test_an_empty_public_key_file(inputs: Inputs, tmp_path: Path) -> None:
    public = _write(tmp_path / "ppending.pub", b"")
    args = ["keys", "register", public, "--role", "analyst", "--registry",
            _copy(inputs.registry, tmp_path), "--admin-key", inputs.admin_key,
            "--identity-evidence", "synthetic test identity"]  # fmt: skip
    assert assert_bad_input(invoke(args, env=ENV), public) == (
        f"error: {public}: the public key file is empty"
    )


@pytest.mark.parametrize("content", [b"", GARBAGE, b"schema: cytorelease.registry/1\n"])
def test_init_registry_never_overwrites_a_registry(content: bytes, tmp_path: Path) -> None:
    registry = _write(tmp_path / "registry.yaml", content)
    args = ["keys", "init-registry", "--signer", "A B", "--user-id", "ab", "--out", tmp_path,
            "--identity-evidence", "synthetic test identity"]  # fmt: skip
    line = assert_bad_input(invoke(args, env=ENV), registry)
    assert "a registry already exists here; a registry is created once" in line
    assert registry.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["registry.yaml"], "a key was made"


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        (Bad.GARBAGE, "not a usable cytorelease database (file is not a database)"),
        (Bad.TRUNCATED, "not a usable cytorelease database (database disk image is malformed)"),
    ],
    ids=str,
)
def test_checkpoint_of_a_data_folder_with_a_bad_database(
    kind: Bad, problem: str, inputs: Inputs, tmp_path: Path
) -> None:
    data = _copy_tree(inputs.trail, tmp_path)
    database = data / "cytorelease.db"
    content = GARBAGE if kind is Bad.GARBAGE else database.read_bytes()[:4096]
    _write(database, content)
    args = ["audit", "checkpoint", "--key", inputs.key, "--data-dir", data]
    assert problem in assert_bad_input(invoke(args, env=ENV), database)
    assert database.read_bytes() == content


def test_binary_file_as_plate_export(tmp_path: Path) -> None:
    path = tmp_path / "plate.csv"
    path.write_bytes(GARBAGE)
    line = assert_bad_input(
        invoke(["potency", "elisa", path, "--assay", "potency-ifng-elisa"]), path
    )
    assert "not a recognised plate-reader export" in line


def test_unsplittable_text_as_plate_grid(tmp_path: Path) -> None:
    from cytorelease.errors import InputError
    from cytorelease.potency.readers import read_plate

    path = tmp_path / "plate.csv"
    path.write_bytes(b',1,2,3\nA,"' + b"x" * 200_000 + b"\n")
    with pytest.raises(InputError) as caught:
        read_plate(path, format="grid")
    assert str(caught.value) == (
        f"{path}: not readable as delimited text: line 2: field larger than field limit (131072) "
        "(is this really a plate-reader export? binary files are not)"
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "the file is empty (0 bytes), not a CoA"),
        (b"\n \n", "the file is empty (3 bytes), not a CoA"),
        (
            GARBAGE,
            "not a cytorelease CoA: the file has none of a CoA's marks (generator tag, signature "
            "area, embedded result record) (give the coa-<lot>.html that `cytorelease release` "
            "wrote)",
        ),
    ],
)
def test_verify_and_sign_of_a_file_that_is_no_coa(
    data: bytes, problem: str, inputs: Inputs, tmp_path: Path
) -> None:
    path = tmp_path / "report.html"
    path.write_bytes(data)
    for args in (
        ["verify", path],
        ["verify", path, "--json"],
        [
            "sign",
            path,
            "--key",
            inputs.key,
            "--meaning",
            "performed",
            "--registry",
            inputs.registry,
        ],
    ):
        assert assert_bad_input(invoke(args, env=ENV), path) == f"error: {path}: {problem}"
    assert path.read_bytes() == data


def test_verify_of_a_damaged_coa_still_fails_verification(inputs: Inputs, tmp_path: Path) -> None:
    data = inputs.signed_coa.read_bytes()
    path = tmp_path / "coa.html"
    path.write_bytes(data[: len(data) // 2])
    result = invoke(["verify", path, "--trust", inputs.registry, "--json"])
    assert assert_bad_input(result, path, code=1).startswith(f"error: {path}: report: ")


def test_file_exists_error_is_mapped_in_one_place(tmp_path: Path) -> None:
    in_the_way = _file(tmp_path)
    line = assert_bad_input(invoke(["demo", "--out", in_the_way]), in_the_way)
    assert line == (
        f"error: {in_the_way}: is a file where a folder or a new file was to be created "
        "(choose another path)"
    )


def test_os_and_decode_errors_become_one_line(tmp_path: Path) -> None:
    from cytorelease.cli import main

    error = FileExistsError(17, "File exists", str(tmp_path))
    assert main._error_line(error) == (
        f"error: {tmp_path}: already exists; refusing to overwrite it (choose another path or "
        "move it)",
        2,
    )
    assert main._error_line(OSError(5, "Input/output error", "/x/f.fcs")) == (
        "error: /x/f.fcs: input/output error",
        2,
    )
    assert main._error_line(NotADirectoryError(20, "Not a directory", "/x/f/y")) == (
        "error: /x/f/y: a part of this path is a file, not a folder",
        2,
    )
    decode = UnicodeDecodeError("utf-8", b"ab\xe9", 2, 3, "invalid continuation byte")
    assert main._error_line(decode) == (
        "error: input is not utf-8 text (byte 2: b'\\xe9') (save the file as UTF-8)",
        2,
    )
    with pytest.raises(ZeroDivisionError):  # a bug is not bad input: it is not disguised
        main._error_line(ZeroDivisionError("x"))


def test_keys_generate_out_is_a_file(tmp_path: Path) -> None:
    path = _file(tmp_path)
    args = ["keys", "generate", "--signer", "A B", "--user-id", "ab", "--out", path]
    assert assert_bad_input(invoke(args, env=ENV), path) == (
        f"error: {path}: is a file, not a folder (--out is the folder for KEY.pem and "
        "KEY.pub) (choose another --out folder)"
    )


def test_release_out_is_a_file(tmp_path: Path) -> None:
    path = _file(tmp_path)
    assert assert_bad_input(invoke(["release", SAMPLE_LOT, "--out", path]), path) == (
        f"error: {path}: is a file, not a folder (--out is the folder for result.json and the "
        "CoA) (choose another --out folder)"
    )


def test_spec_new_version_of_a_file_that_is_no_spec_version(inputs: Inputs, tmp_path: Path) -> None:
    path = tmp_path / "notes.yaml"
    shutil.copyfile(inputs.spec, path)
    assert assert_bad_input(invoke(["spec", "new-version", path]), path) == (
        f"error: {path}: not a vN.yaml spec version file (give a product's spec file (e.g. "
        "specs/cd19-car-t/v2.yaml), its folder or its name)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.yaml"]


def test_spec_of_a_folder_without_versions(tmp_path: Path) -> None:
    line = assert_bad_input(invoke(["spec", "show", tmp_path]), tmp_path)
    assert line == (
        f"error: {tmp_path}: no vN.yaml spec versions in this folder (give a spec file, a "
        "product folder of specs/, or product@N)"
    )


def test_spec_lock_refuses_a_copy_outside_the_registry_layout(
    inputs: Inputs, tmp_path: Path
) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    path = folder / "v2-copy.yaml"
    shutil.copyfile(inputs.spec, path)
    line = assert_bad_input(invoke(["spec", "lock", path]), path)
    assert "only a spec in the registry layout <specs>/cd19-car-t/v2.yaml can be locked" in line
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["elsewhere", "v2-copy.yaml"]


def test_renamed_channels_warning_names_the_file(tmp_path: Path) -> None:
    import numpy as np

    from cytorelease.flow.fcs import read_fcs
    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs

    path = write_fcs(
        tmp_path / "dup.fcs", np.zeros((3, 2)), [ChannelSpec("FSC-A"), ChannelSpec("FSC-A")]
    )
    with pytest.warns(FCSChannelNameWarning) as caught:
        read_fcs(path)
    assert str(caught[0].message) == (
        f"{path}: empty or duplicate channel names made unique: $P2N 'FSC-A' -> 'FSC-A_P2'"
    )


# --- unreadable files (permissions do not bite for root) ---------------------------------


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="running as root: a chmod 000 file is still readable",
)
@pytest.mark.parametrize("slot", [s for s in SLOTS if s.id in {
    "flow-inspect", "potency-elisa", "spec-show", "evaluate", "verify", "release-spec",
}], ids=lambda s: s.id)  # fmt: skip
def test_unreadable_file(slot: Slot, inputs: Inputs, tmp_path: Path) -> None:
    path = tmp_path / f"locked{slot.suffix}"
    shutil.copyfile(slot.real(inputs), path)
    path.chmod(0)
    try:
        assert_bad_input(invoke(slot.argv(path, inputs, tmp_path), env=slot.env), path)
    finally:
        path.chmod(0o644)


# --- a real terminal: no traceback ever reaches it -----------------------------------------


SUBPROCESS_CASES: list[tuple[str, Callable[[Path], list[object]]]] = [
    ("flow inspect garbage", lambda t: ["flow", "inspect", _write(t / "x.fcs", GARBAGE)]),
    ("potency elisa garbage", lambda t: ["potency", "elisa", _write(t / "p.csv", GARBAGE),
                                         "--assay", "potency-ifng-elisa"]),
    ("verify empty", lambda t: ["verify", _write(t / "r.html", b""), "--json"]),
    ("release without lot.yaml", lambda t: ["release", _mkdir(t / "lot"), "--out", t / "o"]),
    ("demo out is a file", lambda t: ["demo", "--out", _write(t / "f", b"x")]),
    ("evaluate latin-1", lambda t: ["evaluate", _write(t / "m.json", LATIN1_JSON), "--spec", SPEC_REF]),
]  # fmt: skip
LATIN1_JSON = b'{"measurements": [{"attribute": "manual.appearance", "value": "tr\xfcb"}]}'


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(("name", "argv"), SUBPROCESS_CASES, ids=[n for n, _ in SUBPROCESS_CASES])
def test_no_traceback_in_a_real_process(
    name: str, argv: Callable[[Path], list[object]], tmp_path: Path
) -> None:
    args = [str(a) for a in argv(tmp_path)]
    offending = next(a for a in args if a.startswith(str(tmp_path)))
    proc = subprocess.run(
        [sys.executable, "-m", "cytorelease", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "CYTORELEASE_PASSPHRASE": PASSPHRASE},
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {offending}: "), last


@pytest.mark.parametrize("where", ["missing", "file", "empty-folder"])
def test_a_library_that_is_not_one_is_refused(where: str, tmp_path: Path) -> None:
    library = tmp_path / "library"
    if where == "file":
        library.write_text("x", encoding="utf-8")
    elif where == "empty-folder":
        library.mkdir()
    for args, env in (
        (["--library", library, "spec", "show", "cd19-car-t"], None),
        (["spec", "show", "cd19-car-t"], {"CYTORELEASE_LIBRARY": str(library)}),
    ):
        line = assert_bad_input(invoke(args, env=env), library)
        if where == "empty-folder":
            assert line.endswith(
                "the library named in --library (or CYTORELEASE_LIBRARY) holds none of "
                "gating/, assays/, specs/, reports/, protocols/ "
                "(point it at the folder that contains them)"
            )
        else:
            assert line.endswith("does not exist or is not a folder")


def test_a_library_with_specs_is_used(tmp_path: Path) -> None:
    from cytorelease._resources import set_library

    product = tmp_path / "specs" / "cd19-car-t"
    product.mkdir(parents=True)
    bundled = resource_dir(ResourceKind.SPECS)
    shutil.copyfile(bundled / "cd19-car-t" / "v1.yaml", product / "v1.yaml")
    shutil.copyfile(bundled / "LOCK", product.parent / "LOCK")
    try:
        result = invoke(["--library", tmp_path, "spec", "show", "cd19-car-t@1", "--json"])
    finally:
        set_library(None)
    assert result.exit_code == 0, result.stderr
    assert str(product / "v1.yaml") in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["audit", "checkpoint", "--key", "KEY"],
        ["audit", "verify"],
        ["audit", "log"],
        ["audit", "archive-verify"],
        ["queue", "list"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_read_command_on_an_empty_database_file_creates_nothing(
    command: list[str], inputs: Inputs, tmp_path: Path
) -> None:
    """SQLite takes a 0-byte file for a new database: a read command would create the tables
    in it and report an empty, intact trail."""
    data = _copy_tree(inputs.trail, tmp_path)
    database = data / "cytorelease.db"
    _write(database, b"")
    args = [inputs.key if a == "KEY" else a for a in command] + ["--data-dir", data]
    line = assert_bad_input(invoke(args, env=ENV), database)
    assert "the record store is an empty file (0 bytes), not a cytorelease database" in line
    assert database.read_bytes() == b""
