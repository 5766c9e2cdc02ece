"""``unival serve``'s HTTP API under concurrent load: batched answers equal the Python API's, a bad
upload fails alone, and the Gradio client route gives the same caption."""

import base64
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from serve_fixtures import write_contrasting_images, write_toy_images

# with test_serve_*.py: one worker starts the session's toy server (e2e/conftest.py) for both files
pytestmark = pytest.mark.xdist_group("toy_server")


def post(url: str, body: dict):
    """``(status, JSON answer)`` of a POST."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.load(answer)


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def test_16_concurrent_captions_are_batched_and_equal_the_python_api(
    toy_server, toy_server_api, tmp_path
):
    images = write_contrasting_images(tmp_path)
    expected = {path: toy_server_api["caption"].caption(str(path), beam=2) for path in images}
    assert len(set(expected.values())) > 1  # distinct answers, so a mixed-up batch would show
    before = get(toy_server.url + "/api/stats")["caption"]
    jobs = [images[i % len(images)] for i in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(lambda path: post(toy_server.url + "/api/caption", {"image": b64(path)}), jobs)
        )
    assert [status for status, _ in answers] == [200] * 16, answers
    assert [answer["caption"] for _, answer in answers] == [expected[path] for path in jobs]
    assert max(answer["batch_size"] for _, answer in answers) > 1
    after = get(toy_server.url + "/api/stats")["caption"]
    assert after["requests"] - before["requests"] == 16 and after["largest_batch"] > 1
    assert answers[0][1]["settings"]["beam"] == 2 and answers[0][1]["latency_ms"] > 0


def test_a_bad_upload_fails_alone_inside_a_batch(toy_server, toy_server_api, tmp_path):
    images = write_toy_images(tmp_path, 3)
    broken = base64.b64encode(images[0].read_bytes()[:60]).decode("ascii")  # a cut-off PNG
    bodies = [{"image": b64(images[1])}, {"image": broken}, {"image": b64(images[2])}]
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda body: post(toy_server.url + "/api/caption", body), bodies))
    (ok1, first), (bad, error), (ok2, last) = answers
    assert (ok1, bad, ok2) == (200, 400, 200)
    assert (
        error["error"].startswith("caption: ")
        and "image" in error["error"]
        and "object at 0x" not in error["error"]
    )
    assert first["caption"] == toy_server_api["caption"].caption(str(images[1]), beam=2)
    assert last["caption"] == toy_server_api["caption"].caption(str(images[2]), beam=2)
    # the server keeps serving
    status, answer = post(toy_server.url + "/api/caption", {"image": b64(images[0])})
    assert status == 200 and answer["caption"] == toy_server_api["caption"].caption(
        str(images[0]), beam=2
    )


def test_malformed_requests_get_one_clear_line(toy_server, tmp_path):
    image = write_toy_images(tmp_path, 1)[0]
    status, answer = post(toy_server.url + "/api/caption", {"image": "not base64 at all!"})
    assert status == 400 and answer["error"] == "caption: 'image' is not valid base64"
    status, answer = post(toy_server.url + "/api/ground", {"image": b64(image)})
    assert status == 400 and answer["error"] == "ground: no expression was given: type one"
    status, answer = post(toy_server.url + "/api/caption", {"picture": b64(image)})
    assert status == 400 and "unknown field(s) ['picture']" in answer["error"]
    status, answer = post(
        toy_server.url + "/api/vqa", {"image": b64(image), "question": "is there a square?"}
    )
    assert status == 503 and "--model vqa=" in answer["error"]
    info = get(toy_server.url + "/api/info")["tasks"]
    assert info["vqa"]["model"] is None and info["caption"]["model"] == str(
        toy_server.checkpoints["caption"]
    )


def test_grounding_and_the_gradio_client_route(toy_server, toy_server_api, tmp_path):
    from gradio_client import Client, handle_file

    image = write_toy_images(tmp_path, 1)[0]
    status, answer = post(
        toy_server.url + "/api/ground", {"image": b64(image), "expression": "the blue square"}
    )
    expected = toy_server_api["refcoco"].ground(str(image), "the blue square", beam=2)
    assert status == 200 and answer["box"] == [round(c, 2) for c in expected]
    caption, details = Client(toy_server.url + "/", verbose=False).predict(
        handle_file(str(image)), api_name="/caption"
    )
    assert caption == toy_server_api["caption"].caption(str(image), beam=2)
    assert "beam=2" in details
