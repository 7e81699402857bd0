"""The web page in a real headless browser (Debian chromium + chromium-driver, driven by selenium),
served by the real service with the scripted model behind it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from humanllm.llm.scripted import ScriptedBackend
from humanllm.simulate import Simulator
from humanllm.simulate.people import GenomeUsers
from humanllm.simulate.service import ServiceSettings, create_app, running
from tests.simulate.conftest import AMAZON_USER, make_genome, scripted_reply

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="no chromium/chromedriver on PATH (apt-get install chromium chromium-driver)",
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)


def chrome(profile_dir: Path) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    root = tmp_path_factory.mktemp("page")
    genome = GenomeUsers(make_genome(root / "run"))
    backend = ScriptedBackend(scripted_reply, model_id="scripted-page", delay_s=0.05)
    app = create_app(Simulator(backend), genome=genome, settings=ServiceSettings())
    with running(app) as url:
        driver = chrome(root / "chrome-profile")
        try:
            yield driver, url
        finally:
            driver.quit()


def test_pick_a_user_simulate_and_see_the_answers(page: tuple[Any, str]) -> None:
    driver, url = page
    wait = WebDriverWait(driver, 20)
    driver.get(url + "/")
    first = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#user-list button")))
    assert AMAZON_USER in first.text
    first.click()
    wait.until(
        lambda d: d.find_element(By.ID, "persona").get_property("value").startswith("A nurse")
    )
    assert AMAZON_USER in driver.find_element(By.ID, "person-title").text
    # profile (the default application): three answers side by side
    driver.find_element(By.ID, "run").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#answers .answer")) == 3)
    texts = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#answers .answer .text")]
    assert all(t.startswith("simulated (You understand people)") for t in texts)
    assert len(set(texts)) == 3  # distinct seeds
    # select: the purchase history comes from the genome user; the chosen candidate is shown
    driver.find_element(By.CSS_SELECTOR, "#apps button[data-app=select]").click()
    history = driver.find_element(By.ID, "f-history").get_property("value")
    assert "Rice cooker | 5" in history
    driver.find_element(By.ID, "f-candidates").send_keys("Kettle\nBread knife\nLamp")
    driver.find_element(By.ID, "run").click()
    wait.until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#answers .choice"), "Bread knife")
    )
    assert "answer(s)" in driver.find_element(By.ID, "status").text
    assert "Candidates:" in driver.find_element(By.ID, "prompt").get_attribute("textContent")


def test_errors_are_shown(page: tuple[Any, str]) -> None:
    driver, url = page
    wait = WebDriverWait(driver, 20)
    driver.get(url + "/")
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#user-list button")))
    driver.find_element(By.CSS_SELECTOR, "#apps button[data-app=explain]").click()
    driver.find_element(By.ID, "persona").send_keys("A pilot.")
    driver.find_element(By.ID, "run").click()  # no scenario, no question
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Field required"))
    assert "error" in driver.find_element(By.ID, "status").get_attribute("class")
