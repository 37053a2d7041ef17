"""A sweep fanned out over a Ray cluster: each shard a Ray task, merged with the CLI's merge."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union


def _run_shard(grid_text: str, grid_name: str, index: int, count: int, json: bool, threads: int,
               files: dict):
    """One shard, on a Ray worker: its text, and where it ran (node id, process id)."""
    import ray

    from . import _native

    text = _native.sweep_text(grid_text, grid_name, f"{index}/{count}", json, threads, files)
    return text, ray.get_runtime_context().get_node_id(), os.getpid()


def ray_sweep(
    grid_file: Union[str, Path],
    num_shards: Optional[int] = None,
    *,
    json: bool = False,
    cpus_per_shard: int = 1,
    as_frame: bool = False,
    workers: Optional[list] = None,
):
    """Run the sweep ``grid_file`` as ``num_shards`` Ray tasks (default: the cluster's CPUs ÷
    ``cpus_per_shard``), each ``fabricsim sweep --shard i/n`` on ``cpus_per_shard`` threads, and
    merge them with ``fabricsim merge``: the result is byte for byte the single-process
    ``sweep_text`` (CSV, or JSON with ``json=True``), or its rows as a DataFrame with
    ``as_frame=True``.

    Connects with ``ray.init()`` when Ray is not initialised yet (``RAY_ADDRESS`` picks the
    cluster). The grid's text travels to the workers with the texts of the cluster TOML files
    it names, read here (a mixed cluster's ``[[pool]]`` file then needs to exist only here);
    a plain cluster file is still read where its points run, so it must exist on the workers.
    If ``workers`` is a list, (node id, process id) of each shard's task is appended to it.
    """
    import ray

    from . import _native

    if not ray.is_initialized():
        ray.init()
    grid_text = Path(grid_file).read_text()
    name = str(grid_file)
    files = _native.grid_cluster_files(grid_text, name)
    if num_shards is None:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        num_shards = max(1, cpus // max(1, cpus_per_shard))
    if num_shards < 1:
        raise ValueError(f"num_shards {num_shards}: must be at least 1")
    task = ray.remote(num_cpus=cpus_per_shard)(_run_shard)
    refs = [task.remote(grid_text, name, i, num_shards, json, cpus_per_shard, files) for i in range(num_shards)]
    results = ray.get(refs)
    if workers is not None:
        workers.extend((node, pid) for _, node, pid in results)
    merged = _native.merge_texts(
        [f"shard {i}/{num_shards}" for i in range(num_shards)], [text for text, _, _ in results]
    )
    if as_frame:
        import json as _json

        from . import _frame

        if json:
            return _frame(_json.loads(merged)["rows"])
        import io

        import pandas as pd

        return pd.read_csv(io.StringIO(merged)).convert_dtypes()
    return merged
