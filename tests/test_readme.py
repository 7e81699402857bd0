"""The README's two commands exist and work: the set-up script is what CI runs, and the quick
start's first stages run from a fresh checkout (the whole flow is too long for a unit test)."""

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from humanllm.cli import app

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Two commands\s+```bash\n(.*?)```", text, re.S)
    assert block, "README needs a '## Two commands' bash block"
    return [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]


def test_setup_command_is_what_ci_runs() -> None:
    setup, quickstart = readme_commands()
    assert "scripts/setup.sh" in setup and "pytest" in setup
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/setup.sh" in ci and "pytest" in ci
    assert (ROOT / "scripts" / "setup.sh").is_file()
    args = shlex.split(quickstart)
    assert args[0].endswith("humanllm") and args[1] == "run"
    assert (ROOT / args[2]).is_file()


def test_quickstart_first_stages_run(tmp_path: Path) -> None:
    args = shlex.split(readme_commands()[1])
    config = str(ROOT / args[2])
    result = CliRunner().invoke(
        app, ["run", config, "--run-dir", str(tmp_path / "qs"), "--stages", "ingest,filter"]
    )
    assert result.exit_code == 0, result.output
    stats = CliRunner().invoke(app, ["stats", str(tmp_path / "qs"), "--json"])
    import json

    kept = json.loads(stats.stdout)["stages"]["filter"]
    assert set(kept) == {"reddit", "twitter", "blogger", "amazon"}
    assert all(v["users"] >= 2 and v["records"] >= 2 * v["users"] for v in kept.values())
