"""grokviz: train, load and explore small transformers that grok modular arithmetic.

Notebook use needs no Qt::

    from grokviz import load_run, open_session
    run = load_run("run.pt")
    model = run.model()            # final weights
    logits, cache = model.run_with_cache(run.tokens())

    session = open_session("run.pt")                      # the same numbers the app and CLI show
    session.report("key_frequencies").frequencies         # any report of grokviz.analysis.reports
    session.report("symmetry", epoch=5000).scores()
"""

from grokviz.core.version import __version__

__all__ = ["__version__", "load_run", "open_session", "GrokvizError"]


def load_run(path, task=None):
    """Open a run file of any supported format (grokviz, TransformerLens demo, Nanda)."""
    from grokviz.core.runfile import load_run as _load_run

    return _load_run(path, task=task)


def open_session(path, task=None):
    """Open a run file and its :class:`~grokviz.analysis.session.RunSession`: cached, thread-safe reports
    (``session.report(name, epoch)``; names from ``grokviz.analysis.reports.names()``)."""
    from grokviz.analysis.session import open_session as _open_session

    return _open_session(path, task=task)


def __getattr__(name):
    if name == "GrokvizError":
        from grokviz.core.errors import GrokvizError

        return GrokvizError
    raise AttributeError(f"module 'grokviz' has no attribute {name!r}")
