"""The library's own signing credentials: a local CA and a leaf certificate it issued.

C2PA validators refuse a self-signed signing certificate, so on first use cinedraft creates
``keys/ca.pem`` (P-256, CA:true, 10 years) and ``keys/signer.pem`` + ``keys/signer.key``
(P-256, CA:false, digitalSignature, EKU emailProtection, 2 years) issued by it. Private keys
are written with mode 0600. Readers that add ``ca.pem`` to their trust anchors see the
library's signatures as trusted; others see them as valid but from an unknown signer.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import InputError
from ..media.files import write_atomic

ORGANIZATION = "cinedraft"


@dataclass(frozen=True)
class Credentials:
    ca_pem: bytes
    chain_pem: bytes  # leaf, then CA
    key_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )


def _usage(*, sign: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_credentials(owner: str) -> Credentials:
    """A fresh CA and a signing leaf issued by it."""
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{owner} local CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign=False, cert_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{owner} signer"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True, cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Credentials(ca_pem=_pem(ca), chain_pem=_pem(leaf) + _pem(ca), key_pem=_key_pem(key))


def load_or_create(keys: Path, owner: str = "cinedraft") -> Credentials:
    """The credentials in ``keys/``, created there on first use."""
    ca, chain, key = keys / "ca.pem", keys / "signer.pem", keys / "signer.key"
    if not (ca.exists() and chain.exists() and key.exists()):
        keys.mkdir(parents=True, exist_ok=True)
        os.chmod(keys, 0o700)
        made = create_credentials(owner)
        write_atomic(key, made.key_pem)  # mkstemp files are 0600 and keep it through rename
        os.chmod(key, 0o600)
        write_atomic(chain, made.chain_pem)
        write_atomic(ca, made.ca_pem)  # last: its presence means the set is complete
        return made
    return Credentials(
        ca_pem=ca.read_bytes(), chain_pem=chain.read_bytes(), key_pem=key.read_bytes()
    )


# ---------------------------------------------------------------------- other libraries' CAs

TRUSTED = "trusted"  # keys/trusted/<sha256 of the DER>.pem: CAs this library was told to trust


def trust_ca(keys: Path, pem: bytes) -> tuple[str, str]:
    """Trust the CA certificate in ``pem`` (another library's ``ca.pem``); ``(fingerprint,
    subject)``. Only a parseable, unexpired CA certificate is kept, re-encoded (nothing else
    from the file is stored)."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise InputError(f"not a PEM certificate: {exc}") from None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise InputError(
            "this certificate is not a CA (BasicConstraints CA:true); trust the "
            "other library's keys/ca.pem, not its signer"
        )
    if cert.not_valid_after_utc < dt.datetime.now(dt.timezone.utc):
        raise InputError(f"this CA expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    write_atomic(
        keys / TRUSTED / f"{fingerprint}.pem", cert.public_bytes(serialization.Encoding.PEM)
    )
    return fingerprint, cert.subject.rfc4514_string()


def untrust_ca(keys: Path, fingerprint: str) -> None:
    path = keys / TRUSTED / f"{fingerprint}.pem"
    if not re.fullmatch(r"[0-9a-f]{64}", fingerprint) or not path.is_file():
        raise InputError(
            f"no trusted CA with fingerprint {fingerprint!r} (see `cinedraft trust list`)"
        )
    path.unlink()


def trusted_cas(keys: Path) -> list[tuple[str, str]]:
    """``(fingerprint, subject)`` of every CA trusted besides the library's own."""
    found = []
    for path in sorted((keys / TRUSTED).glob("*.pem")):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        found.append((path.stem, cert.subject.rfc4514_string()))
    return found


def trust_anchors(keys: Path) -> bytes | None:
    """The PEM bundle a reader trusts: this library's CA and the CAs it was told to trust."""
    pems = [keys / "ca.pem", *sorted((keys / TRUSTED).glob("*.pem"))]
    bundle = b"".join(p.read_bytes().strip() + b"\n" for p in pems if p.is_file())
    return bundle or None
