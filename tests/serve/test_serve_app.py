"""The web app through FastAPI's TestClient: the page, the JSON API, and every kind of bad input."""
import asyncio
import base64
import builtins
import io
import json
import sys

import numpy as np
import pytest
from serve_helpers import digit_network, make_client, stroke_png

from scratchcnn import zoo
from scratchcnn.serve import create_app
from scratchcnn.serve.limits import BodyLimit
from scratchcnn.serve.preprocess import image_to_sample

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def served(digit_app):
    network, app = digit_app
    return network, make_client(app)


def _decode_data_url(url):
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_the_page_and_its_files_are_served_without_any_cdn(served):
    _, client = served
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<canvas id="canvas"' in page.text and "/static/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
    for text in (page.text, client.get("/static/app.js").text, client.get("/static/style.css").text):
        assert "http://" not in text and "https://" not in text


def test_openapi_is_served_and_the_cdn_docs_pages_are_off(served):
    _, client = served
    schema = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/activations", "/api/model"} <= set(schema["paths"])
    body = schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404


def test_model_description(served):
    network, client = served
    model = client.get("/api/model").json()
    assert model["input_shape"] == [1, 28, 28] and model["input_kind"] == "digit"
    assert model["class_names"] == [str(i) for i in range(10)]
    assert [layer["name"] for layer in model["layers"]] == [type(layer).__name__ for layer in network.layers]
    assert model["layers"][0]["output_shape"] == [32, 28, 28] and model["layers"][-1]["output_shape"] == [10]
    assert model["layers"][0]["config"]["padding"] == 1


def test_a_drawing_is_preprocessed_on_the_server_and_classified_as_predict_does(served):
    network, client = served
    png = stroke_png()
    answer = client.post("/api/predict", files={"file": ("digit.png", png, "image/png")})
    assert answer.status_code == 200
    answer = answer.json()
    expected = network.predict(image_to_sample(png, (1, 28, 28))[None])[0]
    assert answer["index"] == int(np.argmax(expected)) and answer["class"] == str(answer["index"])
    assert list(answer["probabilities"]) == [str(i) for i in range(10)]
    np.testing.assert_allclose(list(answer["probabilities"].values()), expected, rtol=1e-5, atol=1e-6)


def test_a_json_array_is_classified_as_predict_does(served, rng):
    network, client = served
    x = rng.random((1, 28, 28), dtype=np.float32)
    answer = client.post("/api/predict", json={"input": x.tolist()}).json()
    expected = network.predict(x[None])[0]
    assert answer["index"] == int(np.argmax(expected))
    np.testing.assert_allclose(list(answer["probabilities"].values()), expected, rtol=1e-5, atol=1e-6)


def test_activations_give_the_input_and_every_conv_and_pool_layers_maps(served):
    network, client = served
    data = client.post("/api/activations", files={"file": ("digit.png", stroke_png(), "image/png")}).json()
    x = np.array(data["input"]["values"], dtype=np.float32)
    assert x.shape == (1, 28, 28) and data["input"]["shape"] == [1, 28, 28]
    assert _decode_data_url(data["input"]["image"]).size == (28, 28)
    assert data["prediction"]["index"] == int(np.argmax(network.predict(x[None])[0]))
    assert [(layer["index"], layer["name"], layer["shape"]) for layer in data["layers"]] == [
        (0, "ConvLayer", [32, 28, 28]), (1, "PoolingLayer", [32, 14, 14]),
        (2, "ConvLayer", [64, 14, 14]), (3, "PoolingLayer", [64, 7, 7])]
    first = data["layers"][0]
    grid = _decode_data_url(first["image"])
    assert (first["rows"], first["columns"]) == (6, 6) and grid.size == (6 * 29 - 1, 6 * 29 - 1)


def test_a_sigmoid_photo_model_has_two_classes(rng):
    network = zoo.report_catsdogs_net().initialize(0)
    network.metadata = {"input_shape": [3, 50, 50], "class_names": ["cat", "dog"]}
    client = make_client(create_app(network))
    assert client.get("/api/model").json()["input_kind"] == "image"
    pixels = rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    answer = client.post("/api/predict", files={"file": ("photo.jpg", buffer.getvalue(), "image/jpeg")}).json()
    p = float(network.predict(image_to_sample(buffer.getvalue(), (3, 50, 50))[None])[0, 0])
    assert answer["probabilities"] == pytest.approx({"cat": 1 - p, "dog": p}, abs=1e-6)
    assert answer["class"] == ("dog" if p >= 0.5 else "cat")
    layers = client.post("/api/activations", files={"file": ("p.jpg", buffer.getvalue())}).json()["layers"]
    assert [layer["shape"] for layer in layers] == [[16, 21, 21], [16, 10, 10]]


def test_an_array_model_takes_json_and_refuses_images():
    network = zoo.xor_net().initialize(0)
    client = make_client(create_app(network, input_shape=(3,)))
    answer = client.post("/api/predict", json={"input": [1, 0, 1]}).json()
    assert answer["class"] in ("0", "1") and set(answer["probabilities"]) == {"0", "1"}
    assert client.post("/api/activations", json={"input": [1, 0, 1]}).json()["layers"] == []
    refused = client.post("/api/predict", files={"file": ("digit.png", stroke_png())})
    assert refused.status_code == 415 and "takes arrays" in refused.json()["error"]


def test_a_model_without_an_input_shape_is_refused_clearly():
    with pytest.raises(ValueError, match="does not record its input shape"):
        create_app(zoo.mnist_convnet())


def _multipart(field, filename, data, content_type="image/png"):
    boundary = "scratchcnnboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


def _truncated_png():
    pixels = np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()[:700]


JSON = {"content-type": "application/json"}
BAD_REQUESTS = {
    "not an image": lambda: _multipart("file", "x.png", b"GIF? no, plain text"),
    "truncated image": lambda: _multipart("file", "x.png", _truncated_png()),
    "empty file": lambda: _multipart("file", "x.png", b""),
    "file in another field": lambda: _multipart("picture", "x.png", stroke_png()),
    "broken multipart": lambda: (b"--nope\r\n\r\n", {"content-type": "multipart/form-data; boundary=xyz"}),
    "multipart without boundary": lambda: (b"abc", {"content-type": "multipart/form-data"}),
    "empty body": lambda: (b"", JSON),
    "empty body, no type": lambda: (b"", {}),
    "wrong content type": lambda: (b"input=1", {"content-type": "application/x-www-form-urlencoded"}),
    "raw png": lambda: (stroke_png(), {"content-type": "image/png"}),
    "malformed json": lambda: (b'{"input": [[[0.1, 0.2', JSON),
    "not utf-8": lambda: (b'{"input": "\xff\xfe"}', JSON),
    "deeply nested json": lambda: (b"[" * 100_000 + b"]" * 100_000, JSON),
    "json list": lambda: (b"[1, 2, 3]", JSON),
    "json without input": lambda: (b'{"data": []}', JSON),
    "wrong shape": lambda: (json.dumps({"input": np.zeros((28, 28)).tolist()}).encode(), JSON),
    "batch instead of a sample": lambda: (json.dumps({"input": np.zeros((2, 1, 28, 28)).tolist()}).encode(), JSON),
    "ragged": lambda: (json.dumps({"input": [[[0.0] * 28] * 27 + [[0.0] * 3]]}).encode(), JSON),
    "non-numeric": lambda: (json.dumps({"input": [[["a"] * 28] * 28]}).encode(), JSON),
    "nan": lambda: (b'{"input": [[' + b",".join([b"[" + b",".join([b"NaN"] * 28) + b"]"] * 28) + b"]]}", JSON),
    "infinity": lambda: (json.dumps({"input": [[[float("inf")] * 28] * 28]}).encode(), JSON),
    "huge number": lambda: (b'{"input": [[' + b",".join([b"[" + b",".join([b"1e999"] * 28) + b"]"] * 28) + b"]]}",
                            JSON),
    "a path": lambda: (json.dumps({"input": "/etc/passwd"}).encode(), JSON),
    "bad content-length": lambda: (b"{}", {**JSON, "content-length": "12abc"}),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
@pytest.mark.parametrize("route", ["/api/predict", "/api/activations"])
def test_bad_input_is_a_4xx_with_a_json_error(served, case, route):
    _, client = served
    body, headers = BAD_REQUESTS[case]()
    response = client.post(route, content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["error"], str) and response.json()["error"]


def test_a_50_mb_upload_is_refused_by_its_content_length(served):
    _, client = served
    body, headers = _multipart("file", "big.png", b"\0" * (50 * 2**20))
    response = client.post("/api/predict", content=body, headers=headers)
    assert response.status_code == 413 and "limit of 10485760 bytes" in response.json()["error"]


def test_a_chunked_upload_is_counted_and_refused_past_the_limit(served):
    _, client = served

    def chunks():
        for _ in range(50):
            yield b"\0" * 2**20

    response = client.post("/api/predict", content=chunks(), headers=JSON)
    assert response.status_code == 413 and "more than 10485760 bytes" in response.json()["error"]


@pytest.mark.parametrize("declared", [True, False])
def test_body_limit_stops_reading_at_the_limit(declared):
    """The app never reads on past the limit: with a Content-Length nothing at all, without one a chunk past it."""
    reads, app_called = [], []

    async def app(scope, receive, send):
        app_called.append(True)
        while (await receive()).get("more_body"):
            pass

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"\0" * 1000, "more_body": len(reads) < 100}

    sent = []

    async def send(message):
        sent.append(message)

    headers = [(b"content-length", b"100000")] if declared else []
    asyncio.run(BodyLimit(app, max_bytes=5000)({"type": "http", "headers": headers}, receive, send))
    assert sent[0]["status"] == 413 and json.loads(sent[1]["body"])["error"]
    assert len(reads) == (0 if declared else 6) and bool(app_called) is not declared


def test_no_path_a_client_sends_is_opened(served, monkeypatch):
    _, client = served
    opened = []
    real_open = builtins.open

    def watching_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", watching_open)
    client.post("/api/predict", files={"file": ("/etc/passwd", stroke_png(), "image/png")})
    client.post("/api/predict", json={"input": "/etc/hostname"})
    for path in ("/static/../../../etc/passwd", "/static/%2e%2e%2fapp.py", "/static/..%2f__init__.py"):
        assert client.get(path).status_code == 404
    assert not [path for path in opened if "passwd" in path or "hostname" in path or path.endswith(".py")]


def test_the_server_still_answers_after_every_bad_request(served):
    network, client = served
    for case in sorted(BAD_REQUESTS):
        body, headers = BAD_REQUESTS[case]()
        assert client.post("/api/predict", content=body, headers=headers).status_code < 500
    assert client.get("/api/model").status_code == 200
    answer = client.post("/api/predict", files={"file": ("digit.png", stroke_png(), "image/png")})
    assert answer.status_code == 200 and answer.json()["class"] in [str(i) for i in range(10)]


def test_unknown_routes_and_methods_are_json_errors(served):
    _, client = served
    assert client.get("/api/nothing").json() == {"error": "Not Found"}
    response = client.get("/api/predict")
    assert response.status_code == 405 and "error" in response.json()


def test_missing_fastapi_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(ImportError, match=r'pip install "scratchcnn\[serve\]"'):
        create_app(digit_network())
