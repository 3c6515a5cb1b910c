"""AnalysisExplorerSource and the AppState wiring (issue 6): a tiny untrained run, no training."""

import json
import os

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")

from grokviz.core.config import ModelConfig, TrainConfig  # noqa: E402
from grokviz.core.data import SplitSpec  # noqa: E402
from grokviz.core.history import History  # noqa: E402
from grokviz.core.model import GrokTransformer  # noqa: E402
from grokviz.core.run import Run  # noqa: E402
from grokviz.core.tasks import Task  # noqa: E402
from grokviz.gui.explorer import AnalysisExplorerSource, ExplorerWidget, create_view  # noqa: E402

DIMS = dict(d_model=16, n_heads=2, d_head=8, d_mlp=32)


@pytest.fixture(scope="module")
def tiny_run():
    p = 11
    cfg = ModelConfig(p=p, **DIMS)
    states = []
    base = GrokTransformer(cfg).state_dict()  # the model seeds its own init: perturb for epoch 20
    generator = torch.Generator().manual_seed(0)
    for scale in (0.0, 0.5):
        states.append({k: (v + scale * torch.randn(v.shape, generator=generator) if v.is_floating_point() and
                           k.endswith(("W_E", "W_in", "W_out")) else v.clone()) for k, v in base.items()})
    return Run(Task("add", p), cfg, TrainConfig(epochs=20, device="cpu"), SplitSpec(frac_train=0.5), History(),
               checkpoint_epochs=[10], checkpoints=[states[0]], final_state_dict=states[1], epochs_trained=20)


def test_source_reorders_hooks_and_offers_weights(tiny_run):
    source = AnalysisExplorerSource(tiny_run, key_frequencies=[1, 3])
    names = source.hook_names()
    assert "blocks.0.hook_resid_post" in names and "W_E" in names and "W_logit" in names
    assert source.positions("W_E") == () and source.orderings("blocks.0.hook_resid_post")[1] == "[c, a]"
    t = source.get("blocks.0.hook_resid_post", "=", "[c, a]", 20)
    assert t.names == ("d_model", "c", "a") and t.shape == (16, 11, 11)
    # cell (c, a) is the input (a, b = c − a)
    model = tiny_run.model(20)
    tokens = torch.tensor([[4, (7 - 4) % 11, 11]])
    _, cache = model.run_with_cache(tokens)
    want = cache["blocks.0.hook_resid_post"][0, 2]
    torch.testing.assert_close(t.data[:, 7, 4], want, rtol=1e-4, atol=1e-5)
    overlays = source.overlays("blocks.0.hook_resid_post", "=", "[c, a]", 20)
    assert len(overlays) == 1 and next(iter(overlays.values())).shape == t.shape
    assert source.overlays("blocks.0.hook_resid_post", "=", "[a, b]", 20) == {}
    for weight in ("W_E", "W_pos", "W_U", "W_neur", "W_logit"):
        assert source.get(weight, None, None, 10).data.dim() >= 2
    assert source.context().task == tiny_run.task


def test_widget_follows_app_state(qtbot, tiny_run):
    from grokviz.gui.state import AppState

    app_state = AppState()
    widget = create_view(app_state)
    qtbot.addWidget(widget)
    app_state.set_run(tiny_run, summary={"key_freqs": [2, 5]})
    assert widget.state.tensor is None and widget._pending_load  # hidden: nothing computed yet
    widget.show()
    qtbot.waitUntil(lambda: widget.state.tensor is not None, timeout=10_000)
    assert widget.source_controls.hook_combo.currentText() == "blocks.0.hook_resid_post"  # the default hook
    assert widget.source.session is app_state.session  # the Explorer reads the app's one session
    widget.select(hook="blocks.0.hook_resid_post", position="=", ordering="[c, a]")
    assert widget.state.tensor.names == ("d_model", "c", "a")
    assert widget.state.context.key_frequencies == (2, 5)
    final = widget.state.tensor.data.clone()
    widget.state.set_index(1, 6)
    app_state.set_checkpoint_epoch(10)
    assert widget.epoch == 10 and widget.source_controls.epoch_label.text() == "checkpoint: epoch 10"
    qtbot.waitUntil(lambda: not torch.equal(widget.state.tensor.data, final), timeout=5000)
    assert not torch.equal(widget.state.tensor.data, final)
    assert widget.state.indices[1] == 6  # same layout: the slider stays
    assert widget.canvas.overlay_curves  # the c/2 cosine model
    app_state.set_run(None)
    assert widget.state.tensor is None


def test_export_figures(qtbot, tmp_path):
    from grokviz.gui.explorer.demo import wave_tensor

    widget = ExplorerWidget()
    qtbot.addWidget(widget)
    widget.show()
    widget.set_tensor(wave_tensor(13, 3))
    widget.state.set_roles(2, 1)
    widget.state.set_index(0, 2)
    paths = widget.export_figures(tmp_path)
    assert [os.path.basename(p) for p in paths] == ["explorer.png", "explorer.svg", "explorer.csv", "explorer.view.json"]
    assert all((tmp_path / f"explorer{ext}").stat().st_size > 100 for ext in (".png", ".svg", ".csv"))
    assert np.isfinite(widget.prepared.vmax)
    # the view written next to the figure restores it: same heatmap, same slice
    saved = json.loads((tmp_path / "explorer.view.json").read_text())
    again = ExplorerWidget()
    qtbot.addWidget(again)
    again.restore_view(saved)
    again.set_tensor(wave_tensor(13, 3))
    assert again.view_state() == widget.view_state()
    np.testing.assert_array_equal(again.canvas.image.image, widget.canvas.image.image)


def test_explorer_in_the_main_window_computes_in_a_worker(qtbot, window, small_run_file):
    """The Explorer tab runs the model on all p² inputs off the UI thread, then shows the tensor."""
    from tests.gui.conftest import open_and_wait

    open_and_wait(qtbot, window, small_run_file)
    explorer = window.view("Explorer")
    window.tabs.setCurrentWidget(explorer)
    qtbot.waitUntil(lambda: explorer.state.tensor is not None, timeout=60_000)
    assert explorer.state.tensor.names[-2:] == ("c", "a")
    epoch = window.state.epochs[1]
    window.state.set_checkpoint_epoch(epoch)
    qtbot.waitUntil(lambda: not explorer.loader.busy and explorer.loader.shown_key[3] == epoch,
                    timeout=60_000)
