"""``check_task(input_size=...)``: a task whose inputs are features is checked at the width it says it reads."""

from __future__ import annotations

from typing import ClassVar

import pytest

import seqkit
from seqkit.testing import ConformanceError, check_task
from tests.helpers import ROOT

PACKAGE = ROOT / "tests" / "thirdparty" / "seqkit-series"


@pytest.fixture
def series(monkeypatch):
    monkeypatch.syspath_prepend(str(PACKAGE))
    import seqkit_series
    from seqkit_series.task import SeriesModel, SeriesTask

    class WidthTask(SeriesTask):
        """The series task with a model option naming its features' width, as a multivariate task would have."""

        seen: ClassVar[list[int]] = []

        def build_model(self, cell_factory, tokenizer, input_size: int = 5):
            WidthTask.seen.append(input_size)
            return SeriesModel(cell_factory(input_size, fill=self.mean), len(self.labels))

    extra = seqkit.hookimpl(lambda register: register(seqkit.Spec("series_width", build=WidthTask)))
    plugin = type("WidthPlugin", (), {"register_tasks": staticmethod(extra)})
    manager = seqkit.PluginManager([("series", seqkit_series), ("width", plugin)], entry_points=False)
    return manager, WidthTask


def kit(manager, kind, **options):
    return check_task(
        kind, dataset="synthetic_series", dataset_options={"size": 48}, tokenizer=None, plugins=manager, **options
    )


def test_the_series_task_passes_at_its_width(series):
    manager, _ = series
    assert "training" in kit(manager, "series_class", cell="decay", input_size=1)


def test_a_task_that_builds_its_layer_at_another_width_fails_naming_both(series):
    manager, _ = series
    with pytest.raises(ConformanceError) as error:
        kit(manager, "series_class", cell="decay", input_size=3)
    assert "task 'series_class'" in str(error.value)
    assert "build_model: its first recurrent layer takes 1 features per step; expected input_size=3" in str(error.value)


def test_build_model_gets_the_width_where_it_takes_one(series):
    manager, task = series
    task.seen.clear()
    assert "save/load" in kit(manager, "series_width", cell="decay", input_size=1)
    assert set(task.seen) == {1}  # never its default of 5, in every model the kit builds
    with pytest.raises(ConformanceError, match="forward_loss"):  # without it, the 5-wide layer meets 1-wide data
        kit(manager, "series_width", cell="decay")
