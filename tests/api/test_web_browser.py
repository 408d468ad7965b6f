"""The /verify page in a real browser: Debian's headless Chromium driven through chromedriver.

A clerk picks the issuing body, types a number and sees the status and the timeline; uploads a
certificate file and sees its goods; looks up a revoked certificate and sees "revoked"; and the
page fits a phone's screen. Chromium and chromedriver are required (``.ci/run`` installs them):
without them this fails rather than skips.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.api.conftest import LiveNode
from tests.api.test_web import digest, issue, new_number, revoke

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def _executable(*names: str) -> str:
    for name in names:
        path = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if path:
            return path
    pytest.fail(
        f"{' or '.join(names)} is not installed; the browser test needs Debian's chromium and "
        "chromium-driver (apt-get install chromium chromium-driver, as .ci/run does)"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium = _executable("chromium", "chromium-browser")
    chromedriver = _executable("chromedriver")
    profile = tempfile.mkdtemp(prefix="tl-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def submit_form(driver: WebDriver, button_id: str) -> None:
    """Click a form's button and wait until the browser shows the page it navigates to: a click
    returns before that navigation is done. The old page is marked with a script variable; the
    new document does not have it. (Waiting on an old element's staleness instead sometimes
    fails in chromedriver with "Node ... does not belong to the document".)"""
    driver.execute_script("window.__tlOldPage = true;")
    driver.find_element(By.ID, button_id).click()
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script(
            "return window.__tlOldPage === undefined && document.readyState === 'complete';"
        )
    )


def status_word(driver: WebDriver) -> str:
    status = driver.find_element(By.ID, "status")
    return str(status.get_attribute("data-status"))


def look_up(driver: WebDriver, live: LiveNode, document_id: str) -> None:
    issuer, number = document_id.split("/")
    driver.get(f"{live.base_url}/verify")
    Select(driver.find_element(By.ID, "issuer-input")).select_by_value(issuer)
    field = driver.find_element(By.ID, "number-input")
    field.clear()
    field.send_keys(number)
    submit_form(driver, "lookup")


def test_look_up_by_number_in_the_browser(browser: WebDriver, live: LiveNode) -> None:
    doc_id, body = issue(live)
    look_up(browser, live, doc_id)
    assert status_word(browser) == "valid"
    status = browser.find_element(By.ID, "status")
    assert "VALID" in status.text and status.is_displayed()
    assert (
        "The Japan Chamber of Commerce and Industry" in browser.find_element(By.ID, "issuer").text
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    assert rows and "Issued" in rows[0].text
    assert "The Japan Chamber of Commerce and Industry" in rows[0].text
    assert "entries" in browser.find_element(By.ID, "tree-size").text
    # by number only: no goods
    assert not browser.find_elements(By.ID, "goods")
    assert json.loads(body)["items"][0]["description"] not in browser.page_source
    # the form keeps what was asked, to correct it
    number = browser.find_element(By.ID, "number-input").get_attribute("value")
    assert number == doc_id.split("/")[1]


def test_upload_a_certificate_file_in_the_browser(
    browser: WebDriver, live: LiveNode, tmp_path: Path
) -> None:
    doc_id, body = issue(live)
    path = tmp_path / "certificate.json"
    path.write_bytes(body)
    browser.get(f"{live.base_url}/verify")
    browser.find_element(By.ID, "file-input").send_keys(str(path))
    submit_form(browser, "upload")
    assert status_word(browser) == "valid"
    assert browser.find_element(By.ID, "number").text == doc_id.split("/")[1]
    goods = browser.find_element(By.ID, "goods")
    cert = json.loads(body)
    for item in cert["items"]:
        assert item["description"] in goods.text
        assert item["hs_code"] in goods.text
    assert cert["importer"]["name"] in goods.text
    assert browser.find_element(By.ID, "pdf-link").get_attribute("href")

    # an altered copy is flagged and shows nothing of its content
    forged = dict(cert, items=[dict(cert["items"][0], description="Gold bars")])
    path.write_text(json.dumps(forged))
    browser.get(f"{live.base_url}/verify")
    browser.find_element(By.ID, "file-input").send_keys(str(path))
    submit_form(browser, "upload")
    assert "does not match" in browser.find_element(By.ID, "warning").text
    assert not browser.find_elements(By.ID, "goods")


def test_a_revoked_certificate_in_the_browser(browser: WebDriver, live: LiveNode) -> None:
    doc_id, _ = issue(live)
    revoke(live, doc_id)
    look_up(browser, live, doc_id)
    assert status_word(browser) == "revoked"
    assert "REVOKED" in browser.find_element(By.ID, "status").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    assert "Revoked" in rows[-1].text


def test_mistakes_and_unknown_numbers_in_the_browser(browser: WebDriver, live: LiveNode) -> None:
    look_up(browser, live, f"jp-jcci/{new_number()}")
    assert status_word(browser) == "unknown"
    browser.get(f"{live.base_url}/verify?id=jp-jcci/X&d=not-a-digest")
    assert "64 hexadecimal digits" in browser.find_element(By.ID, "error").text


def test_the_page_fits_a_phone(browser: WebDriver, live: LiveNode) -> None:
    doc_id, body = issue(live, remarks="A long remark " * 20)
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{live.base_url}/verify?id={doc_id}&d={digest(body)}")
        assert status_word(browser) == "valid"
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page is {overflow}px wider than a phone's screen"
        # the inputs are big enough to tap (WCAG 2.5.8: at least 24 CSS px)
        height = browser.find_element(By.ID, "number-input").size["height"]
        assert height >= 24
    finally:
        browser.set_window_size(1200, 900)
