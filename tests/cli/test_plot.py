"""``qdispatch job ID --plot``: a histogram of the job's counts, drawn by Qiskit's plot_histogram."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def test_plot_writes_a_png_of_the_jobs_counts(qd: Any, stored: Any, tmp_path: Path) -> None:
    data = json.loads(qd("job", stored.done, "--plot", "hist.png", "--json").stdout)
    png = tmp_path / "hist.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(png).shape
    assert height > 200 and width > 200
    assert data["plot"] == {"path": "hist.png", "bars": [stored.counts]}  # read back from the saved figure


def test_plot_of_several_circuits_has_one_series_each(qd: Any, stored: Any, tmp_path: Path) -> None:
    out, _ = qd.main("job", stored.many, "--plot", "many.png", "--json")
    assert (tmp_path / "many.png").stat().st_size > 1000
    assert json.loads(out)["plot"]["bars"] == stored.many_counts
    out, _ = qd.main("job", stored.done, "--plot", "again.png")
    assert out.splitlines()[-1] == "histogram written to again.png"


def test_plot_histogram_receives_the_jobs_counts(
    qd: Any, stored: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qiskit.visualization

    received: list[Any] = []
    real = qiskit.visualization.plot_histogram

    def spy(data: Any, *args: Any, **kwargs: Any) -> Any:
        received.append(data)
        return real(data, *args, **kwargs)

    monkeypatch.setattr(qiskit.visualization, "plot_histogram", spy)
    qd.main("job", stored.many, "--plot", "spy.png", "--json")
    qd.main("job", stored.done, "--plot", "spy.png", "--json")
    assert received == [stored.many_counts, stored.counts]


def test_plot_errors_are_one_line(qd: Any, stored: Any) -> None:
    unfinished = qd("job", stored.queued, "--plot", "q.png", expect=1)
    assert qd.errors(unfinished.stderr) == ["error: job queued-job is QUEUED; it has no counts to plot"]
    _, err = qd.main("job", stored.done, "--plot", "no/such/dir/h.png", expect=1)
    assert (
        err.startswith("error: cannot write the histogram to no/such/dir/h.png")
        and len(err.splitlines()) == 1
    )
