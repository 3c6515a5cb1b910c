"""Which basis did the model learn (design.md §6a): W_E's concentration per ordering and operand."""

from __future__ import annotations

from grokviz.analysis.reports import report


@report("token_basis", "Learned token basis")
def token_basis(session, epoch):
    """Per operand: W_E's top-5 concentration in the additive, power and discrete-log orderings."""
    from grokviz.analysis.spectrum import token_basis as compute

    return compute(session.model(epoch), session.task)
