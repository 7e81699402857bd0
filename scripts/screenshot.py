"""Take docs/screenshot.png: the simulator page with real answers of the embedded model.

Serves a small demo genome (two people written for this script) with the embedded SmolLM2 GGUF,
opens the page in headless chromium (selenium), picks a person, asks the human explainer for two
answers and saves the window. Needs chromium + chromium-driver and the embedded model::

    python scripts/screenshot.py [--out docs/screenshot.png] [--app explain]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

PEOPLE = [
    {
        "source": "reddit",
        "user_id": "u_harbour_nurse",
        "persona": "A 34-year-old night-shift nurse in Leeds, mother of two, who cooks in bulk on "
        "Sundays, runs 5k on her days off and posts in parenting and running subreddits.",
        "profile": "She trained as a nurse after a year of working in a café and has spent ten "
        "years on a cardiac ward. Night shifts shape her week: she plans meals, school runs and "
        "sleep around them. She is practical and dryly funny, protective of her time with her "
        "kids, and runs to clear her head after hard shifts.",
        "writing_style": "Short, practical sentences; dry humour; mentions her kids and shifts.",
        "posts": [
            ("Batch cooking for night shifts", "Sunday = chilli, soup and overnight oats. Works."),
            ("First 5k in a year", "Slow but done. Legs hate me, brain loves me."),
        ],
    },
    {
        "source": "reddit",
        "user_id": "u_tactics_student",
        "persona": "A 20-year-old economics student in Manchester who argues about football "
        "tactics, works weekend shifts at a bakery and saves up for away games.",
        "profile": "",
        "writing_style": "Lowercase, quick, lots of football slang.",
        "posts": [("pressing is overrated", "hot take but hear me out")],
    },
]
SCENARIO = (
    "After a twelve-hour night shift, her manager asks her to cover another night because two "
    "colleagues are ill. It is her daughter's school play that afternoon."
)
QUESTION = "What does she do, and why?"


def write_genome(root: Path) -> Path:
    (root / "genome").mkdir(parents=True)
    (root / "config.yaml").write_text("sources:\n  - {kind: reddit, path: none}\n")
    users = [
        {k: p[k] for k in ("source", "user_id", "persona", "profile", "writing_style")}
        for p in PEOPLE
    ]
    pl.DataFrame(users).write_parquet(root / "genome" / "users.parquet")
    rows = [
        {
            "source": p["source"],
            "user_id": p["user_id"],
            "record_id": f"{p['user_id']}-{i}",
            "created_at": datetime(2024, 3, i + 1, tzinfo=UTC),
            "text": text,
            "title": title,
            "meta": json.dumps({"subreddit": "running"}),
        }
        for p in PEOPLE
        for i, (title, text) in enumerate(p["posts"])
    ]
    pl.DataFrame(rows).write_parquet(root / "genome" / "records.parquet")
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    args = ap.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from humanllm.llm.config import LlamaCppBackendConfig
    from humanllm.simulate import Simulator
    from humanllm.simulate.people import GenomeUsers
    from humanllm.simulate.service import ServiceSettings, create_app, running

    with tempfile.TemporaryDirectory() as tmp:
        genome = GenomeUsers(write_genome(Path(tmp) / "run"))
        sim = Simulator.from_config(LlamaCppBackendConfig(n_parallel=2))
        app = create_app(sim, genome=genome, settings=ServiceSettings())
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "chromium"
        for flag in (
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--window-size=1280,860", "--hide-scrollbars",
            f"--user-data-dir={Path(tmp) / 'chrome'}",
        ):  # fmt: skip
            options.add_argument(flag)
        service = Service(executable_path=shutil.which("chromedriver") or "chromedriver")
        with running(app) as url:
            driver = webdriver.Chrome(options=options, service=service)
            try:
                wait = WebDriverWait(driver, 300)
                driver.get(url + "/")
                wait.until(
                    EC.element_to_be_clickable((By.CSS_SELECTOR, "#user-list button"))
                ).click()
                wait.until(lambda d: d.find_element(By.ID, "persona").get_property("value"))
                driver.find_element(By.CSS_SELECTOR, "#apps button[data-app=explain]").click()
                driver.find_element(By.ID, "f-scenario").send_keys(SCENARIO)
                driver.find_element(By.ID, "f-question").send_keys(QUESTION)
                n = driver.find_element(By.ID, "n")
                n.clear()
                n.send_keys("2")
                driver.find_element(By.ID, "run").click()
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#answers .answer")) == 2)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(args.out))
            finally:
                driver.quit()
        sim.close()
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
