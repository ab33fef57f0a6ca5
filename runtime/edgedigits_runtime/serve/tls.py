"""HTTPS for ``edgedigits-rt serve``: check a certificate and its key before anything listens.

uvicorn serves TLS with the standard library's :mod:`ssl` (OpenSSL): nothing to install, pure Python on a
Pi too. What this module adds is the checks and messages: OpenSSL's own errors ("[SSL] PEM lib",
"KEY_VALUES_MISMATCH") say little, and an encrypted key given without a password would make OpenSSL ask
for it on the terminal (or hang a service waiting for it). :func:`check_tls` loads the pair once, with a
password callback that never prompts, and turns each failure into a one-line :class:`UsageError` that
says what to do. A certificate outside its validity dates is a warning, not an error: a Pi without a
real-time clock may start with its clock in the past.
"""

from __future__ import annotations

import datetime
import re
import ssl
import warnings
from pathlib import Path

from edgedigits_runtime.errors import UsageError

__all__ = ["check_tls", "certificate_dates"]

_MAX_BYTES = 1 << 20  # a certificate chain or a key of more than 1 MB is not a PEM file
_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.*?)-----END CERTIFICATE-----", re.S)
_KEY = re.compile(rb"-----BEGIN ((?:[A-Z]+ )*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.S)
_MAKE = "runtime/README.md, \"Serving over HTTPS\", shows how to make one"


class _NoPassword(Exception):
    """The key is encrypted and no password was given (raised from OpenSSL's password callback)."""


def check_tls(cert: str | Path, key: str | Path, password: str | None = None) -> ssl.SSLContext:
    """Load a certificate (PEM, its chain after it) and its private key (PEM) as the server will.

    Example:

    >>> context = check_tls("cert.pem", "key.pem")     # doctest: +SKIP

    Args:
      cert: the certificate file; the intermediate certificates, if any, follow it in the same file.
      key: its private key file (may be the same file as ``cert`` when it holds both).
      password: the key's password when it is encrypted (never asked for on the terminal).

    Returns:
      A server-side :class:`ssl.SSLContext` with the pair loaded.

    Raises:
      UsageError: a file is missing or unreadable, is not PEM (DER, a signing request, the key and the
        certificate swapped), the key is encrypted and no or a wrong password was given, or the key does
        not belong to the certificate. One line each, saying what to do.

    Warns:
      ServeWarning: the certificate has expired or is not valid yet (clients will refuse it).
    """
    from edgedigits_runtime.serve.server import ServeWarning

    cert, key = Path(cert), Path(key)
    cert_bytes = _read(cert, "certificate (--tls-cert)")
    key_bytes = cert_bytes if key == cert else _read(key, "key (--tls-key)")
    first = _CERT.search(cert_bytes)
    if first is None:
        raise UsageError(_not_a_certificate(cert, cert_bytes))
    if _KEY.search(key_bytes) is None:
        raise UsageError(_not_a_key(key, key_bytes))

    def give_password():
        if not password:
            raise _NoPassword
        return password

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key), password=give_password)
    except _NoPassword:
        raise UsageError(f"the key {key} is encrypted: give its password in EDGEDIGITS_TLS_KEY_PASSWORD (or "
                         f"--tls-key-password), or store it decrypted, readable by the server's user only: "
                         f"openssl pkey -in {key} -out key.pem && chmod 600 key.pem") from None
    except ssl.SSLError as exc:
        raise UsageError(_load_error(cert, key, exc, password, cert_bytes, key_bytes)) from None
    except OSError as exc:  # the file changed or vanished since it was read
        raise UsageError(f"cannot load the certificate {cert} and key {key}: {exc.strerror or exc}") from None

    try:
        not_before, not_after = certificate_dates(ssl.PEM_cert_to_DER_cert(first.group(0).decode("ascii")))
    except (ValueError, IndexError, UnicodeDecodeError):  # OpenSSL took it; dates we cannot read are not checked
        return context
    now = datetime.datetime.now(datetime.timezone.utc)
    if now > not_after:
        warnings.warn(f"the certificate {cert} expired on {not_after:%Y-%m-%d %H:%M} UTC: browsers and clients will "
                      f"refuse it; renew it or make a new one ({_MAKE})", ServeWarning, stacklevel=2)
    elif now < not_before:
        warnings.warn(f"the certificate {cert} is valid only from {not_before:%Y-%m-%d %H:%M} UTC and this machine's "
                      f"clock says {now:%Y-%m-%d %H:%M} UTC: set the clock (e.g. timedatectl set-ntp true) or check "
                      "the certificate; clients will refuse it until then", ServeWarning, stacklevel=2)
    return context


def certificate_dates(der: bytes) -> tuple[datetime.datetime, datetime.datetime]:
    """``notBefore`` and ``notAfter`` (UTC) of an X.509 certificate in DER (RFC 5280, 4.1.2.5).

    Raises:
      ValueError or IndexError: ``der`` is not a certificate.
    """
    _, certificate, _ = _tlv(der, 0)
    _, tbs, _ = _tlv(certificate, 0)
    tag, _, at = _tlv(tbs, 0)
    if tag != 0xA0:  # no [0] version: a v1 certificate starts with its serial number
        at = 0
    for _ in range(3):  # serialNumber, signature algorithm, issuer
        _, _, at = _tlv(tbs, at)
    tag, validity, _ = _tlv(tbs, at)
    if tag != 0x30:
        raise ValueError("no Validity sequence")
    tag_1, value_1, at = _tlv(validity, 0)
    tag_2, value_2, _ = _tlv(validity, at)
    return _time(tag_1, value_1), _time(tag_2, value_2)


def _tlv(data: bytes, at: int) -> tuple[int, bytes, int]:
    """One DER element at ``at``: its tag, its contents, where the next one starts."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("DER element past the end")
    return tag, data[at:at + length], at + length


def _time(tag: int, value: bytes) -> datetime.datetime:
    text = value.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: 50-99 are 19xx, 00-49 20xx (RFC 5280)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise ValueError("not a time")
    return datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def _read(path: Path, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"the {what} {path} does not exist: give the path of a PEM file ({_MAKE})") from None
    except PermissionError:
        raise UsageError(f"cannot read the {what} {path}: permission denied; make it readable by the user the "
                         "server runs as (a key: owned by that user, chmod 600)") from None
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror or exc}; give the path of a PEM file") from None
    if len(data) > _MAX_BYTES:
        raise UsageError(f"the {what} {path} is over 1 MB: not a PEM file; give the path of a PEM file ({_MAKE})")
    if not data.strip():
        raise UsageError(f"the {what} {path} is empty: give the path of a PEM file ({_MAKE})")
    return data


def _not_a_certificate(path: Path, data: bytes) -> str:
    if b"-----BEGIN CERTIFICATE-----" in data:
        return f"{path} is cut short (no -----END CERTIFICATE----- line): copy the certificate again, whole"
    if b"-----BEGIN CERTIFICATE REQUEST-----" in data or b"-----BEGIN NEW CERTIFICATE REQUEST-----" in data:
        return (f"{path} is a certificate signing request, not a certificate: give --tls-cert the certificate "
                "signed from it (or a self-signed one: runtime/README.md, \"Serving over HTTPS\")")
    if _KEY.search(data):
        return (f"{path} holds a private key and no certificate: --tls-cert takes the certificate, --tls-key the key "
                "(swapped?)")
    if data[:1] == b"\x30":
        return (f"{path} is not PEM (binary, DER?): convert it with openssl x509 -inform der -in {path} -out "
                "cert.pem, and give --tls-cert cert.pem")
    return f"{path} is not a PEM certificate (no -----BEGIN CERTIFICATE----- line): give --tls-cert a PEM file ({_MAKE})"


def _not_a_key(path: Path, data: bytes) -> str:
    if re.search(rb"-----BEGIN ((?:[A-Z]+ )*)PRIVATE KEY-----", data):
        return f"{path} is cut short (no -----END ... PRIVATE KEY----- line): copy the key again, whole"
    if _CERT.search(data):
        return (f"{path} holds a certificate and no private key: --tls-key takes the key, --tls-cert the certificate "
                "(swapped?)")
    if data[:1] == b"\x30":
        return (f"{path} is not PEM (binary, DER?): convert it with openssl pkey -inform der -in {path} -out key.pem, "
                "and give --tls-key key.pem")
    return f"{path} is not a PEM private key (no -----BEGIN ... PRIVATE KEY----- line): give --tls-key a PEM file"


def _load_error(cert: Path, key: Path, exc: ssl.SSLError, password: str | None, cert_bytes: bytes,
                key_bytes: bytes) -> str:
    reason = f"{exc.reason or ''} {exc}".upper()
    if any(word in reason for word in ("KEY_VALUES_MISMATCH", "KEY VALUES MISMATCH", "NO_CERTIFICATE_ASSIGNED")):
        return (f"the key {key} does not belong to the certificate {cert}: give --tls-key the key the certificate "
                "was made with (and the server's own certificate first in --tls-cert, any intermediates after it)")
    if password and b"ENCRYPTED" in key_bytes:  # "ENCRYPTED PRIVATE KEY" (PKCS#8) or "Proc-Type: 4,ENCRYPTED"
        return f"wrong password for the encrypted key {key}: check EDGEDIGITS_TLS_KEY_PASSWORD (or --tls-key-password)"
    try:  # which of the two OpenSSL could not read: the certificates alone
        ssl.create_default_context().load_verify_locations(cadata=cert_bytes.decode("ascii", "replace"))
    except (ssl.SSLError, ValueError):
        return f"the certificate {cert} is damaged (OpenSSL cannot read it): copy it again, whole ({_MAKE})"
    return (f"the key {key} is damaged or of a kind OpenSSL cannot read ({exc.reason or exc}): copy it again, whole, "
            f"or make a new pair ({_MAKE})")
