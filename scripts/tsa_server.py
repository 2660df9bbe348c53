#!/usr/bin/env python3
"""A local RFC 3161 time-stamping authority for tests: OpenSSL's ``ts -reply`` behind HTTP.

    python scripts/tsa_server.py DIR [--port 0] [--name "Test TSA"]

Creates in DIR a CA and a TSA certificate (EC P-256; the TSA's with the critical extended key
usage timeStamping, as RFC 3161 requires) and the ``openssl ts`` configuration, then serves
POST / on 127.0.0.1: each body (a TimeStampReq) is answered by ``openssl ts -reply``. Prints
``READY <port>`` on stdout when listening. ``--certs-only`` writes the files and exits;
``--no-eku`` also writes tsa-noeku.crt (same key, no timeStamping usage) for negative tests.
Needs openssl 3 on PATH. Test use only: a real TSA keeps its key in hardware.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_TS_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path, name: str, *, no_eku: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
             "-subj", f"/CN={name} CA", cwd=folder)  # fmt: skip
    _openssl("req", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", f"/CN={name}",
             cwd=folder)  # fmt: skip
    variants = {"tsa.crt": "extendedKeyUsage = critical,timeStamping\n"}
    if no_eku:
        variants["tsa-noeku.crt"] = "extendedKeyUsage = clientAuth\n"
    for out, eku in variants.items():
        ext = folder / f"{out}.ext"
        ext.write_text(f"basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n{eku}")
        # one serial for both: the no-EKU twin names the same issuer and serial as the real one,
        # so a verifier can only tell them apart by the extended key usage
        _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-set_serial", "4660", "-days", "30", "-extfile", ext.name, "-out", out,
                 cwd=folder)  # fmt: skip
    (folder / "tsaserial").write_text("01\n")
    (folder / "openssl-ts.cnf").write_text(_TS_CONFIG.format(dir=folder.resolve()))


def _handler(folder: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            query = self.rfile.read(length)
            with tempfile.TemporaryDirectory() as work:
                qfile, rfile = Path(work) / "q.tsq", Path(work) / "r.tsr"
                qfile.write_bytes(query)
                done = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", str(folder / "openssl-ts.cnf"),
                     "-queryfile", str(qfile), "-out", str(rfile)],
                    capture_output=True, check=False,
                )  # fmt: skip
                if done.returncode != 0 or not rfile.exists():
                    self.send_response(400)
                    self.end_headers()
                    return
                body = rfile.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet: tests read stdout
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="Test TSA")
    parser.add_argument("--certs-only", action="store_true")
    parser.add_argument("--no-eku", action="store_true")
    args = parser.parse_args(argv)
    make_certificates(args.folder, args.name, no_eku=args.no_eku)
    if args.certs_only:
        return 0
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _handler(args.folder))
    print(f"READY {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
