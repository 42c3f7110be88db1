"""A recipe's ``model.cell`` section as the cell factory a task builds its layer stacks with."""

from __future__ import annotations

from typing import Any

from seqkit.errors import SeqkitError, one_line
from seqkit.plugin.manager import PluginManager
from seqkit.recipe.load import Recipe
from seqkit.recipe.sections import cell_options, split_section
from seqkit.rnn.layers import create_rnn
from seqkit.rnn.recurrent import Recurrent
from seqkit.task import CellFactory


def cell_factory(
    section: dict[str, Any], manager: PluginManager, recipe: Recipe | None = None, *, tbptt_steps: int | None = None
) -> CellFactory:
    """``factory(input_size, **changes) -> Recurrent`` from ``model.cell``; a task calls it once per encoder/decoder.

    *changes* override the section's runner options for one layer stack (a decoder passes ``bidirectional=False``),
    or set the cell's own options (values the task learned from the data, e.g. a feature mean). A cell builder's
    ValueError/TypeError becomes a :class:`SeqkitError` naming ``model.cell`` (with *recipe*, its file and line).
    Every stack is built with *tbptt_steps* (the recipe's ``task.tbptt_steps``) unless *changes* name another.
    """
    runner, options = split_section(section, cell_options)
    runner = cell_options(**runner)
    kind = section["kind"]

    def factory(input_size: int, **changes: Any) -> Recurrent:
        chosen = {**runner, **{k: v for k, v in changes.items() if k in runner}}
        chosen_cell = {**options, **{k: v for k, v in changes.items() if k not in runner}}
        try:
            return create_rnn(
                kind, input_size, plugins=manager, **{"tbptt_steps": tbptt_steps, **chosen, **chosen_cell}
            )
        except (ValueError, TypeError) as error:  # InvalidArgumentError included: name where it came from
            where = recipe.where("model.cell") if recipe is not None else "model.cell"
            raise SeqkitError(f"{where}: cell '{kind}' rejected its options: {one_line(error)}") from None

    return factory
