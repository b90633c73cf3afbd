"""A peer project's own writer (SGLang's recorder, vLLM's output classes, Megatron-Core's router tracer)
run in its own interpreter in the background while the tests import: started at collection, awaited by
the test that compares."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple


def start_writer(python: str, script: str, name: str, inputs: Any, out: str = "",
                 path: Sequence[str] = ()) -> Optional[Tuple[subprocess.Popen, Path]]:
    """Runs `python -c script INPUT.json OUT` in a scratch directory (OUT: `out` below it, created, or
    the directory itself), with `inputs` written as INPUT.json and the directories `path` put first on
    PYTHONPATH; None when `python` or a directory of `path` is missing. The scratch directory goes when
    the tests end."""
    if not os.access(python, os.X_OK) or not all(os.path.isdir(p) for p in path):
        return None
    scratch = Path(tempfile.mkdtemp(prefix=f"idamoe-{name}-own-"))
    (scratch / f"{name}.json").write_text(json.dumps(inputs))
    target = scratch / out if out else scratch
    target.mkdir(exist_ok=True)
    argv: List[str] = [python, "-c", script, str(scratch / f"{name}.json"), str(target)]
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = os.pathsep.join([*path, *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(scratch), env=env)

    def cleanup() -> None:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)

    atexit.register(cleanup)
    return proc, scratch
