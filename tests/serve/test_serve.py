"""``seqkit serve`` in a subprocess on 127.0.0.1: predictions over HTTP equal ``seqkit predict``'s, concurrent
requests are batched, bad bodies get JSON errors, limits hold, and SIGTERM shuts down gracefully."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.recipe_helpers import cli, train_tiny

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

TEXTS = ["not bad", "good but boring", "truly moving story", "the"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("serve")) / "best.ckpt"


@pytest.fixture(scope="module")
def server(checkpoint):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "seqkit.cli", "serve", str(checkpoint), "--port", "0", "--max-body-bytes", "4096"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()  # printed once the socket listens
    assert "http://127.0.0.1:" in line, process.stderr.read()
    url = line.split(" on ")[1].split()[0]
    yield process, url
    if process.poll() is None:
        process.kill()
        process.wait(10)


def _call(url, path, body=None, timeout=30):
    request = urllib.request.Request(url + path, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_concurrent_requests_get_what_predict_gives(server, checkpoint, capsys):
    _, url = server
    code, out, err = cli(capsys, "predict", checkpoint, "--json", *TEXTS)
    assert code == 0, err
    expected = [json.loads(line) for line in out.splitlines()]
    bodies = [json.dumps({"texts": [t]}).encode() for t in TEXTS * 6]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda b: _call(url, "/predict", b), bodies))
    assert all(status == 200 for status, _ in answers)
    assert [a["results"][0] for _, a in answers] == expected * 6
    status, health = _call(url, "/health")
    assert status == 200 and health["status"] == "ok" and health["task"] == "sentiment"
    assert health["requests"] >= 24 and 1 <= health["batches"] <= health["requests"]


def test_bad_requests_get_one_line_json_errors(server):
    _, url = server
    assert _call(url, "/predict", b'{"texts": [')[0] == 400
    status, answer = _call(url, "/predict", b'{"texts": "one string"}')
    assert status == 400 and "list of strings" in answer["error"]
    status, answer = _call(url, "/predict", b'{"texts": ["a"], "beam_size": 2}')
    assert status == 400 and "unknown field 'beam_size'" in answer["error"]  # sentiment generates no text
    status, answer = _call(url, "/predict", b'{"texts": ["  "]}')
    assert status == 400 and answer["error"].startswith("nothing to predict")
    status, answer = _call(url, "/predict", json.dumps({"texts": ["x" * 5000]}).encode())
    assert status == 413 and "4096" in answer["error"]
    status, answer = _call(url, "/predict", b"[" * 3000)  # within the body limit, deeper than json can parse
    assert status == 400 and "not JSON" in answer["error"]
    status, answer = _call(url, "/predict", b'{"texts": ["good \\ud800 film"]}')  # a lone surrogate, echoed back
    assert status == 200 and len(answer["results"]) == 1
    assert _call(url, "/health")[0] == 200  # still serving


def test_sigterm_stops_gracefully_with_status_0(server):
    process, url = server
    assert _call(url, "/health")[0] == 200
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "stopped (SIGTERM)" in out


def test_the_batcher_bounds_batch_size_and_keeps_each_requests_results():
    from seqkit.serve.batcher import Batcher

    seen = []

    def predict(texts, options):
        seen.append(len(texts))
        if "bad" in texts:
            raise ValueError("bad input")
        return [{"text": t, "n": len(t)} for t in texts]

    async def main():
        batcher = Batcher(predict, max_batch=4, max_wait_s=0.5)
        await batcher.start()
        requests = [["a"], ["bb", "ccc"], ["d"], ["bad"], ["eeee"], ["f", "g"]]
        results = await asyncio.gather(*(batcher.predict(r, {}) for r in requests), return_exceptions=True)
        await batcher.stop()
        return requests, results

    requests, results = asyncio.run(main())
    for texts, result in zip(requests, results):
        if texts == ["bad"]:
            assert isinstance(result, ValueError)
        else:
            assert [r["text"] for r in result] == texts
    assert max(seen) <= 4 and any(n > 1 for n in seen)


def test_a_generation_tasks_options_are_checked_as_the_cli_checks_them():
    from seqkit import PredictOption
    from seqkit.serve.app import Limits, RequestError, parse_request

    accepted = {name: PredictOption(name, "", int, minimum=1) for name in ("beam_size", "n_best")}
    texts, options = parse_request(b'{"texts": ["a b", " "], "beam_size": 3, "n_best": 2}', Limits(), accepted)
    assert texts == ["a b"] and options == {"beam_size": 3, "n_best": 2}
    for body, message in (
        (b'{"text": "a", "beam_size": 0}', "beam_size: expected a positive integer, got 0"),
        (b'{"text": "a", "n_best": true}', "n_best: expected a positive integer, got True"),
        (b'{"text": "a", "beams": 2}', "unknown field 'beams'"),
        (b"[1, 2]", "expected a JSON object"),
    ):
        with pytest.raises(RequestError, match=message):
            parse_request(body, Limits(), accepted)
    with pytest.raises(RequestError) as error:
        parse_request(b'{"texts": ["a", "b", "c"]}', Limits(max_texts=2), accepted)
    assert error.value.status == 413
