"""Runs the echo stage against a stub server; ``test_kill_resume`` kills it with SIGKILL mid-run.

python tests/llm/kill_worker.py URL RUN_DIR N CONCURRENCY
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner_common import (
    SAMPLING,
    STAGE,
    TEMPLATE,
    Echo,
    fast_runner,
    make_items,
    openai_cfg,
    render_item,
)

from humanllm.llm.backends import make_backend
from humanllm.llm.cache import RequestCache
from humanllm.llm.runner import run_llm


def main() -> None:
    url, run_dir, n, concurrency = (
        sys.argv[1],
        Path(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    with RequestCache.in_run(run_dir) as cache:
        out = run_llm(
            make_items(n),
            render=render_item,
            schema=Echo,
            backend=make_backend(openai_cfg(url)),
            cache=cache,
            stage=STAGE,
            prompt_version=TEMPLATE.id,
            sampling=SAMPLING,
            runner_cfg=fast_runner(max_concurrency=concurrency),
            progress=False,
        )
    print(f"DONE {len(out.results)}", flush=True)


if __name__ == "__main__":
    main()
