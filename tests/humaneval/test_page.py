"""The rating page in headless Chromium (Debian chromium + chromium-driver, driven by selenium):
from the file system (rate two instances with keys and clicks, reload, export, score the
export) and served by ``humanllm serve`` (ratings saved to the run folder)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from humanllm.humaneval.sample import load
from humanllm.humaneval.score import ScoreConfig, score
from humanllm.humaneval.sheets import SheetError
from tests.browser import chrome, needs_chromium
from tests.humaneval.fixtures import fill, genome_run, read_rows, sampled

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    root = tmp_path_factory.mktemp("he-page")
    downloads = root / "downloads"
    downloads.mkdir()
    driver = chrome(
        root / "profile",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield driver, downloads
    finally:
        driver.quit()


def _keys(driver: Any, *keys: str) -> None:
    ActionChains(driver).send_keys(*keys).perform()


def _checked(driver: Any, scale: str) -> str | None:
    for e in driver.find_elements(By.CSS_SELECTOR, f"input[name={scale}]"):
        if e.is_selected():
            return str(e.get_attribute("value"))
    return None


def _choose(driver: Any, wait: WebDriverWait, annotator: str) -> None:
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#annotator option")) > 1)
    Select(driver.find_element(By.ID, "annotator")).select_by_value(annotator)
    wait.until(lambda d: d.find_element(By.ID, "work").is_displayed())


def test_rate_two_from_the_file_system_export_and_score(
    browser: tuple[Any, Path], tmp_path: Path
) -> None:
    driver, downloads = browser
    run = genome_run(tmp_path / "run", sources=("reddit",), users_per_source=2, records_per_user=1)
    folder = sampled(run, n=3, name="browser")
    meta, instances = load(folder)
    by_id = {x.instance_id: x for x in instances}
    first, second = meta["orders"]["a1"]
    wait = WebDriverWait(driver, 20)
    driver.get((folder / "index.html").as_uri())
    _choose(driver, wait, "a1")
    where = driver.find_element(By.ID, "where").text
    assert first in where and by_id[first].stratum in where
    source = driver.find_element(By.ID, "source").text
    made = driver.find_element(By.ID, "made").text
    assert by_id[first].records[0].text in source and by_id[first].synthesized[-1].text in made
    panes = driver.find_elements(By.CSS_SELECTOR, "#panes .pane")
    assert panes[0].location["x"] < panes[1].location["x"]  # source left, synthesized right
    assert "5" in driver.find_element(By.ID, "scale-hallucination").text
    assert "no hallucination" in driver.find_element(By.ID, "scale-hallucination").text
    # first instance by keyboard: 4 on the highlighted scale, then 2 on the next, then next
    _keys(driver, "4", "2", Keys.ARROW_RIGHT)
    wait.until(lambda d: second in d.find_element(By.ID, "where").text)
    # second by clicks, with a note
    driver.find_element(By.CSS_SELECTOR, "#scale-hallucination .point:nth-child(5)").click()
    driver.find_element(By.CSS_SELECTOR, "#scale-plausibility .point:nth-child(3)").click()
    note = driver.find_element(By.ID, "note")
    note.send_keys('beans, "again"')
    note.send_keys(Keys.ESCAPE)
    assert driver.find_element(By.ID, "progress").text == "rated 2 of 2"
    # autosave: a reload keeps the ratings
    driver.refresh()
    wait.until(lambda d: d.find_element(By.ID, "work").is_displayed())
    assert driver.find_element(By.ID, "progress").text == "rated 2 of 2"
    _keys(driver, Keys.ARROW_LEFT)
    wait.until(lambda d: first in d.find_element(By.ID, "where").text)
    assert (_checked(driver, "hallucination"), _checked(driver, "plausibility")) == ("4", "2")
    driver.find_element(By.ID, "export").click()
    exported = downloads / "a1.csv"
    wait.until(lambda _: exported.is_file() and not list(downloads.glob("*.crdownload")))
    rows = {r["instance_id"]: r for r in read_rows(exported)}
    assert (rows[first]["hallucination"], rows[first]["plausibility"]) == ("4", "2")
    assert (rows[second]["hallucination"], rows[second]["plausibility"]) == ("5", "3")
    assert rows[second]["note"] == 'beans, "again"'
    # the export is the annotator's sheet: with the two others filled, it scores
    fill(folder, lambda iid, a, s: (5, 5))
    shutil.copy(exported, folder / "sheets" / "a1.csv")
    scores, _ = score(folder, ScoreConfig(n_boot=0))
    assert scores.n_ratings == 6
    assert (
        scores.scales["plausibility"].counts["2"] == 1
        and scores.scales["plausibility"].counts["3"] == 1
    )
    assert scores.scales["hallucination"].counts["4"] == 1


def test_served_page_saves_to_the_run_folder(browser: tuple[Any, Path], tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from humanllm.llm.scripted import ScriptedBackend
    from humanllm.simulate import Simulator
    from humanllm.simulate.people import GenomeUsers
    from humanllm.simulate.service import ServiceSettings, create_app, running

    driver, _ = browser
    run = genome_run(tmp_path / "run", sources=("reddit",), users_per_source=2, records_per_user=1)
    folder = sampled(run, n=3, name="served")
    meta, _ = load(folder)
    first = meta["orders"]["a3"][0]
    backend = ScriptedBackend(lambda _: "ok", model_id="scripted-he")
    app = create_app(Simulator(backend), genome=GenomeUsers(run), settings=ServiceSettings())
    wait = WebDriverWait(driver, 20)
    with running(app) as url:
        driver.get(f"{url}/human-eval/served/")
        _choose(driver, wait, "a3")
        _keys(driver, "3", "1")
        sheet = folder / "sheets" / "a3.csv"

        def saved(_: Any) -> bool:
            row = {r["instance_id"]: r for r in read_rows(sheet)}[first]
            return (row["hallucination"], row["plausibility"]) == ("3", "1")

        wait.until(saved)
        assert "saved to the run folder" in driver.find_element(By.ID, "status").text
    with pytest.raises(SheetError, match="no hallucination rating"):  # a3's second is not rated
        score(folder, ScoreConfig(n_boot=0))
