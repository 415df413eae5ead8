"""Load on `scratchcnn serve` over loopback: concurrent predict requests, each answer checked against predict.

The server runs as `python -m scratchcnn serve MODEL --port 0` in a subprocess (a free port on 127.0.0.1),
serving a seeded mnist_convnet unless --model names a file. Half the requests upload a drawing (a
280x280 PNG of random strokes, as the page sends), half send the 1x28x28 array as JSON. After --warmup
requests sent one by one, all of them start together, from --concurrency threads (http.client, one
connection per request). Every answer's class must equal network.predict on the same input (the
drawing preprocessed as the server does).
Printed: requests/s over the whole run, p50 and p99 latency. It stops by itself: no request starts
after --deadline seconds, each times out after --timeout seconds, and the server is stopped at the
end whatever happened.

    python benchmarks/serve_load.py --requests 200 --concurrency 200
"""
import argparse
import http.client
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_model(path, seed):
    from scratchcnn import zoo

    network = zoo.mnist_convnet().initialize(seed)
    network.metadata = {"input_shape": [1, 28, 28], "class_names": [str(i) for i in range(10)]}
    network.save_model(path)


def drawing(rng):
    """A 280x280 white-on-black PNG of two to four random strokes."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (280, 280), 0)
    points = [tuple(int(v) for v in rng.integers(30, 250, 2)) for _ in range(rng.integers(3, 6))]
    ImageDraw.Draw(image).line(points, fill=255, width=20, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_requests(count, input_shape, seed):
    """[(body, headers, sample)]: the request and the sample the server will classify."""
    from scratchcnn.serve.preprocess import image_to_sample

    rng = np.random.default_rng(seed)
    requests = []
    for i in range(count):
        if i % 2 and tuple(input_shape) == (1, 28, 28):
            png, boundary = drawing(rng), uuid.uuid4().hex
            body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="digit.png"\r\n'
                    "Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{boundary}--\r\n".encode()
            requests.append((body, {"Content-Type": f"multipart/form-data; boundary={boundary}"},
                             image_to_sample(png, input_shape)))
        else:
            x = rng.random(input_shape, dtype=np.float32)
            requests.append((json.dumps({"input": x.tolist()}).encode(), {"Content-Type": "application/json"}, x))
    return requests


def start_server(model_path, timeout):
    """The server subprocess and its URL, read from the line it prints once it listens."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen([sys.executable, "-m", "scratchcnn", "serve", model_path, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    found = {}

    def read_url():
        for line in process.stdout:
            if " at http://" in line:
                found["url"] = line.split(" at ")[1].split()[0].rstrip("/")
                break

    reader = threading.Thread(target=read_url, daemon=True)
    reader.start()
    reader.join(timeout)
    if "url" not in found:
        process.kill()
        raise RuntimeError(f"The server did not start within {timeout} s.")
    return process, found["url"]


def post(host, port, body, headers, timeout):
    """(seconds, status, decoded JSON or None) of one POST /api/predict on a fresh connection."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", "/api/predict", body=body, headers=headers)
        response = connection.getresponse()
        status, payload = response.status, response.read()
    except OSError as error:
        return time.perf_counter() - started, f"{type(error).__name__}: {error}", None
    finally:
        connection.close()
    return time.perf_counter() - started, status, json.loads(payload) if status == 200 else None


def run_load(url, requests, concurrency, timeout, deadline=300):
    """Send every request, `concurrency` at a time, all threads starting together; (wall seconds, results).
    No request starts after `deadline` seconds; one not sent by then has the result None."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    results = [None] * len(requests)
    next_index = iter(range(len(requests)))
    lock, start = threading.Lock(), threading.Barrier(concurrency + 1)

    def worker():
        start.wait()
        while time.perf_counter() < began + deadline:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            body, headers, _ = requests[i]
            results[i] = post(host, int(port), body, headers, timeout)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()  # set before the barrier opens, so before any worker reads it
    start.wait()
    for thread in threads:  # a request started before the deadline ends within its socket timeout
        thread.join(max(0.0, began + deadline + timeout - time.perf_counter()))
    return time.perf_counter() - began, results


def check(results, requests, network):
    """The number of failed requests and of answers whose class differs from network.predict's."""
    expected = np.argmax(network.predict(np.stack([sample for _, _, sample in requests])), axis=1)
    failed = sum(1 for result in results if result is None or result[1] != 200)
    wrong = sum(1 for result, index in zip(results, expected)
                if result is not None and result[1] == 200 and result[2]["index"] != int(index))
    return failed, wrong


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="how many predict requests (default 200)")
    parser.add_argument("--concurrency", type=int, default=None, help="client threads (default: one per request)")
    parser.add_argument("--model", default=None, help="a .model file of a 1x28x28 digit model (default: a seeded "
                                                      "mnist_convnet)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model's weights and the inputs")
    parser.add_argument("--warmup", type=int, default=4, help="requests sent one by one before the timing "
                                                             "(default 4)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before one request gives up (default 60)")
    parser.add_argument("--deadline", type=float, default=300, help="seconds after which no request starts "
                                                                   "(default 300)")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    from scratchcnn import load_model

    with tempfile.TemporaryDirectory() as folder:
        model_path = args.model or os.path.join(folder, "digits.model")
        if args.model is None:
            make_model(model_path, args.seed)
        network = load_model(model_path)
        requests = make_requests(args.requests, network.metadata["input_shape"], args.seed)
        process, url = start_server(model_path, args.timeout)
        try:
            concurrency = min(args.concurrency or args.requests, args.requests)
            run_load(url, requests[:args.warmup], 1, args.timeout)  # first calls allocate the layers' buffers
            seconds, results = run_load(url, requests, concurrency, args.timeout, args.deadline)
        finally:
            process.terminate()
            process.wait(10)
    failed, wrong = check(results, requests, network)
    latencies = np.array([result[0] for result in results if result is not None]) * 1000
    answered = sum(1 for result in results if result is not None and result[1] == 200)
    print(f"{args.requests} requests, {concurrency} at a time, to {url}: {answered / seconds:.1f} requests/s, "
          f"latency p50 {np.percentile(latencies, 50):.1f} ms, p99 {np.percentile(latencies, 99):.1f} ms")
    print(f"failed: {failed}, class differs from network.predict: {wrong}")
    return 0 if failed == 0 and wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
