"""seqkit plugin: the ``decay`` cell, the ``series_class`` task and the ``synthetic_series``/``series_file`` sources."""

import seqkit


@seqkit.hookimpl
def register_cells(register: seqkit.RegisterCell) -> None:
    from seqkit_series.cell import DecayCell

    register(seqkit.Spec("decay", build=DecayCell, description="RNN whose state decays while inputs are missing"))


@seqkit.hookimpl
def register_tasks(register: seqkit.RegisterTask) -> None:
    from seqkit_series.task import SeriesTask

    register(seqkit.Spec("series_class", build=SeriesTask, description="classify numeric series with gaps"))


@seqkit.hookimpl
def register_datasets(register: seqkit.RegisterDataset) -> None:
    from seqkit_series.data import series_file, synthetic_series

    register(seqkit.Spec("synthetic_series", build=synthetic_series, description="rising or falling series"))
    register(seqkit.Spec("series_file", build=series_file, description="label<TAB>v1,v2,,v4 lines"))
