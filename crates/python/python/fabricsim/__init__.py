"""fabricsim from Python: the simulator's library called in-process.

Every function returns what the command line prints with ``--json``, parsed: ``topo``,
``collective`` and ``train`` return dicts; ``sweep`` returns a pandas DataFrame (one row per
point) when pandas is installed, else a list of dicts. ``sweep_text`` and ``merge`` give the
exact bytes of ``fabricsim sweep`` and ``fabricsim merge``, and ``ray_sweep`` runs a sweep's
shards as tasks on a Ray cluster and merges them.

Keyword arguments are the command-line flags with underscores (``max_memory_bytes`` for
``--max-memory``); an unknown one is an error that names it.
"""

from __future__ import annotations

import json as _json
from pathlib import Path as _Path
from typing import Any, Iterable, Optional, Sequence, Union

from . import _native
from .ray_sweep import ray_sweep

SCHEMA_VERSION: int = _native.SCHEMA_VERSION

__all__ = [
    "topo",
    "collective",
    "train",
    "serve",
    "plan",
    "sweep",
    "sweep_text",
    "merge",
    "ray_sweep",
    "grid_points",
    "SCHEMA_VERSION",
]


def _call(native, inputs: dict, *extra) -> dict:
    """Drop unset (None) inputs, call the native function with their JSON, parse the result."""
    given = {k: v for k, v in inputs.items() if v is not None}
    return _json.loads(native(_json.dumps(given), *extra))


def _frame(rows: list):
    """A pandas DataFrame of ``rows`` when pandas is installed, else the rows."""
    try:
        import pandas as pd
    except ImportError:
        return rows
    # Nullable dtypes: integer columns with empty cells (gpus of collective rows) stay integers.
    return pd.DataFrame(rows).convert_dtypes()


def topo(cluster: str, *, pue: Optional[float] = None, routing: Optional[str] = None) -> dict:
    """``fabricsim topo CLUSTER --json``: tiers, counts, bandwidths, bill of materials, power, cost."""
    return _call(_native.topo_json, {"cluster": cluster, "pue": pue, "routing": routing})


def _sizes(sizes: Optional[Iterable[Union[int, str]]]) -> Optional[list]:
    if sizes is None:
        return None
    if isinstance(sizes, (int, str)):
        sizes = [sizes]
    return [float(_native.parse_size(s)) if isinstance(s, str) else float(s) for s in sizes]


def collective(
    cluster: str,
    op: str,
    *,
    sizes: Optional[Iterable[Union[int, str]]] = None,
    as_frame: bool = False,
    **flags: Any,
):
    """``fabricsim collective --cluster CLUSTER --op OP --json``.

    ``sizes``: bytes or strings like ``"64M"`` (default 8 B … 8 GiB, doubling). Other flags:
    ranks, fidelity, algo, proto, sharp, nvls, channels, routing, placement, max_memory_bytes.
    With ``as_frame=True``, the rows (one per size) as a DataFrame.
    """
    r = _call(_native.collective_json, {"cluster": cluster, "op": op, "sizes_bytes": _sizes(sizes), **flags})
    if as_frame:
        rows = [{k: v for k, v in row.items() if k != "bottleneck_links"} for row in r["rows"]]
        return _frame(rows)
    return r


def train(scenario: Optional[Union[str, _Path]] = None, **flags: Any) -> dict:
    """``fabricsim train [SCENARIO] --json``: one training step.

    ``scenario``: a scenario TOML file (default: the built-in one). Flags: cluster, model, gpus,
    tp, pp, dp, cp, ep, vp, layers_per_stage, gbs, mbs, seq, precision, recompute, zero,
    hsdp_shard, framework, fidelity, order, routing, sharp, nvls, moe_imbalance,
    max_memory_bytes. A plan that does not fit in memory is returned with ``fits`` false (the
    CLI exits 2 for it without ``--allow-oom``).
    """
    if scenario is None:
        return _call(_native.train_json, flags)
    text = _Path(scenario).read_text()
    return _call(_native.train_json, flags, text, str(scenario))


def serve(scenario: Optional[Union[str, _Path]] = None, **flags: Any) -> dict:
    """``fabricsim serve [--scenario FILE] --json``: LLM serving on a cluster.

    Flags (the keys of a serve scenario TOML): cluster, model, precision, tp, ep, dp_attn, pp,
    replicas, max_running, chunk, prefill, decode, phase, workload, input_len, output_len,
    rate, concurrency, shared_prefix, turns, turn_input, tool_pause, trace (a CSV path), slo,
    kv_dtype, mtp, mtp_acceptance, tbo, redundant_experts, expert_skew, prefix_cache,
    mem_fraction, duration, warmup, seed. Flags win over the scenario file's values.
    """
    given = {k: v for k, v in flags.items() if v is not None}
    if scenario is not None:
        import tomllib

        base = tomllib.loads(_Path(scenario).read_text())
        if "trace" in base:
            base["trace"] = str(_Path(scenario).parent / base["trace"])
        given = {**base, **given}
    trace = _Path(given["trace"]).read_text() if "trace" in given else None
    return _json.loads(_native.serve_json(_json.dumps(given), trace))


def sweep_text(grid_file: Union[str, _Path], *, shard: Optional[str] = None, json: bool = False,
               threads: Optional[int] = None) -> str:
    """The exact text ``fabricsim sweep GRID [--shard i/n] [--json]`` writes (CSV by default).

    ``threads``: threads to run the points on (default: every core).
    """
    text = _Path(grid_file).read_text()
    return _native.sweep_text(text, str(grid_file), shard, json, threads)


def sweep(grid_file: Union[str, _Path], *, shard: Optional[str] = None, threads: Optional[int] = None):
    """``fabricsim sweep GRID --json``'s rows: a DataFrame (one row per point, columns in the
    CSV's order) when pandas is installed, else a list of dicts."""
    return _frame(_json.loads(sweep_text(grid_file, shard=shard, json=True, threads=threads))["rows"])


def merge(texts: Sequence[str], names: Optional[Sequence[str]] = None) -> str:
    """``fabricsim merge``: the outputs of every shard of a sweep (texts, all CSV or all JSON)
    joined into the text of the unsharded run, byte for byte."""
    texts = list(texts)
    names = list(names) if names is not None else [f"input {i}" for i in range(len(texts))]
    return _native.merge_texts(names, texts)


def grid_points(grid_file: Union[str, _Path]) -> tuple:
    """(number of points, fingerprint) of a grid file (``fabricsim sweep --count``)."""
    return _native.grid_points(_Path(grid_file).read_text(), str(grid_file))


def plan(cluster: str, model: str, *, seq: int, gbs: int, framework: Optional[str] = None,
         gpus: Optional[int] = None, fix: Sequence[str] = (), max_tp: Optional[int] = None, top: int = 5,
         fidelity: str = "flow", precision: Optional[str] = None) -> dict:
    """``fabricsim plan ... --json``: the best plans, best first, under ``plans`` (each with the
    ``plan`` object ``train`` prints, ``step_time_s``, ``mfu``, ``memory_bytes_per_accel``,
    ``fidelity``, ``scenario_toml`` and ``launch``), and why each rejected family loses. Presets
    and registry models only; ``fix`` takes ``--fix`` items such as ``"tp=8"``."""
    return _json.loads(_native.plan_json(cluster, model, seq, gbs, framework, gpus, list(fix), max_tp, top,
                                         fidelity, precision))
