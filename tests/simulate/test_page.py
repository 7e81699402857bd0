"""The web page in a real headless browser (Debian chromium + chromium-driver, driven by selenium),
served by the real service with the scripted model behind it."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from humanllm.llm.base import ChatRequest, ChatResponse
from humanllm.llm.scripted import ScriptedBackend
from humanllm.simulate import Simulator
from humanllm.simulate.people import GenomeUsers
from humanllm.simulate.service import ServiceSettings, create_app, running
from tests.browser import chrome, needs_chromium
from tests.simulate.conftest import AMAZON_USER, make_genome, scripted_reply

pytestmark = needs_chromium


SLOW = "SLOW"  # a prompt holding this waits until the test opens the gate


class GatedBackend:
    """The scripted model, except that a request naming SLOW waits for ``gate``."""

    def __init__(self) -> None:
        self.scripted = ScriptedBackend(scripted_reply, model_id="scripted-page", delay_s=0.05)
        self.gate = threading.Event()

    @property
    def model_id(self) -> str:
        return self.scripted.model_id

    async def chat(self, request: ChatRequest) -> ChatResponse:
        if SLOW in request.messages[-1][1]:
            while not self.gate.is_set():
                await asyncio.sleep(0.05)
        return await self.scripted.chat(request)

    async def aclose(self) -> None:
        await self.scripted.aclose()


class PathLog:
    """ASGI middleware noting every HTTP path asked for."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, Any, PathLog]]:
    root = tmp_path_factory.mktemp("page")
    genome = GenomeUsers(make_genome(root / "run"))
    backend = GatedBackend()
    app = PathLog(create_app(Simulator(backend), genome=genome, settings=ServiceSettings()))
    with running(app) as url:
        driver = chrome(root / "chrome-profile")
        try:
            yield driver, url, backend, app
        finally:
            driver.quit()


@pytest.fixture
def page(served: tuple[Any, str, Any, PathLog]) -> tuple[Any, str]:
    return served[0], served[1]


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


def elapsed(driver: Any) -> int:
    found = re.search(r"(\d+) s elapsed", driver.find_element(By.ID, "status").text)
    assert found, driver.find_element(By.ID, "status").text
    return int(found.group(1))


def answers(driver: Any) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#answers .answer .text")]


def test_another_tab_never_shows_the_previous_answer(page: tuple[Any, str]) -> None:
    driver, url = page
    wait = WebDriverWait(driver, 20)
    driver.get(url + "/")
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#user-list button"))).click()
    wait.until(lambda d: d.find_element(By.ID, "persona").get_property("value"))
    driver.find_element(By.ID, "run").click()  # profile: answers and its prompt
    wait.until(lambda d: len(answers(d)) == 3)
    profile_prompt = driver.find_element(By.ID, "prompt").get_attribute("textContent")
    assert profile_prompt

    driver.find_element(By.CSS_SELECTOR, "#apps button[data-app=explain]").click()
    assert answers(driver) == []
    assert not driver.find_element(By.ID, "prompt-box").is_displayed()
    driver.find_element(By.ID, "run").click()  # no scenario, no question: an error
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Field required"))
    assert answers(driver) == []
    assert not driver.find_element(By.ID, "prompt-box").is_displayed()

    driver.find_element(By.CSS_SELECTOR, "#apps button[data-app=write]").click()
    assert answers(driver) == []
    assert "Field required" not in driver.find_element(By.ID, "status").text
    assert not driver.find_element(By.ID, "prompt-box").is_displayed()

    driver.find_element(By.CSS_SELECTOR, "#apps button[data-app=profile]").click()
    assert len(answers(driver)) == 3  # each tab keeps its own last answer
    assert driver.find_element(By.ID, "prompt").get_attribute("textContent") == profile_prompt
    driver.find_element(By.CSS_SELECTOR, "#apps button[data-app=explain]").click()
    assert "Field required" in driver.find_element(By.ID, "status").text


def test_the_page_never_asks_for_favicon_ico(served: tuple[Any, str, Any, PathLog]) -> None:
    driver, url, _, log = served
    wait = WebDriverWait(driver, 20)
    driver.get("about:blank")
    log.paths.clear()
    driver.get(url + "/")
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#user-list button")))
    icon = driver.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href")
    assert icon.startswith("data:image/svg+xml")
    driver.get("about:blank")  # a pending favicon request would be sent by now
    assert "/" in log.paths and "/static/app.js" in log.paths
    assert "/favicon.ico" not in log.paths


def test_progress_while_waiting(served: tuple[Any, str, Any, PathLog]) -> None:
    driver, url, backend, _ = served
    wait = WebDriverWait(driver, 20)
    driver.get(url + "/")
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#user-list button")))
    driver.find_element(By.CSS_SELECTOR, "#apps button[data-app=explain]").click()
    driver.find_element(By.ID, "persona").send_keys("A pilot.")
    driver.find_element(By.ID, "f-scenario").send_keys(f"{SLOW}: the flight is delayed.")
    driver.find_element(By.ID, "f-question").send_keys("What does the pilot do?")
    backend.gate.clear()
    try:
        driver.find_element(By.ID, "run").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "elapsed"))
        assert driver.find_element(By.ID, "run").get_property("disabled")
        assert driver.find_elements(By.CSS_SELECTOR, "#status .spinner")
        first = elapsed(driver)
        wait.until(lambda d: elapsed(d) > first)  # the clock ticks
        driver.find_element(By.CSS_SELECTOR, "#apps button[data-app=profile]").click()
        assert "in its tab" in driver.find_element(By.ID, "status").text
        assert driver.find_element(By.ID, "run").get_property("disabled")
        driver.find_element(By.CSS_SELECTOR, "#apps button[data-app=explain]").click()
    finally:
        backend.gate.set()
    wait.until(lambda d: len(answers(d)) == 3)
    assert not driver.find_element(By.ID, "run").get_property("disabled")
    assert not driver.find_elements(By.CSS_SELECTOR, "#status .spinner")
    assert "answer(s)" in driver.find_element(By.ID, "status").text
