"""The HTTP API of `edgedigits-rt serve`, through a real server process and a real HTTP client (httpx).

Every endpoint, and every bad request: each gets the right status and a JSON error, and the server
keeps serving after it.
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import time

import numpy as np
import pytest
from conftest import TOKEN

PIL = pytest.importorskip("PIL")


def _png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def _json_error(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["status"] == status and isinstance(body["error"], str) and len(body["error"]) > 10, body
    return body["error"]


@pytest.fixture(scope="module")
def pngs(mnist_test):
    """20 MNIST test digits as PNG bytes, with their labels."""
    images, labels = mnist_test
    return [_png(images[i]) for i in range(20)], labels[:20]


# --------------------------------------------------------------------------- endpoints


def test_health(server, client):
    r = client.get(f"{server.url}/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["verified"] is True and body["backend"]
    assert body["limits"]["max_pixels"] == 50_000_000 and body["limits"]["max_pending"] >= 1


def test_model_describes_the_shipped_model(server, client, shipped):
    import hashlib

    model, _ = shipped
    body = client.get(f"{server.url}/v1/model").json()
    assert body["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert body["verified"] is True and body["path"] == model.name
    assert body["backend"] in ("litert", "tflite-runtime", "tensorflow-lite")
    assert body["manifest_contents"]["artifacts"][model.name]["sha256"] == body["sha256"]
    assert "/" not in body["path"]  # no server paths leak


def test_health_and_model_describe_the_number_reader(server, client):
    """/v1/read reads with a second model: /v1/health and /v1/model name it beside the classifier."""
    import hashlib

    from edgedigits_runtime.reader import DEFAULT_READER

    data = DEFAULT_READER.read_bytes()
    for page in ("health", "model"):
        reader = client.get(f"{server.url}/v1/{page}").json()["reader"]
        assert reader["model"] == DEFAULT_READER.name and reader["size"] == len(data)
        assert reader["sha256"] == hashlib.sha256(data).hexdigest() and reader["verified"] is True


def test_predict_raw_png_matches_offline_predict(server, client, pngs, tmp_path, clf):
    """Same fields and values as `edgedigits-rt predict --json --top-k 3` on the same files."""
    from edgedigits_runtime.predict import predict_files

    images, labels = pngs
    paths = []
    for i, data in enumerate(images):
        paths.append(tmp_path / f"d{i}.png")
        paths[-1].write_bytes(data)
    offline = [r.as_dict() for r in predict_files(paths, clf, top_k=3)]
    for data, expected in zip(images, offline):
        r = client.post(f"{server.url}/v1/predict", content=data, headers={"Content-Type": "image/png"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["path"] == "upload"
        assert set(body) == set(expected)
        assert {k: v for k, v in body.items() if k != "path"} == {k: v for k, v in expected.items() if k != "path"}
    assert sum(o["label"] == int(label) for o, label in zip(offline, labels)) >= 19


def test_predict_multipart_photo(server, client, mnist_test):
    from photos import make_photo

    images, labels = mnist_test
    photo = make_photo(images[0], np.random.default_rng(0))  # a JPEG of a 7 on paper
    r = client.post(f"{server.url}/v1/predict", files={"image": ("seven.jpg", photo, "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["path"] == "seven.jpg" and body["label"] == int(labels[0]) == 7
    assert len(body["top_k"]) == 3 and body["top_k"][0] == [body["label"], body["confidence"]]


def test_predict_octet_stream_and_top_k(server, client, pngs):
    images, labels = pngs
    r = client.post(f"{server.url}/v1/predict?top_k=10", content=images[1],
                    headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200 and len(r.json()["top_k"]) == 10
    assert sorted(label for label, _ in r.json()["top_k"]) == list(range(10))
    r = client.post(f"{server.url}/v1/predict?top_k=1", content=images[1], headers={"Content-Type": "image/png"})
    assert r.json()["top_k"] == [[int(labels[1]), r.json()["confidence"]]]
    for bad in ("0", "11", "three"):
        r = client.post(f"{server.url}/v1/predict?top_k={bad}", content=images[1], headers={"Content-Type": "image/png"})
        assert "top_k" in _json_error(r, 400)


def test_predict_threshold_says_not_a_digit(server, client, pngs):
    """?threshold= is the CLI's --threshold: above the top digit's probability, the answer is "not a digit"."""
    images, labels = pngs
    r = client.post(f"{server.url}/v1/predict?threshold=1", content=images[0], headers={"Content-Type": "image/png"})
    body = r.json()
    assert r.status_code == 200 and body["not_a_digit"] is True and body["label"] is None and body["threshold"] == 1.0
    assert body["top_k"][0][0] == int(labels[0])  # what it leaned to is still there
    r = client.post(f"{server.url}/v1/predict?threshold=0", content=images[0], headers={"Content-Type": "image/png"})
    assert r.json()["label"] == int(labels[0]) and r.json()["not_a_digit"] is False
    for bad in ("-0.1", "1.5", "nan", "x"):
        r = client.post(f"{server.url}/v1/predict?threshold={bad}", content=images[0], headers={"Content-Type": "image/png"})
        assert "threshold" in _json_error(r, 400)


def test_openapi_describes_every_route(server, client):
    from edgedigits_runtime.serve import create_app

    doc = client.get(f"{server.url}/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    routes = {(route.path, method.lower()) for route in create_app().routes
              if route.path.startswith("/v1/") for method in route.methods if method != "HEAD"}
    described = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert routes == described
    schema = doc["components"]["schemas"]["Prediction"]
    png = client.post(f"{server.url}/v1/predict", content=_png(np.zeros((28, 28), np.uint8) + np.eye(28, dtype=np.uint8) * 255),
                      headers={"Content-Type": "image/png"}).json()
    optional = {"share", "min_share"}  # sent only when the model's rule has a min_share
    assert set(schema["required"]) == set(schema["properties"]) - optional  # described = sent
    assert set(schema["required"]) <= set(png) <= set(schema["properties"]) and set(png) - set(schema["required"]) in (set(), optional)


def test_read_matches_offline_read(server, client, mnist_test, tmp_path, clf):
    """POST /v1/read: the fields and values of `edgedigits-rt read --json` on the same photos (raw and multipart)."""
    from photos import number_photos

    from edgedigits_runtime.read import read_files

    images, labels = mnist_test
    photos = number_photos(images[:2000], labels[:2000], 6, seed=7, spacing="apart")
    paths = []
    for i, (photo, _, _) in enumerate(photos):
        paths.append(tmp_path / f"n{i}.jpg")
        paths[-1].write_bytes(photo)
    offline = [r.as_dict() for r in read_files(paths, clf)]
    right = 0
    for (photo, number, _), path, expected in zip(photos, paths, offline):
        raw = client.post(f"{server.url}/v1/read", content=photo, headers={"Content-Type": "image/jpeg"})
        form = client.post(f"{server.url}/v1/read", files={"image": (path.name, photo, "image/jpeg")})
        assert raw.status_code == 200 and form.status_code == 200, (raw.text, form.text)
        assert raw.json() == {**expected, "path": "upload"} and form.json() == {**expected, "path": path.name}
        assert {d["label"] for d in raw.json()["digits"]} <= set(range(10)) | {None}
        right += raw.json()["number"] == number
    assert right >= 4, f"{right} of {len(photos)} numbers read right"


def test_read_a_letter_is_no_digits_found(server, client):
    """POST /v1/read of a photo of a letter: 200 with no number (as `edgedigits-rt read --json`: "no digits found")."""
    import numpy as np
    from photos import make_glyph_photo

    photo = make_glyph_photo("A", np.random.default_rng(1))
    r = client.post(f"{server.url}/v1/read", content=photo, headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 200, r.text
    assert r.json() == {"path": "upload", "number": "", "confidence": 0.0, "digits": [], "signs": []}


def test_read_parameters(server, client, mnist_test):
    from photos import make_number_photo

    images, labels = mnist_test
    photo, boxes = make_number_photo(images[[0, 1, 2]], np.random.default_rng(3), spacing="apart")
    number = "".join(str(int(d)) for d in labels[[0, 1, 2]])
    r = client.post(f"{server.url}/v1/read?digits=3", content=photo, headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 200 and len(r.json()["digits"]) == 3 and r.json()["number"] == number, r.text
    x, y, w, h = boxes[0]
    r = client.post(f"{server.url}/v1/read?roi={max(x - 10, 0)},{max(y - 10, 0)},{w + 20},{h + 20}", content=photo,
                    headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 200 and r.json()["number"] == number[0], r.text
    for query, word in (("digits=0", "digits"), ("digits=x", "digits"), ("roi=1,2,3", "roi"), ("roi=a,b,c,d", "roi"),
                        ("threshold=2", "threshold")):
        r = client.post(f"{server.url}/v1/read?{query}", content=photo, headers={"Content-Type": "image/jpeg"})
        assert word in _json_error(r, 400), query


def test_page_and_static_files(server, client):
    r = client.get(f"{server.url}/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'id="pad"' in r.text and 'capture="environment"' in r.text and 'id="token"' in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")  # nothing from elsewhere
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        r = client.get(f"{server.url}/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"], (name, r.headers)
    assert "http://" not in client.get(f"{server.url}/").text.replace('href="/', "")  # no CDN


# --------------------------------------------------------------------------- bad requests


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A 64-megapixel PNG of a few hundred KB: over the runtime's MAX_PIXELS (50 MP), under Pillow's own limit."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8000, 8000)).save(buf, "PNG", optimize=False)
    assert len(buf.getvalue()) < 1_000_000
    return buf.getvalue()


BAD_REQUESTS = {
    # name: (method, path, kwargs maker, status, words the error must contain)
    "not an image": ("POST", "/v1/predict", lambda d: {"content": b"hello, not a png", "headers": {"Content-Type": "image/png"}},
                     422, "not an image"),
    "empty body": ("POST", "/v1/predict", lambda d: {"content": b"", "headers": {"Content-Type": "image/png"}}, 400, "empty"),
    "truncated png": ("POST", "/v1/predict", lambda d: {"content": d["png"][: len(d["png"]) * 2 // 3],
                                                        "headers": {"Content-Type": "image/png"}}, 422, "truncated"),
    "bomb": ("POST", "/v1/predict", lambda d: {"content": d["bomb"], "headers": {"Content-Type": "image/png"}},
             422, "limit"),
    "wrong content type": ("POST", "/v1/predict", lambda d: {"content": d["png"], "headers": {"Content-Type": "application/json"}},
                           415, "not an image"),
    "form-urlencoded (curl -d)": ("POST", "/v1/predict", lambda d: {"content": d["png"], "headers": {
        "Content-Type": "application/x-www-form-urlencoded"}}, 415, "Content-Type"),
    "no content type": ("POST", "/v1/predict", lambda d: {"content": d["png"]}, 415, "Content-Type"),
    "PostScript (EPS: Pillow would run Ghostscript)": ("POST", "/v1/predict", lambda d: {"content": d["eps"], "headers": {
        "Content-Type": "image/png"}}, 422, "Ghostscript"),
    "gzip-encoded body": ("POST", "/v1/predict", lambda d: {"content": gzip.compress(d["png"]), "headers": {
        "Content-Type": "image/png", "Content-Encoding": "gzip"}}, 415, "Content-Encoding gzip"),
    "broken multipart": ("POST", "/v1/predict", lambda d: {"content": b"--xyz\r\nContent-Disposition: form-data; name=\"image\"; "
                                                           b"filename=\"a.png\"\r\n\r\n" + d["png"],
                                                           "headers": {"Content-Type": "multipart/form-data; boundary=xyz"}},
                         400, "multipart"),
    "multipart without boundary": ("POST", "/v1/predict", lambda d: {"content": d["png"],
                                                                     "headers": {"Content-Type": "multipart/form-data"}},
                                   400, "multipart"),
    "multipart without a file": ("POST", "/v1/predict", lambda d: {"data": {"image": "not a file"},
                                                                   "files": {"other": ("", b"", "text/plain")}}, 400, "file"),
    "multipart, empty file": ("POST", "/v1/predict", lambda d: {"files": {"image": ("a.png", b"", "image/png")}}, 400, "empty"),
    "multipart, not an image": ("POST", "/v1/predict", lambda d: {"files": {"image": ("a.png", b"GIF89a junk", "image/png")}},
                                422, "a.png"),
    "huge body": ("POST", "/v1/predict", lambda d: {"content": b"\x89PNG" + bytes(10_100_000), "headers": {"Content-Type": "image/png"}},
                  413, "limit"),
    "huge chunked body (no Content-Length)": ("POST", "/v1/predict", lambda d: {
        "content": (bytes(1_000_000) for _ in range(11)), "headers": {"Content-Type": "image/png"}}, 413, "limit"),
    "huge multipart": ("POST", "/v1/predict", lambda d: {"files": {"image": ("big.png", bytes(10_100_000), "image/png")}},
                       413, "limit"),
    "unknown route": ("GET", "/v1/nothing", lambda d: {}, 404, "/v1/nothing"),
    "unknown page": ("GET", "/admin.php", lambda d: {}, 404, "no such page"),
    "wrong method": ("GET", "/v1/predict", lambda d: {}, 405, "GET"),
    "wrong method on health": ("DELETE", "/v1/health", lambda d: {}, 405, "DELETE"),
    "blank image (no ink)": ("POST", "/v1/predict", lambda d: {"content": d["blank"], "headers": {"Content-Type": "image/png"}},
                             422, "no ink"),
    "read: not an image": ("POST", "/v1/read", lambda d: {"content": b"nope", "headers": {"Content-Type": "image/jpeg"}},
                           422, "not an image"),
    "read: wrong content type": ("POST", "/v1/read", lambda d: {"content": b"x", "headers": {"Content-Type": "text/plain"}},
                                 415, "not an image"),
    "read: blank photo": ("POST", "/v1/read", lambda d: {"content": d["blank"], "headers": {"Content-Type": "image/png"}},
                          422, "no digits found"),
    "read: bomb": ("POST", "/v1/read", lambda d: {"content": d["bomb"], "headers": {"Content-Type": "image/png"}},
                   422, "limit"),
    "read: empty multipart file": ("POST", "/v1/read", lambda d: {"files": {"image": ("a.jpg", b"", "image/jpeg")}},
                                   400, "empty"),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_request_gets_json_error_and_server_keeps_serving(name, server, client, pngs, bomb):
    from PIL import Image

    method, path, make, status, words = BAD_REQUESTS[name]
    buf = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buf, "PNG")
    eps = io.BytesIO()
    Image.new("L", (64, 64), 255).save(eps, "EPS")
    data = {"png": pngs[0][0], "bomb": bomb, "blank": buf.getvalue(), "eps": eps.getvalue()}
    import httpx

    try:
        r = client.request(method, f"{server.url}{path}", **make(data))
    except httpx.TransportError as exc:  # pragma: no cover - would mean the server cut the upload without an answer
        pytest.fail(f"{name}: no HTTP answer ({exc!r})")
    message = _json_error(r, status)
    assert words.lower() in message.lower(), message
    assert server.alive()
    ok = client.post(f"{server.url}/v1/predict", content=pngs[0][0], headers={"Content-Type": "image/png"})
    assert ok.status_code == 200 and ok.json()["label"] == int(pngs[1][0])


# --------------------------------------------------------------------------- the token


@pytest.mark.parametrize("path,method", [("/v1/predict", "POST"), ("/v1/read", "POST"), ("/v1/health", "GET"),
                                         ("/v1/model", "GET"), ("/v1/openapi.json", "GET")])
def test_token_required_on_every_api_call(token_server, client, pngs, path, method):
    kwargs = {"content": pngs[0][0], "headers": {"Content-Type": "image/png"}} if method == "POST" else {}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):
        r = client.request(method, f"{token_server.url}{path}", **{**kwargs, "headers": {**kwargs.get("headers", {}), **headers}})
        assert "token" in _json_error(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.request(method, f"{token_server.url}{path}",
                       **{**kwargs, "headers": {**kwargs.get("headers", {}), "Authorization": f"Bearer {TOKEN}"}})
    assert r.status_code == 200, r.text


def test_token_server_still_serves_the_page(token_server, client):
    """The page itself is public (it has a field for the token); only the API needs the token."""
    assert client.get(f"{token_server.url}/").status_code == 200
    assert client.get(f"{token_server.url}/static/app.js").status_code == 200


def test_huge_body_without_token_is_refused_before_it_is_read(token_server, client):
    r = client.post(f"{token_server.url}/v1/predict", content=bytes(20_000_000), headers={"Content-Type": "image/png"})
    _json_error(r, 401)


# --------------------------------------------------------------------------- limits under load


def _slow_body(total: int, seconds: float, head: bytes = b""):
    """A request body (sync generator) that trickles ``total`` bytes over ``seconds``."""
    chunks = 10
    yield head
    for _ in range(chunks):
        time.sleep(seconds / chunks)
        yield bytes(max(0, (total - len(head)) // chunks))


def test_busy_server_answers_503_with_retry_after(start_server, pngs):
    """--max-pending 2: two slow uploads in progress, the third request is refused at once, nothing queues."""
    import concurrent.futures

    import httpx

    s = start_server("--max-pending", "2", "--timeout", "30")
    png = pngs[0][0]

    def slow(i):
        with httpx.Client(timeout=30) as c:
            return c.post(f"{s.url}/v1/predict", content=_slow_body(len(png), 3.0, png[: len(png)]),
                          headers={"Content-Type": "image/png"})

    with concurrent.futures.ThreadPoolExecutor(2) as pool, httpx.Client(timeout=30) as c:
        futures = [pool.submit(slow, i) for i in range(2)]
        deadline = time.monotonic() + 10
        while c.get(f"{s.url}/v1/health").json()["in_progress"] < 2:
            assert time.monotonic() < deadline, "the slow uploads never started"
            time.sleep(0.05)
        start = time.monotonic()
        r = c.post(f"{s.url}/v1/predict", content=png, headers={"Content-Type": "image/png"})
        assert time.monotonic() - start < 2.0  # refused at once, not queued
        assert "busy" in _json_error(r, 503)
        assert int(r.headers["retry-after"]) >= 1
        assert c.get(f"{s.url}/v1/health").status_code == 200  # health is not an image request: never refused
        answers = [f.result() for f in futures]
        # The slow bodies end with zeros after the PNG: Pillow reads the PNG and ignores the trailing bytes.
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        r = c.post(f"{s.url}/v1/predict", content=png, headers={"Content-Type": "image/png"})
        assert r.status_code == 200 and c.get(f"{s.url}/v1/health").json()["refused_busy"] == 1


def test_slow_upload_hits_the_time_limit(start_server, pngs):
    import httpx

    s = start_server("--timeout", "1")
    with httpx.Client(timeout=30) as c:
        start = time.monotonic()
        r = c.post(f"{s.url}/v1/predict", content=_slow_body(4000, 4.0), headers={"Content-Type": "image/png"})
        assert "did not arrive within 1 s" in _json_error(r, 408)
        assert time.monotonic() - start < 4.0
    with httpx.Client(timeout=30) as c:
        assert c.post(f"{s.url}/v1/predict", content=pngs[0][0], headers={"Content-Type": "image/png"}).status_code == 200
        assert c.get(f"{s.url}/v1/health").json()["in_progress"] == 0


def test_client_disconnecting_mid_upload(server, client, pngs):
    """Clients that promise a body and vanish (or reset) leave no request in progress behind."""
    for n in range(5):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                         b"Content-Length: 100000\r\n\r\n" + pngs[0][0][:100])
            if n % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    deadline = time.monotonic() + 10
    while client.get(f"{server.url}/v1/health").json()["in_progress"]:
        assert time.monotonic() < deadline, "requests of vanished clients are still in progress"
        time.sleep(0.05)
    r = client.post(f"{server.url}/v1/predict", content=pngs[0][0], headers={"Content-Type": "image/png"})
    assert r.status_code == 200


def test_sigterm_lets_a_request_in_progress_finish(start_server, pngs):
    import concurrent.futures

    import httpx

    s = start_server()
    png = pngs[0][0]
    with concurrent.futures.ThreadPoolExecutor(1) as pool, httpx.Client(timeout=30) as c:
        future = pool.submit(lambda: c.post(f"{s.url}/v1/predict", content=_slow_body(len(png), 2.0, png),
                                            headers={"Content-Type": "image/png"}))
        deadline = time.monotonic() + 10
        with httpx.Client(timeout=5) as probe:
            while probe.get(f"{s.url}/v1/health").json()["in_progress"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        code = s.stop()
        r = future.result()
    assert r.status_code == 200 and r.json()["label"] == int(pngs[1][0])
    assert code == 0 and s.stdout.strip().endswith("stopped"), (code, s.stdout, s.stderr)


# --------------------------------------------------------------------------- start-up


def test_refuses_an_unverified_model(start_server, tiny_float_tflite, tmp_path):
    """A lone model file with no integrity record and no manifest: refused (strict) unless --allow-unverified."""
    import subprocess
    import sys

    import httpx

    lone = tmp_path / "lone.tflite"
    lone.write_bytes(tiny_float_tflite.read_bytes())
    out = subprocess.run([sys.executable, "-m", "edgedigits_runtime.cli", "serve", "--port", "0", "--model", str(lone)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1
    assert out.stderr.startswith("error: ") and "--allow-unverified" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    s = start_server("--model", str(lone), "--allow-unverified")
    assert httpx.get(f"{s.url}/v1/model").json()["verified"] is False
    assert "serving lone.tflite" in s.stdout and "UNVERIFIED" in s.stdout


def test_serves_a_model_of_your_own_in_its_own_scaling(start_server, mnist_dir, mnist_test, tmp_path):
    """An NCHW ONNX model of batch 1 trained on PyTorch's scaling (own_models.knn_onnx): without --normalize the server
    does not start (one line naming the scaling); with it, it answers as the model does."""
    import subprocess
    import sys

    import httpx

    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from own_models import knn_onnx, knn_reference

    from edgedigits_runtime.mnist import load_mnist

    train = load_mnist("train", mnist_dir)
    model = tmp_path / "mnist_cnn.onnx"
    model.write_bytes(knn_onnx(train, "mnist"))
    out = subprocess.run([sys.executable, "-m", "edgedigits_runtime.cli", "serve", "--port", "0", "--model", str(model),
                          "--allow-unverified"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "--normalize mnist" in errors[0], out.stderr
    s = start_server("--model", str(model), "--allow-unverified", "--normalize", "mnist")
    body = httpx.get(f"{s.url}/v1/model").json()
    assert body["normalize"]["name"] == "mnist" and body["batch"] == 1 and body["verified"] is False
    images = mnist_test[0][:6]
    expected = knn_reference(train, "mnist", images)
    for image, label in zip(images, expected):
        answer = httpx.post(f"{s.url}/v1/predict", content=_png(image), headers={"Content-Type": "image/png"}).json()
        assert answer["label"] == label, answer


def test_serves_a_model_that_its_manifest_verifies(start_server, model_copy):
    import httpx

    s = start_server("--model", str(model_copy))
    body = httpx.get(f"{s.url}/v1/model").json()
    assert body["verified"] is True and body["path"] == model_copy.name


def test_port_in_use_is_one_error_line(server):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "edgedigits_runtime.cli", "serve", "--port", str(server.port)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1 and out.stderr.startswith("error: cannot listen on") and "--port" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_network_address_without_token_warns(start_server):
    s = start_server("--host", "0.0.0.0")
    import httpx

    assert httpx.get(f"http://127.0.0.1:{s.port}/v1/health").status_code == 200
    s.stop()
    assert "warning: listening on 0.0.0.0 without a token" in s.stderr, s.stderr


def test_loopback_with_token_does_not_warn(token_server):
    assert "warning" not in token_server.stderr


def test_is_loopback():
    from edgedigits_runtime.serve.server import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20") and not is_loopback("::")


def test_error_bodies_are_json_everywhere(server, client):
    """Every answer of the API, good or bad, parses as JSON."""
    for path in ("/v1/health", "/v1/model", "/v1/openapi.json", "/v1/x", "/v1/predict"):
        json.loads(client.get(f"{server.url}{path}").text)
