"""Rich tables and trees for the lineage commands' answers (``--json`` prints the answer itself).

Each renderer takes exactly what the service returns (the JSON a script gets with ``--json``)
and prints it for a person: a table per list, a tree for a graph's edges, one line per fact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Column, Table
from rich.tree import Tree

Render = Callable[[Console, Any], None]


def folded_table(*headers: str, **options: Any) -> Table:
    """A table whose cells fold where Rich would cut them to fit the terminal.

    A version, run id or dataset name too wide for its column goes on onto the next line
    instead of ending in an ellipsis, so what an auditor reads is whole (``--json`` gives
    every value on one line).
    """
    return Table(*(Column(header, overflow="fold") for header in headers), **options)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def graph(console: Console, answer: dict[str, Any]) -> None:
    """Nodes by type, then each node's outgoing edges as a tree."""
    nodes = answer.get("graph", [])
    table = folded_table("node", "type", "in", "out", title=f"{len(nodes)} nodes")
    for node in nodes:
        table.add_row(
            node["id"], node["type"], str(len(node["inEdges"])), str(len(node["outEdges"]))
        )
    console.print(table)
    tree = Tree("edges")
    for node in nodes:
        if node["outEdges"]:
            branch = tree.add(node["id"])
            for edge in node["outEdges"]:
                branch.add(f"-> {edge['destination']}")
    console.print(tree)
    if answer.get("truncated"):
        console.print("[yellow]truncated at the node budget: ask for less depth[/]")


def provenance(console: Console, answer: dict[str, Any]) -> None:
    console.print(
        f"model {_text(answer.get('model'))} v{_text(answer.get('version'))} "
        f"(namespace {_text(answer.get('namespace'))}), trained on "
        f"{_text(answer.get('trainingSetVersion'))}, code {_text(answer.get('codeVersion'))}"
    )
    if answer.get("metrics"):
        console.print(f"metrics: {answer['metrics']}")
    _list_table(console, "dataset versions", answer.get("datasetVersions", []))
    _list_table(console, "runs", answer.get("runs", []))
    if answer.get("truncated"):
        console.print("[yellow]truncated at the node budget[/]")


def impact(console: Console, answer: dict[str, Any]) -> None:
    for key in ("datasetVersions", "trainingSets", "modelVersions", "servingDeployments"):
        if key in answer:
            _list_table(console, key, answer[key])


def history(console: Console, answer: dict[str, Any]) -> None:
    items = answer.get("items", answer.get("history", []))
    _list_table(console, f"history ({_text(answer.get('total', len(items)))} in all)", items)


def summary(console: Console, answer: dict[str, Any]) -> None:
    table = folded_table("what", "count")
    for key, value in answer.items():
        if isinstance(value, dict):
            for sub, count in sorted(value.items()):
                table.add_row(f"{key} {sub}", _text(count))
        else:
            table.add_row(key, _text(value))
    console.print(table)


def audit_entries(console: Console, answer: dict[str, Any]) -> None:
    table = folded_table("id", "time", "principal", "action", "object", "allowed", "source")
    for e in answer.get("entries", []):
        table.add_row(
            _text(e.get("id")),
            _text(e.get("ts")),
            _text(e.get("principal")),
            _text(e.get("action")),
            _text(e.get("object")),
            "yes" if e.get("allowed") else "no",
            _text(e.get("source_address")),
        )
    console.print(table)


def _list_table(console: Console, title: str, rows: list[Any]) -> None:
    """A table of dicts: one column per scalar key of the first rows, nested values as text."""
    if not rows:
        console.print(f"{title}: (none)")
        return
    columns: list[str] = []
    for row in rows[:20]:
        if isinstance(row, dict):
            for key, value in row.items():
                if key not in columns and not isinstance(value, dict | list):
                    columns.append(key)
    table = folded_table(*columns, title=title)
    for row in rows:
        if isinstance(row, dict):
            table.add_row(*(_text(row.get(c)) for c in columns))
    console.print(table)
