"""The page at `/` in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven by selenium.

It loads the page from a real server, draws a digit on the canvas with pointer events (a mouse, then a
finger), presses Classify and reads the answer and the top-3 shown; uploads a photo through the file
input; pastes a token; over HTTPS, checks that the page is a secure context (where a browser lets a page use
the camera, ``getUserMedia``), which plain HTTP at a network name is not. Skips with a message where Chromium,
its driver or selenium is missing (CI installs them: see .ci/run).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest
from conftest import TOKEN

selenium = pytest.importorskip("selenium", reason="selenium is not installed: pip install selenium")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    if os.environ.get("CI"):  # CI installs them (.ci/run): missing there is a failure, not a skip
        pytest.fail("CI has no chromium/chromedriver: .ci/run must apt-get install chromium chromium-driver",
                    pytrace=False)
    pytest.skip("no Chromium and chromedriver here: apt-get install chromium chromium-driver (CI installs them)",
                allow_module_level=True)

# Strokes on the 280x280 pad, in pad pixels: a 7 (bar, then the long diagonal) and a 1.
SEVEN = [[(85, 70), (200, 70), (190, 95), (165, 150), (140, 215)]]
ONE = [[(140, 50), (140, 230)]]


def _chromium(phone: bool = False, flags=()):
    """Headless Chromium: a desktop window, or a phone (360x740 CSS pixels, touch, a phone's user agent); ``flags``:
    more command-line flags."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="edgedigits-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=800,1000", f"--user-data-dir={profile}", *flags):
        options.add_argument(flag)
    if phone:
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": 360, "height": 740, "pixelRatio": 3.0, "touch": True},
            "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/120.0 Mobile Safari/537.36"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver, profile


@pytest.fixture(scope="module")
def browser():
    driver, profile = _chromium()
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def phone():
    driver, profile = _chromium(phone=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _draw(driver, strokes, pointer: str) -> None:
    """Draw ``strokes`` on the pad with real pointer events of the given kind ("mouse" or "touch")."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By

    pad = driver.find_element(By.ID, "pad")
    size = pad.size  # CSS pixels (the pad may be drawn smaller than its 280x280 pixels)
    kind = interaction.POINTER_TOUCH if pointer == "touch" else interaction.POINTER_MOUSE
    actions = ActionBuilder(driver, mouse=PointerInput(kind, pointer), duration=10)
    for stroke in strokes:
        points = []
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):  # many small moves, as a hand makes
            points += [(x0 + (x1 - x0) * t / 8, y0 + (y1 - y0) * t / 8) for t in range(8)]
        points.append(stroke[-1])

        def to_offset(x, y):  # selenium offsets are from the element's centre, in CSS pixels
            return round((x / 280 - 0.5) * size["width"]), round((y / 280 - 0.5) * size["height"])

        actions.pointer_action.move_to(pad, *to_offset(*points[0]))
        actions.pointer_action.pointer_down()
        for x, y in points[1:]:
            actions.pointer_action.move_to(pad, *to_offset(x, y))
        actions.pointer_action.pointer_up()
    actions.perform()


def _click_and_answer(driver, element_id: str = "classify", timeout=20.0, tap: bool = False) -> str:
    """Click (``tap``: the button's own click, as a finger's tap gives it), then wait for the page to finish
    that request and return what it shows. (Emulated Chromium drops a WebDriver click or tap that comes
    within a few milliseconds of a touch stroke, a gesture no hand makes: ``tap`` does not depend on it.)"""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    before = _answers(driver)
    button = driver.find_element(By.ID, element_id)
    if tap:
        driver.execute_script("arguments[0].click()", button)
    else:
        button.click()
    WebDriverWait(driver, timeout).until(lambda d: _answers(d) > before)
    return _answer(driver, timeout)


def _answers(driver) -> int:
    return int(driver.execute_script("return Number(document.body.dataset.answers || 0)"))


def _answer(driver, timeout=20.0) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def settled(d):
        text = d.find_element(By.ID, "answer").text.strip()
        error = d.find_element(By.ID, "error")
        if error.is_displayed():
            return "error: " + error.text
        return text if text not in ("", "–", "…") else False

    return WebDriverWait(driver, timeout).until(settled)


def _top3(driver) -> list[tuple[int, float]]:
    from selenium.webdriver.common.by import By

    return [(int(li.get_attribute("data-label")), float(li.get_attribute("data-probability")))
            for li in driver.find_elements(By.CSS_SELECTOR, "#top3 li.candidate")]


@pytest.mark.parametrize("strokes,digit,pointer", [(SEVEN, 7, "mouse"), (ONE, 1, "touch")], ids=["7-mouse", "1-finger"])
def test_draw_a_digit_and_see_the_answer(server, browser, strokes, digit, pointer):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    assert "edgedigits" in browser.title
    _draw(browser, strokes, pointer)
    assert _click_and_answer(browser) == str(digit)
    top = _top3(browser)
    assert len(top) == 3 and top[0][0] == digit
    assert 0 <= top[2][1] <= top[1][1] <= top[0][1] <= 1
    shown = browser.find_element(By.ID, "top3").text
    assert f"{digit}: " in shown and "%" in shown
    browser.find_element(By.ID, "clear").click()
    assert browser.find_element(By.ID, "answer").text.strip() == "–"


def test_classify_an_empty_pad_says_so(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    browser.find_element(By.ID, "classify").click()
    assert "draw a digit first" in _answer(browser)


def test_upload_a_photo(server, browser, mnist_test, tmp_path):
    from photos import make_photo
    from selenium.webdriver.common.by import By

    images, labels = mnist_test
    photo = tmp_path / "seven.jpg"
    photo.write_bytes(make_photo(images[0], np.random.default_rng(0)))
    browser.get(server.url + "/")
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    assert _answer(browser) == str(int(labels[0])) == "7"
    assert len(_top3(browser)) == 3


def test_upload_a_photo_of_a_number(server, browser, mnist_test, tmp_path):
    from photos import make_number_photo
    from selenium.webdriver.common.by import By

    images, labels = mnist_test
    photo = tmp_path / "number.jpg"
    photo.write_bytes(make_number_photo(images[[1, 2, 3]], np.random.default_rng(5), spacing="apart")[0])
    browser.get(server.url + "/")
    browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=read]").click()
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    assert _answer(browser) == "".join(str(int(d)) for d in labels[[1, 2, 3]])
    assert len(browser.find_elements(By.CSS_SELECTOR, "#top3 li.digit")) == 3


def test_page_with_a_token(token_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(token_server.url + "/")
    browser.execute_script("localStorage.clear()")
    browser.get(token_server.url + "/")
    WebDriverWait(browser, 10).until(lambda d: "token" in d.find_element(By.ID, "model").text)
    _draw(browser, SEVEN, "mouse")
    assert "token" in _click_and_answer(browser)  # the API's 401 message, shown
    field = browser.find_element(By.ID, "token")
    field.send_keys(TOKEN)
    field.send_keys(Keys.TAB)  # change event: the page keeps it and re-asks the model's details
    WebDriverWait(browser, 10).until(lambda d: "verified" in d.find_element(By.ID, "model").text)
    assert _click_and_answer(browser) == "7"
    browser.execute_script("localStorage.clear()")


def _in_view(driver, element_id: str) -> bool:
    return driver.execute_script("const b = document.getElementById(arguments[0]).getBoundingClientRect();"
                                 "return b.top >= 0 && b.bottom <= innerHeight && b.height > 0", element_id)


def test_phone_sized_page_shows_answers_and_errors_in_view(server, phone, mnist_test, tmp_path):
    """On a 360x740 phone the page fits its width, a finger draws, and after a photo the answer (or the
    error) is scrolled into view: it sits below the photo button, out of sight until then."""
    from photos import make_photo
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    images, _ = mnist_test
    photo = tmp_path / "seven.jpg"
    photo.write_bytes(make_photo(images[0], np.random.default_rng(0)))
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    phone.get(server.url + "/")
    assert phone.execute_script("return [innerWidth, document.documentElement.scrollWidth]") == [360, 360]  # no sideways scroll
    _draw(phone, SEVEN, "touch")
    assert _click_and_answer(phone, tap=True) == "7"
    for path, expected in ((photo, "7"), (notes, "error: notes.txt is not an image")):
        phone.execute_script("scrollTo(0, 0)")
        before = _answers(phone)
        phone.find_element(By.ID, "photo").send_keys(str(path))
        WebDriverWait(phone, 20).until(lambda d, before=before: _answers(d) > before)
        assert _answer(phone).startswith(expected)
        assert _in_view(phone, "error" if expected.startswith("error") else "answer"), expected


def test_a_photo_over_the_body_limit_is_sent_again_shrunk(start_server, browser, mnist_test, tmp_path):
    """A 12 MP phone-sized photo (3.7 MB) to a server that takes 1 MB: the 413 is not the end, the page
    redraws the photo at 2048 px, sends it again, shows the answer and says what it did."""
    import io

    from photos import make_photo
    from PIL import Image
    from selenium.webdriver.common.by import By

    images, _ = mnist_test
    small = make_photo(images[0], np.random.default_rng(0), size=(480, 640), jpeg=False)
    big = np.asarray(Image.fromarray(small).resize((4000, 3000), Image.BICUBIC), np.int16)
    big = np.clip(big + np.random.default_rng(1).integers(-12, 13, big.shape), 0, 255).astype(np.uint8)  # a sensor's noise
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "JPEG", quality=92)
    assert len(buf.getvalue()) > 2_000_000
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(buf.getvalue())
    s = start_server("--max-body-mb", "1")
    browser.get(s.url + "/")
    before = _answers(browser)
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: _answers(d) > before)
    assert _answer(browser) == "7"
    note = browser.find_element(By.ID, "note")
    assert note.is_displayed() and "over the server's limit" in note.text and "2048 px" in note.text


class _PrefixProxy:
    """A reverse proxy serving the server under /digits/ (as nginx's `location /digits/ { proxy_pass ...; }`)."""

    def __init__(self, upstream_port: int):
        import http.client
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self):
                if not self.path.startswith("/digits/"):
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
                upstream.request(self.command, self.path[len("/digits"):], body=body or None, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = _forward

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/digits/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_page_behind_a_reverse_proxy_at_a_path(server, browser):
    """Every URL of the page is relative: at https://host/digits/ it loads its files, the model's details
    and answers (absolute /static/ and /v1/ URLs went to the proxy's root: a page without script or answers)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    proxy = _PrefixProxy(server.port)
    try:
        browser.get(proxy.url)
        WebDriverWait(browser, 20).until(lambda d: "verified" in d.find_element(By.ID, "model").text)
        _draw(browser, SEVEN, "mouse")
        assert _click_and_answer(browser) == "7"
    finally:
        proxy.close()


def _spki_sha256(key) -> str:
    """base64 SHA-256 of a key's public half, as Chromium's --ignore-certificate-errors-spki-list takes it."""
    import base64
    import hashlib
    import subprocess

    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "der"], capture_output=True,
                         check=True, timeout=60).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def test_the_page_over_https_is_a_secure_context_and_works(start_server, tls_pair):
    """A phone reaches the Pi by a network name (here edgedigits.test, mapped to 127.0.0.1). Over HTTPS the page
    is a secure context: navigator.mediaDevices.getUserMedia exists (the camera), the token crosses the network
    inside TLS, and drawing and classifying work. Over plain HTTP at that name it is not a secure context (a
    browser treats only https and localhost as secure). Chromium trusts the test certificate by its public key
    (as a phone told to trust it would), not by ignoring every certificate error."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    secure = start_server(tls=tls_pair, env={"EDGEDIGITS_TOKEN": TOKEN})
    plain = start_server()
    driver, profile = _chromium(phone=True, flags=(f"--ignore-certificate-errors-spki-list={_spki_sha256(tls_pair.key)}",
                                                   "--host-resolver-rules=MAP edgedigits.test 127.0.0.1"))
    try:
        driver.get(f"https://edgedigits.test:{secure.port}/")
        assert driver.execute_script("return window.isSecureContext") is True
        assert driver.execute_script("return typeof (navigator.mediaDevices || {}).getUserMedia") == "function"
        field = driver.find_element(By.ID, "token")
        field.send_keys(TOKEN)
        field.send_keys(Keys.TAB)  # change event: the page keeps it and re-asks the model's details
        WebDriverWait(driver, 10).until(lambda d: "verified" in d.find_element(By.ID, "model").text)
        _draw(driver, SEVEN, "touch")
        assert _click_and_answer(driver, tap=True) == "7"

        driver.get(f"http://edgedigits.test:{plain.port}/")
        assert "edgedigits" in driver.title
        assert driver.execute_script("return window.isSecureContext") is False
        assert driver.execute_script("return typeof navigator.mediaDevices") == "undefined"
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
