"""seqkit plugin: the ``mgu`` cell."""

import seqkit


@seqkit.hookimpl
def register_cells(register):
    from seqkit_mgu.cell import MGUCell

    register(seqkit.Spec("mgu", build=MGUCell, description="minimal gated unit (Zhou et al., 2016)"))
