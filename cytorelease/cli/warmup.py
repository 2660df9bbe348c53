"""``cytorelease warmup``: compile every numba kernel once into the environment's cache."""

from __future__ import annotations

import typer

from cytorelease.cli._options import JsonOption


def register(root: typer.Typer) -> None:
    root.command(name="warmup")(warmup)


def warmup(*, as_json: JsonOption = False) -> None:
    """Compile the flow kernels into the numba cache once (after an install, in a container,
    on a new worker), so that no command compiles on a user's or an instrument's time."""
    from cytorelease.cli._output import console, emit_json, print_table
    from cytorelease.warmup import warm_up

    report = warm_up()
    if as_json:
        emit_json(report.to_dict())
        return
    print_table(
        "numba kernels",
        ["kernel", "specializations", "compiled now", "loaded from cache"],
        [(k.name, k.specializations, k.compiled, k.loaded) for k in report.kernels],
    )
    print_table("steps", ["step", "seconds"], [(s, f"{t:.2f}") for s, t in report.steps])
    console().print(
        f"{report.compiled} compiled, {report.loaded} loaded from the cache "
        f"in {report.seconds:.1f} s"
    )
