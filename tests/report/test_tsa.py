"""RFC 3161 trusted time against a real TSA on 127.0.0.1: scripts/tsa_server.py, which answers
each TimeStampReq with ``openssl ts -reply`` and a CA/TSA certificate pair it generates (EC P-256,
the TSA's with the critical extended key usage timeStamping). No mock: the tokens are OpenSSL's."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.report.tsa import TSA_ENV, TimestampError, request_timestamp, verify_timestamp

SERVER = Path(__file__).resolve().parents[2] / "scripts" / "tsa_server.py"
DIGEST = hashlib.sha256(b"cytorelease CoA content").digest()


class Tsa:
    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), str(folder), "--name", name, "--no-eku"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the server prints READY <port> when listening
        assert line.startswith("READY "), line
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/"

    def cert(self, name: str = "tsa.crt") -> bytes:
        return (self.folder / name).read_bytes()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def running_tsas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tsa, Tsa]]:
    """The site's TSA and another one (its own CA and certificate), both really running on
    127.0.0.1 until the generator is closed; skips where openssl is missing."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (the test TSA runs openssl ts -reply)")
    started: list[Tsa] = []
    try:
        for name in ("Site TSA", "Other TSA"):
            started.append(Tsa(tmp_path_factory.mktemp(name.split()[0].lower()), name))
        yield started[0], started[1]
    finally:
        for tsa in started:
            tsa.stop()


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tsa, Tsa]]:
    yield from running_tsas(tmp_path_factory)


@pytest.fixture(scope="module")
def tsa(tsas: tuple[Tsa, Tsa]) -> Tsa:
    return tsas[0]


def test_a_valid_token_verifies_and_gives_gen_time(tsa: Tsa) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    stamped = request_timestamp(DIGEST, tsa.url)
    after = datetime.now(UTC)
    gen_time = verify_timestamp(stamped.token, DIGEST, tsa.cert(), nonce=stamped.nonce)
    assert gen_time.tzinfo is not None
    # genTime is the TSA's clock, here this machine's, to the second (accuracy secs:1)
    assert before - timedelta(seconds=1) <= gen_time <= after + timedelta(seconds=1)
    assert verify_timestamp(stamped.token, DIGEST, tsa.cert()) == gen_time  # PEM, no nonce


def test_the_pem_and_der_certificate_are_the_same(tsa: Tsa) -> None:
    from asn1crypto import pem

    stamped = request_timestamp(DIGEST, tsa.url)
    _, _, der = pem.unarmor(tsa.cert())
    assert verify_timestamp(stamped.token, DIGEST, der) == verify_timestamp(
        stamped.token, DIGEST, tsa.cert()
    )


def test_a_token_for_another_digest_fails(tsa: Tsa) -> None:
    stamped = request_timestamp(DIGEST, tsa.url)
    other = hashlib.sha256(b"another CoA").digest()
    with pytest.raises(TimestampError, match="another digest"):
        verify_timestamp(stamped.token, other, tsa.cert())


def test_a_token_signed_by_another_tsa_fails(tsas: tuple[Tsa, Tsa]) -> None:
    site, other = tsas
    stamped = request_timestamp(DIGEST, other.url)
    with pytest.raises(TimestampError, match="another TSA"):
        verify_timestamp(stamped.token, DIGEST, site.cert())
    verify_timestamp(stamped.token, DIGEST, other.cert())  # control: its own TSA's passes


def test_a_replayed_token_fails_on_the_nonce(tsa: Tsa) -> None:
    first = request_timestamp(DIGEST, tsa.url)
    second = request_timestamp(DIGEST, tsa.url)
    assert first.nonce != second.nonce
    with pytest.raises(TimestampError, match="nonce"):
        verify_timestamp(first.token, DIGEST, tsa.cert(), nonce=second.nonce)


def test_a_certificate_without_time_stamping_usage_fails(tsa: Tsa) -> None:
    # same key, issuer and serial as the TSA's certificate; only the extended key usage differs
    stamped = request_timestamp(DIGEST, tsa.url)
    with pytest.raises(TimestampError, match="timeStamping"):
        verify_timestamp(stamped.token, DIGEST, tsa.cert("tsa-noeku.crt"))


def _span(token: bytes, part: bytes) -> range:
    start = token.find(part)
    assert start > 0 and token.find(part, start + 1) < 0
    return range(start, start + len(part))


def test_every_byte_of_the_signed_parts_tampered_fails(tsa: Tsa) -> None:
    """Each byte of the TSTInfo and of the SignerInfo (signed attributes, signature) flipped in
    turn: not one altered token verifies. (The certificates the token carries are not relied
    on: the TSA certificate is the verifier's own copy.)"""
    from asn1crypto import cms

    stamped = request_timestamp(DIGEST, tsa.url)
    signed_data = cms.ContentInfo.load(stamped.token)["content"]
    tst = signed_data["encap_content_info"]["content"].contents
    signer = signed_data["signer_infos"][0].dump()
    positions = [*_span(stamped.token, tst), *_span(stamped.token, signer)]
    accepted = []
    for position in positions:
        damaged = bytearray(stamped.token)
        damaged[position] ^= 0x01
        try:
            verify_timestamp(bytes(damaged), DIGEST, tsa.cert(), nonce=stamped.nonce)
        except TimestampError:
            continue
        accepted.append(position)
    assert len(positions) > 300
    assert accepted == []


def test_no_tsa_configured_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TSA_ENV, raising=False)
    with pytest.raises(InputError, match=TSA_ENV):
        request_timestamp(DIGEST)


def test_the_tsa_url_comes_from_the_environment(tsa: Tsa, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TSA_ENV, tsa.url)
    stamped = request_timestamp(DIGEST)
    verify_timestamp(stamped.token, DIGEST, tsa.cert(), nonce=stamped.nonce)


def test_a_tsa_that_does_not_answer_fails(tsas: tuple[Tsa, Tsa], tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TimestampError, match="did not answer"):
        request_timestamp(DIGEST, f"http://127.0.0.1:{port}/", timeout=2)


def test_garbage_is_not_a_token(tsa: Tsa) -> None:
    with pytest.raises(TimestampError, match="not a readable"):
        verify_timestamp(b"\x30\x03\x02\x01\x01", DIGEST, tsa.cert())
    with pytest.raises(InputError, match=r"not an X\.509"):
        verify_timestamp(b"", DIGEST, b"not a certificate")
