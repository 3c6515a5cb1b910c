"""``grokviz analyze``'s combined report, composed from the other reports (its keys are a stable interface)."""

from __future__ import annotations

from grokviz.analysis.reports import report

AT_A_HOOKS = ("hook_embed", "blocks.0.hook_resid_pre")


@report("analyze", "Everything grokviz analyze prints")
def analyze(session, epoch, with_progress: bool = False, on_progress=None, cancel=None):
    """Key frequencies, learned token basis, clusters, symmetry, c/2 model, progress measures and phases
    at ``epoch`` as one dict, all in the task's coordinates (design.md §6a).

    ``key_freqs`` (and their scores, W_U cross-check and clusters) are this checkpoint's; the c/2
    model and the measures use the run's (final) key frequencies, ``measure_key_freqs``.
    ``with_progress`` adds every checkpoint's measures (``progress``) and the end of clean-up.
    """
    keys = session.report("key_frequencies", epoch)
    basis = session.report("token_basis", epoch)
    coords = session.task.coordinates()
    neurons = session.report("neurons", epoch)
    symmetry = session.report("symmetry", epoch)
    at_a = session.report("symmetry", epoch, position="a", hooks=AT_A_HOOKS).scores()
    measures = session.report("measures", epoch)
    result = {
        "run": str(session.run.path or ""),
        "task": session.task.spec,
        "formula": session.task.formula,
        "epoch": epoch,
        "coordinates": {"n": coords.n, "a": coords.phi.name, "b": coords.psi.name, "c": coords.chi.name},
        "key_freqs": keys.frequencies,
        "key_freqs_per_operand": keys.per_operand,
        "key_freq_harmonics": keys.harmonics,
        "key_freq_scores": keys.scores,
        "key_freqs_W_U": keys.from_W_U.frequencies,
        "key_freqs_agree": keys.agree,
        "measure_key_freqs": symmetry.key_freqs,
        "token_basis": {operand: {"best": found.best, "concentration": found.concentration}
                        for operand, found in basis.items()},
        "neuron_clusters": dict(neurons.cluster_sizes),
        "neurons_clustered": neurons.neurons_clustered,
        "symmetry": symmetry.scores(),
        "symmetry_definition": {"defined": symmetry.defined, "reason": symmetry.reason,
                                "definition": "corr over inputs of x(a, b) and x(b, a)"},
        "symmetry_at_a": {hook: at_a[hook] for hook in AT_A_HOOKS},
        "c2_model_r2": symmetry.explained_by_hook(),
        "layout_note": symmetry.note,
        **{name: measures[name] for name in ("restricted_loss", "excluded_loss", "excluded_loss_per_freq",
                                             "train_loss", "test_loss", "cos_sim", "weight_norm", "gini_W_E",
                                             "gini_W_L")},
        "clock_pizza": session.report("clock_pizza", epoch).to_json(),  # design.md §6b
        "notes": keys.notes,
    }
    if with_progress:
        result["progress"] = session.report("progress", on_progress=on_progress, cancel=cancel).records()
    result["phases"] = session.report("phases", with_progress=with_progress, on_progress=on_progress,
                                      cancel=cancel).to_dict()
    return result
