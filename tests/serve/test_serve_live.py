"""The server on a real loopback socket: uvicorn in a thread, `scratchcnn serve`, and benchmarks/serve_load.py."""
import http.client
import json
import socket
import subprocess
import sys

import pytest
from benchmark_scripts import ROOT, script_path
from serve_helpers import digit_network, stroke_png

from scratchcnn.cli import main
from scratchcnn.serve import ServerThread, create_app

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")


def _host_port(url):
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _read_until_closed(sock):
    """(status, JSON body) of the one response on sock; the server closes the connection after it."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def test_a_50_mb_upload_gets_413_before_it_is_sent_and_the_server_goes_on():
    with ServerThread(create_app(digit_network())) as url:
        host, port = _host_port(url)
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; "
                         b"boundary=b\r\nContent-Length: 52428800\r\n\r\n--b\r\n")  # 50 MB declared, 5 bytes sent
            status, body = _read_until_closed(sock)
        assert status == 413 and "limit" in body["error"]
        connection = http.client.HTTPConnection(host, port, timeout=10)
        boundary = "b"
        payload = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n\r\n'.encode()
                   + stroke_png() + f"\r\n--{boundary}--\r\n".encode())
        connection.request("POST", "/api/predict", body=payload,
                           headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["class"] in [str(i) for i in range(10)]


def test_serve_without_fastapi_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    digit_network().save_model(str(tmp_path / "digits.model"))
    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(SystemExit, match=r'pip install "scratchcnn\[serve\]"'):
        main(["serve", str(tmp_path / "digits.model")])


@pytest.mark.slow
def test_serve_load_benchmark_checks_every_answer():
    """Also runs `scratchcnn serve MODEL --port 0` in a subprocess, which prints its URL once it listens."""
    result = subprocess.run([sys.executable, script_path("serve_load"), "--requests", "24", "--concurrency", "8"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    first, second = result.stdout.splitlines()[:2]
    assert "requests/s" in first and "p50" in first and "p99" in first
    assert second == "failed: 0, class differs from network.predict: 0"
