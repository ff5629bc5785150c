"""The Python client and worker against a core that speaks TLS (and one that requires mTLS), with
certificates made by the openssl CLI at run time."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import grpc
import pytest

import herald
from server_proc import HeraldProcess

TOKEN = "herald-dev-service-token"


def make_pki(d: Path) -> None:
    """ca.pem, server.pem/key for localhost and 127.0.0.1, client.pem/key, all signed by the CA."""

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=herald test CA")
    (d / "server.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    (d / "client.cnf").write_text("extendedKeyUsage=clientAuth\n")
    for name, cn in (("server", "localhost"), ("client", "backend")):
        ssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.cnf")


def start(herald_bin: Path, d: Path, mtls: bool) -> HeraldProcess:
    client_ca = f'tls_client_ca_file = "{d / "ca.pem"}"\n' if mtls else ""
    config = d / "herald.toml"
    config.write_text(
        "[core]\n"
        f'service_tokens = ["{TOKEN}"]\n'
        f'tls_cert_file = "{d / "server.pem"}"\n'
        f'tls_key_file = "{d / "server.key"}"\n'
        f"{client_ca}"
        "[store]\n"
        f'url = "sqlite://{d / "herald.db"}"\n'
    )
    proc = HeraldProcess(herald_bin, config, d)
    proc.start()
    return proc


def test_client_and_worker_over_tls_and_plaintext_refused(herald_bin: Path, tmp_path: Path) -> None:
    make_pki(tmp_path)
    server = start(herald_bin, tmp_path, mtls=False)
    try:
        tls = herald.TLS(ca_file=str(tmp_path / "ca.pem"))
        url = f"localhost:{server.core_addr.rsplit(':', 1)[1]}"
        with herald.Client(url, token=TOKEN, tls=tls, timeout=10) as client:
            task = client.submit("scrape", {"k": 1})
            worker = herald.Worker(queues=["scrape"], url=url, token=TOKEN, tls=tls)
            import threading

            t = threading.Thread(target=worker.run, args=(lambda task: {"ok": task.payload["k"]},), daemon=True)
            t.start()
            deadline = time.monotonic() + 60
            while not (info := client.get(task.id)).done:
                assert time.monotonic() < deadline, info
                time.sleep(0.05)
            assert info.result == {"ok": 1}
            worker.stop()
            t.join(timeout=60)
        with herald.Client(url, token=TOKEN, timeout=10) as plain:
            with pytest.raises(herald.RpcError) as e:
                plain.get(task.id)
            assert e.value.code == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


def test_mtls_needs_the_client_certificate(herald_bin: Path, tmp_path: Path) -> None:
    make_pki(tmp_path)
    server = start(herald_bin, tmp_path, mtls=True)
    try:
        url = f"localhost:{server.core_addr.rsplit(':', 1)[1]}"
        anonymous = herald.TLS(ca_file=str(tmp_path / "ca.pem"))
        with herald.Client(url, token=TOKEN, tls=anonymous, timeout=10) as client:
            with pytest.raises(herald.RpcError) as e:
                client.submit("scrape", {})
            assert e.value.code == grpc.StatusCode.UNAVAILABLE
        mutual = herald.TLS(
            ca_file=str(tmp_path / "ca.pem"),
            cert_file=str(tmp_path / "client.pem"),
            key_file=str(tmp_path / "client.key"),
        )
        with herald.Client(url, token=TOKEN, tls=mutual, timeout=10) as client:
            assert client.submit("scrape", {}).queue == "scrape"
    finally:
        server.stop()
