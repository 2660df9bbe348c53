"""Trusted time (RFC 3161): request a timestamp token from a TSA, verify one offline.

A site's time-stamping authority (``CYTORELEASE_TSA``, a URL) signs a statement "this digest
existed at genTime"; the token is a CMS SignedData whose content is a TSTInfo. Verification needs
only the token, the digest and the TSA's certificate (held in the registry): the message imprint
must be the digest, the nonce the one sent, the signer the given certificate, that certificate
one for time-stamping only (extended key usage timeStamping, critical), valid at genTime, and the
CMS signature over the signed attributes (which bind the TSTInfo by its hash) must verify.

ASN.1 and CMS are parsed with asn1crypto (pure Python, no native code, complete TSP/CMS/X.509
definitions, used by pyHanko and certvalidator); signatures are checked with cryptography, which
the project already uses. cryptography's own PKCS#7 support cannot read a TSTInfo.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cytorelease.errors import InputError, VerificationError

__all__ = [
    "TSA_ENV",
    "TimestampError",
    "TimestampToken",
    "request_timestamp",
    "token_time",
    "tsa_url",
    "verify_timestamp",
]

TSA_ENV = "CYTORELEASE_TSA"
_QUERY_TYPE = "application/timestamp-query"
_REPLY_TYPE = "application/timestamp-reply"
_MAX_REPLY = 1 << 20  # a token is a few kB; more is not a TSA's reply
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


class TimestampError(VerificationError):
    """A timestamp token does not prove what it claims (exit 1), or a TSA refused a request."""


@dataclass(frozen=True, slots=True)
class TimestampToken:
    """A token (DER ContentInfo) and the nonce sent with its request."""

    token: bytes
    nonce: int | None


def tsa_url() -> str | None:
    """The site's TSA from ``CYTORELEASE_TSA``, or None when none is configured."""
    url = os.environ.get(TSA_ENV, "").strip()
    return url or None


def _query(digest: bytes, nonce: int | None) -> bytes:
    from asn1crypto import algos, tsp

    fields: dict[str, Any] = {
        "version": "v1",
        "message_imprint": tsp.MessageImprint(
            {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": digest,
            }
        ),
        "cert_req": True,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    return bytes(tsp.TimeStampReq(fields).dump())


def request_timestamp(
    digest: bytes, url: str | None = None, *, nonce: bool = True, timeout: float = 10.0
) -> TimestampToken:
    """Ask the TSA at ``url`` (default ``CYTORELEASE_TSA``) to time-stamp a SHA-256 ``digest``."""
    from asn1crypto import tsp

    url = url or tsa_url()
    if url is None:
        raise InputError(f"no time-stamping authority configured (set {TSA_ENV} to its URL)")
    if not url.startswith(("http://", "https://")):
        raise InputError(f"{TSA_ENV} must be an http:// or https:// URL", path=TSA_ENV)
    if len(digest) != 32:
        raise InputError(f"a SHA-256 digest has 32 bytes, not {len(digest)}")
    number = secrets.randbits(63) if nonce else None
    request = urllib.request.Request(
        url, data=_query(digest, number), headers={"Content-Type": _QUERY_TYPE}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            body = reply.read(_MAX_REPLY + 1)
            kind = reply.headers.get("Content-Type", "")
    except OSError as exc:  # URLError, timeouts, refused connections
        raise TimestampError(f"the TSA did not answer: {type(exc).__name__}", path=url) from None
    if len(body) > _MAX_REPLY or not kind.startswith(_REPLY_TYPE):
        raise TimestampError(f"the TSA's reply is not a timestamp reply ({kind})", path=url)
    try:
        response = tsp.TimeStampResp.load(body)
        status = response["status"]["status"].native
        token = response["time_stamp_token"]
    except (ValueError, TypeError, KeyError):
        raise TimestampError("the TSA's reply cannot be read", path=url) from None
    if status not in ("granted", "granted_with_mods") or token.native is None:
        raise TimestampError(f"the TSA refused the request (status {status})", path=url)
    return TimestampToken(bytes(token.dump()), number)


def _load_certificate(certificate: bytes) -> Any:
    from asn1crypto import pem, x509

    if pem.detect(certificate):
        _, _, certificate = pem.unarmor(certificate)
    try:
        cert = x509.Certificate.load(certificate)
        cert.native  # noqa: B018 (parses it all now, so a damaged one fails here)
    except (ValueError, TypeError):
        raise InputError("the TSA certificate is not an X.509 certificate (PEM or DER)") from None
    return cert


def _check_certificate(cert: Any, moment: datetime) -> None:
    eku = cert.extended_key_usage_value
    critical = any(
        e["extn_id"].native == "extended_key_usage" and e["critical"].native
        for e in cert["tbs_certificate"]["extensions"]
    )
    if eku is None or eku.native != ["time_stamping"] or not critical:
        raise TimestampError(
            "the TSA certificate is not for time-stamping (RFC 3161 needs the extended key "
            "usage timeStamping alone, marked critical)"
        )
    validity = cert["tbs_certificate"]["validity"]
    start, end = validity["not_before"].native, validity["not_after"].native
    if not start <= moment <= end:
        raise TimestampError(
            f"the TSA certificate is valid {start:%Y-%m-%d} to {end:%Y-%m-%d}, not at genTime "
            f"{moment:%Y-%m-%d %H:%M:%S} UTC"
        )


def _verify_signature(cert: Any, signer: Any, signed: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.x509 import load_der_x509_certificate

    public = load_der_x509_certificate(cert.dump()).public_key()
    algorithm = signer["digest_algorithm"]["algorithm"].native
    # the unsigned fields around the signature must agree with it too: a verifier that read
    # past an altered algorithm or version would accept a token no conforming one does
    kind = signer["signature_algorithm"].signature_algo
    expected = {ec.EllipticCurvePublicKey: ("ecdsa",), rsa.RSAPublicKey: ("rsassa_pkcs1v15",
                "rsassa_pss"), ed25519.Ed25519PublicKey: ("ed25519",)}  # fmt: skip
    if not any(isinstance(public, t) and kind in k for t, k in expected.items()):
        raise TimestampError(f"the token's signature algorithm ({kind}) does not fit the key")
    named = signer["signature_algorithm"]["algorithm"].native
    if "_" in named and named.split("_")[0].startswith("sha") and named.split("_")[0] != algorithm:
        raise TimestampError("the token's signature and digest algorithms disagree")
    wanted_version = "v1" if signer["sid"].name == "issuer_and_serial_number" else "v3"
    if signer["version"].native != wanted_version:
        raise TimestampError(f"the token's SignerInfo version is not {wanted_version} (RFC 5652)")
    chosen = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
    signature = signer["signature"].native
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, signed)
        elif algorithm not in chosen:
            raise TimestampError(f"the token is signed with digest {algorithm}, not SHA-2")
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, signed, ec.ECDSA(chosen[algorithm]))
        elif isinstance(public, rsa.RSAPublicKey):
            if signer["signature_algorithm"].signature_algo == "rsassa_pss":
                pss = padding.PSS(padding.MGF1(chosen[algorithm]), padding.PSS.AUTO)
                public.verify(signature, signed, pss, chosen[algorithm])
            else:
                public.verify(signature, signed, padding.PKCS1v15(), chosen[algorithm])
        else:
            raise TimestampError("the TSA certificate's key type is not supported")
    except InvalidSignature:
        raise TimestampError(
            "the token's signature does not verify with the TSA certificate"
        ) from None


def _parts(token: bytes) -> tuple[Any, Any, bytes]:
    """(SignedData, its one SignerInfo, the TSTInfo's DER bytes)."""
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(token)
        if info["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        signed_data = info["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise ValueError("not a TSTInfo")
        content = encap["content"]
        tst_bytes = bytes(content.contents if hasattr(content, "contents") else content)
        signers = signed_data["signer_infos"]
        if len(signers) != 1:
            raise ValueError("not exactly one signer")
        signed_data.native  # noqa: B018 (parse everything: a damaged field fails here)
    except (ValueError, TypeError, KeyError):
        raise TimestampError("not a readable RFC 3161 timestamp token") from None
    return signed_data, signers[0], tst_bytes


def _signed_attribute(signer: Any, name: str) -> Any:
    found = [a for a in signer["signed_attrs"] if a["type"].native == name]
    if len(found) != 1 or len(found[0]["values"]) != 1:
        raise TimestampError(f"the token's signed attributes hold no single {name}")
    return found[0]["values"][0].native


def _is_signer(cert: Any, signer: Any) -> bool:
    sid = signer["sid"]
    if sid.name == "issuer_and_serial_number":
        return bool(
            sid.chosen["issuer"] == cert.issuer
            and sid.chosen["serial_number"].native == cert.serial_number
        )
    return bool(sid.chosen.native == cert.key_identifier)


def verify_timestamp(
    token: bytes, digest: bytes, certificate: bytes, *, nonce: int | None = None
) -> datetime:
    """The token's genTime (UTC) when it time-stamps ``digest`` (SHA-256), signed by the TSA
    holding ``certificate`` (PEM or DER); :class:`TimestampError` naming what fails otherwise.

    ``nonce``: the one the request sent, which the token must repeat (replay protection).
    """
    cert = _load_certificate(certificate)
    try:
        return _verify(cert, token, digest, nonce)
    except (ValueError, TypeError, KeyError, AttributeError):
        # asn1crypto parses lazily: a damaged field shows when it is first read
        raise TimestampError("not a readable RFC 3161 timestamp token") from None


def _verify(cert: Any, token: bytes, digest: bytes, nonce: int | None) -> datetime:
    from asn1crypto import tsp

    _, signer, tst_bytes = _parts(token)
    tst = tsp.TSTInfo.load(tst_bytes)
    imprint = tst["message_imprint"]
    if imprint["hash_algorithm"]["algorithm"].native != "sha256":
        raise TimestampError("the token's message imprint is not a SHA-256 digest")
    if imprint["hashed_message"].native != digest:
        raise TimestampError("the token time-stamps another digest than this document's")
    if nonce is not None and tst["nonce"].native != nonce:
        raise TimestampError("the token's nonce is not the one sent (a replayed token?)")
    if not _is_signer(cert, signer):
        raise TimestampError("the token is signed by another TSA than this certificate's")
    if _signed_attribute(signer, "content_type") != "tst_info":
        raise TimestampError("the token's signed content type is not TSTInfo")
    algorithm = signer["digest_algorithm"]["algorithm"].native
    if algorithm not in _HASHES:
        raise TimestampError(f"the token's digest algorithm {algorithm} is not SHA-2")
    if _signed_attribute(signer, "message_digest") != _HASHES[algorithm](tst_bytes).digest():
        raise TimestampError("the token's TSTInfo is not the one its signature covers")
    # the signature is over the DER of the attributes as a SET OF, not their [0] tagging
    signed = b"\x31" + bytes(signer["signed_attrs"].dump())[1:]
    _verify_signature(cert, signer, signed)
    moment: datetime = tst["gen_time"].native.astimezone(UTC)
    _check_certificate(cert, moment)
    return moment


def token_time(token: bytes) -> datetime | None:
    """The genTime a token claims, unverified (for display; ``verify_timestamp`` proves it),
    or None for bytes that are no readable token."""
    from asn1crypto import tsp

    try:
        _, _, tst_bytes = _parts(token)
        moment: datetime = tsp.TSTInfo.load(tst_bytes)["gen_time"].native.astimezone(UTC)
    except (TimestampError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return moment
