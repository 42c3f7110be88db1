"""seqkit plugin: the ``mgu`` cell."""

import seqkit


@seqkit.hookimpl
def register_cells(register):
    register(seqkit.Spec("mgu", build="seqkit_mgu.cell:MGUCell", description="minimal gated unit (Zhou et al., 2016)"))
