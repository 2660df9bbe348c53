"""The container recipe pays the numba compile at build time (issue: the first run after an
install compiled every kernel) and copies everything the wheel bundles. There is no container
engine in CI, so the recipe is checked against the project rather than built."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _recipe() -> str:
    # continuation lines joined, comments dropped: one instruction per line
    text = (ROOT / "Containerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return re.sub(r"\\\n\s*", " ", "\n".join(lines))


def test_the_image_is_warmed_up_after_install_into_a_fixed_cache() -> None:
    instructions = _recipe().splitlines()
    env = next(i for i in instructions if i.startswith("ENV ") and "NUMBA_CACHE_DIR=" in i)
    run = next(i for i in instructions if i.startswith("RUN ") and "pip install ." in i)
    assert instructions.index(env) < instructions.index(run)
    install, warm = run.index("pip install ."), run.index("cytorelease warmup")
    assert install < warm
    cache = re.search(r"NUMBA_CACHE_DIR=(\S+)", env)
    assert cache and cache.group(1) in run.split("cytorelease warmup", 1)[1]  # made usable


def test_every_bundled_folder_is_copied_into_the_image() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    bundled = project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    copied = {m.group(1) for m in re.finditer(r"^COPY (\S+) ", _recipe(), re.MULTILINE)}
    assert set(bundled) | {"cytorelease", "pyproject.toml"} <= copied


def test_the_image_gives_dask_workers_the_packaged_worker_config() -> None:
    from cytorelease.reanalyse.executors import WORKER_CONFIG

    source = WORKER_CONFIG.relative_to(ROOT).as_posix()
    copies = re.findall(rf"^COPY {re.escape(source)} (\S+)$", _recipe(), re.MULTILINE)
    # a folder Dask reads its configuration from in a container, as a .yaml file
    assert len(copies) == 1 and re.fullmatch(r"/etc/dask/[\w.-]+\.yaml", copies[0])
