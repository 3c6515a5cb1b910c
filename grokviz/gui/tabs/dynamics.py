"""Dynamics tab: the weight trajectory (PCA path and step sizes per weight group), softmax collapse and
neuron commitment over training (design.md §6b); cursors follow the shared checkpoint."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtWidgets

from grokviz.analysis.session import session_of
from grokviz.gui import mechanism_figures as mf
from grokviz.gui.choice_combo import choice_combo
from grokviz.gui.tabs.base import AnalysisTab

MAX_CHECKPOINTS = 100  # neuron dynamics: evenly spread checkpoints (one neuron spectrum each)


class DynamicsView(AnalysisTab):
    title = "Dynamics"
    follows_checkpoint = False

    def build(self):
        controls = QtWidgets.QHBoxLayout()
        self.group_combo = choice_combo(mf.GROUP_LABELS)
        self.group_combo.currentIndexChanged.connect(self._draw_trajectory)
        controls.addWidget(QtWidgets.QLabel("weights:"))
        controls.addWidget(self.group_combo)
        controls.addStretch(1)
        self.body.addLayout(controls)
        grid = QtWidgets.QGridLayout()
        self.panels = {}
        for index, name in enumerate(("trajectory", "steps", "collapse", "neurons")):
            widget = pg.PlotWidget(background="w")
            grid.addWidget(widget, index // 2, index % 2)
            self.panels[name] = widget
        self.body.addLayout(grid, 1)
        self._marker = None
        self._cursors = []
        self._bar = None
        group = self.group_combo.currentData
        self.add_plot_export("trajectory", self.panels["trajectory"], lambda: mf.trajectory_csv(self.result[1], group()))
        self.add_plot_export("steps", self.panels["steps"], lambda: mf.trajectory_csv(self.result[1], group()))
        self.add_plot_export("collapse", self.panels["collapse"], lambda: mf.collapse_csv(self.result[0]))
        self.add_plot_export("neurons", self.panels["neurons"], lambda: mf.neuron_dynamics_csv(self.result[2]))

    def compute(self, run, epoch, context):
        session = session_of(run)

        def stage(start, share):
            if context is None:
                return {}
            return {"on_progress": lambda f, text: context.report(start + share * f, text),
                    "cancel": lambda: context.cancelled}
        collapse = session.report("softmax_collapse_history", **stage(0.0, 0.3))
        trajectory = session.report("weight_trajectory")
        dynamics = session.report("neuron_dynamics", max_checkpoints=MAX_CHECKPOINTS, **stage(0.3, 0.7))
        return collapse, trajectory, dynamics

    def describe(self, result):
        collapse, trajectory, dynamics = result
        summary = dynamics.to_json()
        own = (f" (under the run's own {collapse.training_loss}: {collapse.own_loss_collapsed[-1]:.3f})"
               if collapse.training_loss != "cross_entropy" and collapse.own_loss_collapsed else "")
        return (f"{len(trajectory.epochs)} checkpoints · final softmax collapse {collapse.collapsed[-1]:.3f}{own} · "
                f"{summary['committed_neurons']} neurons committed (median epoch {summary['median_commitment_epoch']}), "
                f"{summary['mean_switches']:.1f} cluster switches per neuron")

    def show_result(self, result):
        collapse, trajectory, dynamics = result
        for widget in self.panels.values():
            widget.getPlotItem().clear()
        self._cursors = [mf.draw_collapse(self.panels["collapse"].getPlotItem(), collapse, self.epoch)]
        self._bar = mf.draw_neuron_dynamics(self.panels["neurons"].getPlotItem(), dynamics, self.epoch,
                                            colorbar=self._bar or True)
        self._draw_trajectory()

    def _draw_trajectory(self, *_):
        if self.result is None:
            return
        trajectory, group = self.result[1], self.group_combo.currentData()
        for name in ("trajectory", "steps"):
            self.panels[name].getPlotItem().clear()
        self._marker = mf.draw_trajectory(self.panels["trajectory"].getPlotItem(), trajectory, group, self.epoch)
        self._cursors = self._cursors[:1] + [mf.draw_steps(self.panels["steps"].getPlotItem(), trajectory, group,
                                                            self.epoch)]

    def checkpoint_moved(self, epoch):
        if self.result is None:
            return
        for cursor in self._cursors:
            if cursor is not None:
                cursor.setValue(float(epoch))
                cursor.label.setFormat(f"epoch {int(epoch)}")
        if self._marker is not None:
            mf.move_trajectory_marker(self._marker, self.result[1], self.group_combo.currentData(), epoch)

    def clear(self):
        for widget in self.panels.values():
            widget.getPlotItem().clear()


def create_view(state):
    return DynamicsView(state)
