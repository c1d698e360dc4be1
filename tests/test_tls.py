"""TLS: chat's HTTP clients share one set-up per process and trust store, and it follows the environment.

Each HTTP client a library makes loads its certificate authorities anew (some 16 ms); chat hands every client it
makes one context per process and per SSL_CERT_FILE / SSL_CERT_DIR (chatcli.providers.tls). What must hold: an
endpoint whose certificate the named authority signed is reached, the same endpoint is refused in one line once the
variable no longer names it (nothing trusted from an earlier run of the same process, as the warm worker and
``chat serve`` are), and reached again when it does. The server is the fake OpenAI-compatible one behind TLS, with
a certificate for 127.0.0.1 from an authority made for the test.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import Iterator

import pytest

from tests.fakeserver import FakeOpenAIServer, Reply
from tests.helpers import assert_one_error_line, chat
from tests.providers import ROWS, Row


def _authority_and_server(where: Path) -> tuple[Path, Path, Path]:
    """An authority's certificate, and a server certificate for 127.0.0.1 it signed with its key: their files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chatcli test authority")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = where / "authority.pem", where / "server.pem", where / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture(params=ROWS, ids=str)
def https_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Row, FakeOpenAIServer, Path]]:
    """A provider's fake server behind TLS, and the file of the authority that signed its certificate."""
    row: Row = request.param
    if row.module:
        pytest.importorskip(row.module)
    authority, certificate, key = _authority_and_server(tmp_path)
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(certificate, key)
    fake = getattr(row.fake_module(), row.fake.partition(":")[2])()
    fake._httpd.socket = served.wrap_socket(fake._httpd.socket, server_side=True)
    fake.start()
    try:
        yield row, fake, authority
    finally:
        fake.stop()


def test_an_endpoint_is_trusted_as_the_environment_names_its_authority_run_after_run(
    https_server, chat_env, monkeypatch
):
    row, server, authority = https_server
    env = {**chat_env, "CHATCLI_MODEL": row.model}
    env.update({name: value.replace("http://", "https://") for name, value in row.env(server).items()})
    for round_ in range(2):  # the second round: the same process, its contexts made already
        monkeypatch.setenv("SSL_CERT_FILE", str(authority))
        server.queue(Reply(f"answered over TLS {round_}"))
        run = chat({**env, "SSL_CERT_FILE": str(authority)}, f"question {round_}")
        assert run.code == 0 and f"answered over TLS {round_}" in run.out, run

        monkeypatch.delenv("SSL_CERT_FILE")
        asked = len(server.requests)
        line = assert_one_error_line(chat({k: v for k, v in env.items() if k != "SSL_CERT_FILE"}, "not trusted"), 4)
        assert "certificate is not trusted" in line and "SSL_CERT_FILE" in line, line
        assert len(server.requests) == asked  # nothing was sent to an endpoint the run does not trust


def test_an_authority_taken_out_of_its_file_is_no_longer_trusted_and_secrets_are_logged_only_where_asked(
    https_server, chat_env, monkeypatch, tmp_path
):
    """The TLS set-up kept for the process follows what it was made from: the file of authorities rewritten (an
    authority removed, as update-ca-certificates does) is loaded again, and TLS secrets go to SSLKEYLOGFILE only in a
    run that names it."""
    row, server, authority = https_server
    env = {**chat_env, "CHATCLI_MODEL": row.model}
    env.update({name: value.replace("http://", "https://") for name, value in row.env(server).items()})
    bundle, keylog = tmp_path / "bundle.pem", tmp_path / "keys.log"
    bundle.write_bytes(authority.read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    server.queue(Reply("trusted, secrets logged"))
    assert chat(env, "first").code == 0
    logged = keylog.stat().st_size
    assert logged > 0  # the run that named it logs there

    monkeypatch.delenv("SSLKEYLOGFILE")
    server.queue(Reply("trusted, nothing logged"))
    assert chat(env, "second").code == 0
    assert keylog.stat().st_size == logged  # a run that does not name it logs nothing

    other = tmp_path / "other"
    other.mkdir()
    bundle.write_bytes(_authority_and_server(other)[0].read_bytes())  # the authority replaced by another
    line = assert_one_error_line(chat(env, "third"), 4)
    assert "certificate is not trusted" in line, line
