"""A development PKI: a CA, a server certificate for 127.0.0.1/localhost, and client
certificates for service accounts, as PEM files in one directory.

    ca.pem, ca.key                 the dev CA (trust ca.pem in the phone app's dev build)
    server.pem, server.key         every PalmGrid server and the edge's HTTPS
    <account>.pem, <account>.key   mTLS client certificates, CN = account name

Files are reused while valid (signed by the CA on disk and not expiring within 30 days)
and replaced otherwise; concurrent starts are serialized with a lock file. For
development only: the production profile takes certificates from the operator.

    python -m servers.runtime.devcerts [DIRECTORY]   # create or reuse, print the paths
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from servers.runtime.files import directory_lock, write_atomically
from servers.runtime.settings import DEV_CA_NAME, SERVICE_NAMES

SERVICE_ACCOUNTS: tuple[str, ...] = (
    "edge",
    "worker",
    "prewarm",
    "cli",
    "marketing",
    "metering",
    *SERVICE_NAMES,
)
HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
CA_LIFETIME = timedelta(days=3650)
LEAF_LIFETIME = timedelta(days=825)
RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class DevPki:
    """Paths of the dev PKI's files."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    def client(self, account: str) -> tuple[Path, Path]:
        """(certificate, key) of service account `account`."""
        return self.directory / f"{account}.pem", self.directory / f"{account}.key"


def ensure_dev_pki(
    directory: Path,
    *,
    accounts: Iterable[str] = SERVICE_ACCOUNTS,
    hosts: Iterable[str] = HOSTS,
    ca_name: str = DEV_CA_NAME,
) -> DevPki:
    """Create (or reuse) the CA, the server certificate and one client certificate per
    account in `directory`. The production profile refuses a CA named `DEV_CA_NAME`;
    tests standing in for an operator's PKI give another `ca_name`."""
    pki = DevPki(directory)
    with directory_lock(directory):
        now = datetime.now(UTC)
        ca_key, ca_cert = _ensure_ca(pki, now, ca_name)
        if not _valid_leaf(pki.server_cert, ca_cert, now):
            _issue(
                pki.server_cert,
                pki.server_key,
                ca_key,
                ca_cert,
                "palmgrid-server",
                now,
                hosts=tuple(hosts),
            )
        for account in accounts:
            cert, key = pki.client(account)
            if not _valid_leaf(cert, ca_cert, now):
                _issue(cert, key, ca_key, ca_cert, account, now)
    return pki


def _ensure_ca(
    pki: DevPki, now: datetime, ca_name: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    if pki.ca_cert.exists() and pki.ca_key.exists():
        cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
        if (
            isinstance(key, ec.EllipticCurvePrivateKey)
            and cert.not_valid_after_utc > now + RENEW_BEFORE
        ):
            return key, cert
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_atomically(pki.ca_key, _private_pem(key), mode=0o600)
    write_atomically(pki.ca_cert, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return key, cert


def _valid_leaf(path: Path, ca_cert: x509.Certificate, now: datetime) -> bool:
    key_path = path.with_suffix(".key")
    if not (path.exists() and key_path.exists()):
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return cert.not_valid_after_utc > now + RENEW_BEFORE


def _issue(
    cert_path: Path,
    key_path: Path,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    now: datetime,
    *,
    hosts: tuple[str, ...] = (),
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if hosts else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + LEAF_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(host) for host in hosts]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    write_atomically(key_path, _private_pem(key), mode=0o600)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from servers.runtime.settings import Settings

    directory = Path(args[0]) if args else Settings().tls_dir
    pki = ensure_dev_pki(directory)
    print(f"dev CA      {pki.ca_cert}")
    print(f"server      {pki.server_cert}  {pki.server_key}")
    for account in SERVICE_ACCOUNTS:
        cert, key = pki.client(account)
        print(f"{account:<11} {cert}  {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
