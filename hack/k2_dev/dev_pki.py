"""Certificates and kubeconfigs for the dev control plane (dev_cluster.py): a CA, the API server's
serving certificate, the service-account key pair and one client certificate per identity, all P-256
keys generated with `cryptography`, valid 30 days."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: The `kubernetes` Service's ClusterIP (first address of dev_cluster.SERVICE_CIDR), in the serving
#: certificate's SANs.
KUBERNETES_SERVICE_IP = "10.0.0.1"


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: generated in microseconds (RSA-2048 costs ~100 ms each); Go and Python accept it everywhere.
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    usages: list[x509.ObjectIdentifier],
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True)
class Certificates:
    ca: KeyPair
    apiserver: KeyPair
    service_account_key: Path
    service_account_pub: Path
    clients: dict[str, KeyPair]  # admin, kube-controller-manager, kube-scheduler, + extra_clients


#: client name -> (CN, O): the identities RBAC's bootstrap policy knows.
CLIENT_IDENTITIES = {
    "admin": ("kubernetes-admin", "system:masters"),
    "kube-controller-manager": ("system:kube-controller-manager", None),
    "kube-scheduler": ("system:kube-scheduler", None),
}


def generate_certificates(
    pki: Path,
    extra_ips: tuple[str, ...] = (),
    extra_clients: dict[str, tuple[str, str | None]] | None = None,
) -> Certificates:
    """A CA, the API server's serving cert, the service-account key pair and one client cert each.
    `extra_ips` join the serving cert's SANs (a node's address); `extra_clients` the identities
    (name -> (CN, O)), e.g. a kubelet's `system:node:<name>` in `system:nodes`."""
    pki.mkdir(parents=True, exist_ok=True)
    ca_key, ca_name = _new_key(), _name("k2-dev-cluster-ca")
    ca_cert = _certificate(ca_name, ca_key, ca_name, ca_key, ca=True, usages=[])
    ca = KeyPair(pki / "ca.crt", pki / "ca.key")
    _write_cert(ca_cert, ca.cert)
    _write_key(ca_key, ca.key)

    def issue(stem: str, subject: x509.Name, usage: x509.ObjectIdentifier, **kw: Any) -> KeyPair:
        key = _new_key()
        pair = KeyPair(pki / f"{stem}.crt", pki / f"{stem}.key")
        _write_cert(_certificate(subject, key, ca_name, ca_key, ca=False, usages=[usage], **kw), pair.cert)
        _write_key(key, pair.key)
        return pair

    sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address(KUBERNETES_SERVICE_IP)),
        *(
            x509.DNSName(n)
            for n in ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
        ),
        x509.DNSName("kubernetes.default.svc.cluster.local"),
        *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in extra_ips),
    ]
    server_auth, client_auth = x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH
    apiserver = issue("apiserver", _name("kube-apiserver"), server_auth, sans=sans)
    clients = {
        name: issue(name, _name(cn, org), client_auth)
        for name, (cn, org) in {**CLIENT_IDENTITIES, **(extra_clients or {})}.items()
    }
    sa_key = _new_key()
    _write_key(sa_key, pki / "sa.key")
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return Certificates(ca, apiserver, pki / "sa.key", pki / "sa.pub", clients)


def write_kubeconfig(path: Path, server: str, ca: Path, client: KeyPair, user: str) -> Path:
    """A kubeconfig with the certificates embedded, so it works when copied elsewhere."""

    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "k2-dev", "cluster": {"server": server, "certificate-authority-data": b64(ca)}}
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": b64(client.cert), "client-key-data": b64(client.key)},
            }
        ],
        "contexts": [{"name": "k2-dev", "context": {"cluster": "k2-dev", "user": user}}],
        "current-context": "k2-dev",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
