"""The server's memory budget (``--memory-mb``): what images in progress may take at once.

A 49 MP 16-bit transparent PNG of 400 KB took the server to 1 GB, two 8-bit ones at once to 624 MB, 32 phone photos
at once to 596 MB: the shipped systemd unit's ``MemoryMax=512M`` would have had the kernel kill it. Uploads now
count against a budget from their headers (503 past it), decodes what their image's header says they will take (a
large one waits its turn; one that needs more than the budget gives one image gets 413). None of these checks
depends on the machine's speed: the budget is counted, not timed.
"""

from __future__ import annotations

import concurrent.futures
import io
import sys

import anyio
import numpy as np
import pytest

PIL = pytest.importorskip("PIL")

from edgedigits_runtime.serve.memory import Memory  # noqa: E402


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, "PNG")
    return buf.getvalue()


def _transparent(side: int) -> bytes:
    """A side x side RGBA PNG of a 1 (a bar) on a white sheet with a transparent corner: small file, many pixels."""
    rgba = np.full((side, side, 4), 255, np.uint8)
    rgba[side // 5 : 4 * side // 5, side // 2 - side // 40 : side // 2 + side // 40, :3] = 20
    rgba[: side // 10, : side // 10, 3] = 0
    return _png(rgba, "RGBA")


def test_small_decodes_go_on_while_a_large_one_waits():
    """The budget's rules, step by step on the event loop: a large decode waits for memory, a small one beside it
    goes on (it may use the reserve that uploads and large decodes leave), an upload is admitted or refused at once,
    and released memory goes to the waiting decode that now fits."""

    async def main():
        memory = Memory(100)
        assert (memory.reserve, memory.largest()) == (10, 90)
        await memory.acquire(60)  # a large decode in work
        order = []

        async def decode(cost, name):
            await memory.acquire(cost)
            order.append(name)

        async with anyio.create_task_group() as tg:
            tg.start_soon(decode, 50, "large")
            await anyio.wait_all_tasks_blocked()
            assert order == [] and memory.waiting == 50  # 60 + 50 > 90: it waits
            assert memory.admit(25) and memory.used == 85  # an upload: admitted at once beside them
            assert not memory.admit(8)  # past what uploads may take (90): refused at once (the server's 503)
            tg.start_soon(decode, 8, "small")
            await anyio.wait_all_tasks_blocked()
            assert order == ["small"] and memory.used == 93  # small ones go on, into the reserve
            memory.release(25 + 8)
            assert order == ["small"]  # 60 + 50 > 90 still
            memory.release(60)
            await anyio.wait_all_tasks_blocked()
            assert order == ["small", "large"] and memory.used == 50 and memory.waiting == 0

    anyio.run(main)


def test_uploads_that_fill_the_budget_cannot_starve_their_own_decodes():
    """Uploads held while their decodes wait: the uploads never take the reserve, so the decodes go on."""

    async def main():
        memory = Memory(100)
        while memory.admit(15):  # phone photos, each 7.5 MB held twice
            pass
        assert memory.used == 90
        with anyio.fail_after(5):  # would wait for ever if the uploads could fill the budget
            await memory.acquire(3)
            await memory.acquire(3)
        assert memory.used == 96

    anyio.run(main)


def test_a_decode_whose_time_runs_out_while_waiting_leaves_nothing_behind():
    async def main():
        memory = Memory(100)
        await memory.acquire(80)
        with anyio.move_on_after(0.01):  # the time limit, as the endpoint's fail_after
            await memory.acquire(40)
        assert memory.waiting == 0 and memory.used == 80
        memory.release(80)
        assert memory.used == 0

    anyio.run(main)


def test_an_image_that_needs_more_than_the_budget_is_refused_from_its_header(start_server, mnist_test):
    """413 saying why and what to send, before any pixel is decoded; a digit still answers; nothing is left held."""
    import httpx

    from edgedigits_runtime.decode import decode_memory

    s = start_server("--memory-mb", "40", "--max-body-mb", "2")
    big = _transparent(4000)  # 16 MP: about 100 MB to decode, over the 36 MB one image may take of 40
    needs = decode_memory(big)
    assert needs > 36_000_000
    digit = _png(mnist_test[0][0])
    with httpx.Client(timeout=60) as c:
        r = c.post(f"{s.url}/v1/read", content=big, headers={"Content-Type": "image/png"})
        assert r.status_code == 413, r.text
        assert f"needs about {needs / 1e6:.0f} MB" in r.json()["error"] and "--memory-mb 40" in r.json()["error"], r.text
        ok = c.post(f"{s.url}/v1/predict", content=digit, headers={"Content-Type": "image/png"})
        assert ok.status_code == 200 and ok.json()["label"] == 7, ok.text
        health = c.get(f"{s.url}/v1/health").json()
        assert health["limits"]["memory"] == 40_000_000
        assert health["memory_in_use"] == 0 and health["memory_waiting"] == 0
    assert s.stop() == 0, s.stderr


def test_what_a_phone_sends_is_never_refused_by_the_default_budget(start_server):
    """A 12 MP phone photo (baseline and progressive JPEG) and an 8-bit PNG screenshot, two at once to the default
    server: all answered. By the budget's arithmetic they never wait either: two of the largest together (their
    uploads twice, their decodes as estimated) fit in what uploads and large decodes may take."""
    import cv2
    import httpx

    from edgedigits_runtime.decode import decode_memory
    from edgedigits_runtime.serve import Limits

    photo = np.full((3000, 4000, 3), 235, np.uint8)
    cv2.putText(photo, "407", (900, 2000), cv2.FONT_HERSHEY_SIMPLEX, 30, (30, 30, 40), 90)
    noise = np.random.default_rng(0).integers(0, 24, photo.shape, dtype=np.uint8)  # a camera's grain: a bigger file
    photo = cv2.subtract(photo, noise)
    baseline = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    progressive = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 92, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    screen = np.full((2532, 1170, 3), 250, np.uint8)  # a phone's screenshot of a number
    cv2.putText(screen, "407", (150, 1300), cv2.FONT_HERSHEY_SIMPLEX, 9, (20, 20, 20), 25)
    screenshot = cv2.imencode(".png", screen)[1].tobytes()
    limits, uploads = Limits(), (baseline, progressive, screenshot)
    assert max(len(u) for u in uploads) <= limits.max_body
    largest = max(2 * len(u) + decode_memory(u) for u in uploads)
    assert 2 * largest <= 0.9 * limits.memory, largest  # two of them at once never wait for memory

    s = start_server()  # the defaults

    def post(body):
        with httpx.Client(timeout=120) as c:
            return c.post(f"{s.url}/v1/read", content=body, headers={"Content-Type": "application/octet-stream"})

    for pair in ((baseline, progressive), (progressive, screenshot)):
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(post, pair))
        assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
        assert all(r.json()["number"] == "407" for r in answers), [r.text for r in answers]
    assert s.stop() == 0, s.stderr


def test_an_upload_past_the_budget_gets_503_with_retry_after(start_server):
    """Uploads count twice their declared size from their headers on: past the budget, 503 at once with Retry-After;
    once the first upload has ended, the next is admitted."""
    import socket
    import time

    import httpx

    s = start_server("--memory-mb", "5.5", "--max-body-mb", "2", "--timeout", "60")
    held = socket.create_connection(("127.0.0.1", s.port))
    held.sendall(b"POST /v1/read HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1500000\r\n\r\n"
                 + b"\x89PNG")  # 3 MB of the 4.95 uploads may take, held while its body trickles
    with httpx.Client(timeout=60) as c:
        for _ in range(600):  # until the server has the first request's headers (counted, not timed)
            if c.get(f"{s.url}/v1/health").json()["memory_in_use"] == 3_000_000:
                break
            time.sleep(0.05)
        r = c.post(f"{s.url}/v1/read", content=b"\xff" * 1_200_000, headers={"Content-Type": "image/jpeg"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
        assert "memory" in r.json()["error"] and "--memory-mb" in r.json()["error"], r.text
        held.close()
        for _ in range(600):
            if c.get(f"{s.url}/v1/health").json()["memory_in_use"] == 0:
                break
            time.sleep(0.05)
        r = c.post(f"{s.url}/v1/read", content=b"\xff" * 1_200_000, headers={"Content-Type": "image/jpeg"})
        assert r.status_code == 422, r.text  # admitted now (and not an image)
    assert s.stop() == 0, s.stderr


def test_a_budget_that_cannot_hold_the_largest_upload_is_refused():
    from edgedigits_runtime.errors import UsageError
    from edgedigits_runtime.serve import Limits

    with pytest.raises(UsageError, match="memory"):
        Limits(max_body=2_000_000, memory=3_000_000)
    assert Limits(max_body=2_000_000, memory=4_000_000).memory == 4_000_000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the server's peak memory from /proc")
def test_large_images_at_once_are_decoded_one_at_a_time(start_server):
    """Four 12 MP transparent PNGs at once, four workers, a budget that holds one such decode but not two: all are
    answered, and the server's peak memory grows about as much as for one alone (four at once would take about four
    times as much). The decodes wait for memory, not for time: the check holds on any machine."""
    import httpx

    s = start_server("--workers", "4", "--memory-mb", "120", "--timeout", "120")
    body = _transparent(3500)  # about 74 MB to decode: 2 x 74 > 108 (the 90% one image may take)

    def peak() -> int:
        with open(f"/proc/{s.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

    def post(_):
        with httpx.Client(timeout=150) as c:
            return c.post(f"{s.url}/v1/read", content=body, headers={"Content-Type": "image/png"})

    with httpx.Client(timeout=150) as c:  # the models loaded, the threads made, with a small photo
        warm = c.post(f"{s.url}/v1/read", content=_transparent(400), headers={"Content-Type": "image/png"})
        assert warm.status_code == 200, warm.text
    base = peak()
    alone = post(0)
    assert alone.status_code == 200, alone.text
    one = peak() - base
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, range(4)))
    four = peak() - base
    assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
    assert all(r.json() == alone.json() for r in answers), [r.text for r in answers]  # the same answer as alone
    assert four < 1.5 * one + 8 * 1024, (one, four)  # KB; one at a time, not four
    assert s.stop() == 0, s.stderr
