"""Progress of long ``skewless`` commands, drawn on stderr while they run.

Shown only when stderr is a terminal (Rich's ``is_terminal``, which ``TTY_COMPATIBLE`` and
``FORCE_COLOR`` can force) and the command prints for a person (not ``--json``): a pipe, a file
or a test reading the output sees nothing of it. The library functions know nothing of Rich;
they take a plain callback, and the command turns its calls into the display's tasks.
Rich's progress module is imported only when a display is actually shown, so ``--help`` stays
fast.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class ProgressDisplay:
    """Named tasks, each a bar (total known) or a pulsing count (total unknown), on stderr.

    Use as a context manager; every method is a no-op when the display is not shown.
    """

    def __init__(self, *, show: bool = True) -> None:
        console = Console(stderr=True)
        self._progress = _rich_progress(console) if show and console.is_terminal else None
        self._tasks: dict[str, TaskID] = {}

    @property
    def shown(self) -> bool:
        """Whether anything is drawn (stderr is a terminal and the command asked for it)."""
        return self._progress is not None

    def __enter__(self) -> ProgressDisplay:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is None:
            return
        if kind is None:  # done: a count without a total ends as done/done, its spinner stopped
            for task in self._progress.tasks:
                if task.total is None:
                    self._progress.update(task.id, total=task.completed)
        self._progress.stop()

    def advance(
        self,
        task: str,
        amount: int = 1,
        *,
        total: int | None = None,
        unit: str = "",
        description: str | None = None,
    ) -> None:
        """Add ``amount`` to ``task`` (created on first use), optionally renaming what it shows."""
        if self._progress is not None:
            task_id = self._task(self._progress, task, total, unit)
            self._progress.update(task_id, advance=amount, total=total, description=description)

    def update(
        self, task: str, *, completed: int, total: int | None = None, unit: str = ""
    ) -> None:
        """Set how much of ``task`` (created on first use) is done."""
        if self._progress is not None:
            task_id = self._task(self._progress, task, total, unit)
            self._progress.update(task_id, completed=completed, total=total)

    def _task(self, progress: Progress, task: str, total: int | None, unit: str) -> TaskID:
        if task not in self._tasks:
            self._tasks[task] = progress.add_task(task, total=total, unit=unit)
        return self._tasks[task]


def _rich_progress(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class CountColumn(ProgressColumn):
        """``done/total unit``, or ``done unit`` while the total is unknown."""

        def render(self, task: Task) -> Text:
            done = f"{int(task.completed):,}"
            if task.total is not None:
                done += f"/{int(task.total):,}"
            unit: Any = task.fields.get("unit", "")
            return Text(f"{done} {unit}".rstrip(), style="progress.download")

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),  # names and paths, not markup
        BarColumn(),
        CountColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
