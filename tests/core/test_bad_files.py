"""A corpus of malformed run files: every one is refused with a one-line RunFileError naming the file.

Also: no file can run code (pickle ``__reduce__`` payloads would create a sentinel file), absurd
declared sizes do not allocate, and ``python -m grokviz info FILE`` exits non-zero without a
traceback for each of them.
"""

from __future__ import annotations

import builtins
import functools
import io
import json
import os
import pickle
import re
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import grokviz
from grokviz.core import runfile
from grokviz.core.config import ModelConfig, TrainConfig
from grokviz.core.data import SplitSpec
from grokviz.core.errors import RunFileError
from grokviz.core.history import History
from grokviz.core.importers import checksum
from grokviz.core.model import GrokTransformer
from grokviz.core.run import Run
from grokviz.core.tasks import Task
from tests.core.test_importers import (
    NANDA_EPOCHS,
    NANDA_P,
    SMALL,
    demo_config,
    demo_payload,
    nanda_dict,
    nanda_model,
    one_thread,
    small_model,
    state_of,
    write_demo_files,
)

P = 7
MEMORY_LIMIT_MB = 500

# ---------------------------------------------------------------------------------------------
# Payloads: unpickling any of these would run code
# ---------------------------------------------------------------------------------------------


class SystemPayload:
    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


class OpenPayload:
    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (builtins.open, (self.sentinel, "w"))


class ExecPayload:
    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (builtins.exec, (f"open({self.sentinel!r}, 'w').close()",))


# ---------------------------------------------------------------------------------------------
# Valid fixtures to break
# ---------------------------------------------------------------------------------------------


def small_config(p: int = P) -> ModelConfig:
    return ModelConfig(p=p, **SMALL)


def grokviz_run_dict(p: int = P) -> dict:
    """A valid grokviz run dict (runfile.run_to_dict of a Run built directly)."""
    cfg = small_config(p)
    state = GrokTransformer(cfg).state_dict()
    history = History.from_columns(
        epoch=[10, 20], train_loss=[1.0, 0.5], test_loss=[2.0, 1.5], train_acc=[0.5, 0.9], test_acc=[0.1, 0.2]
    )
    run = Run(
        task=Task("add", p),
        model_config=cfg,
        train_config=TrainConfig(epochs=20, checkpoint_every=10),
        split=SplitSpec(),
        history=history,
        checkpoint_epochs=[10, 20],
        checkpoints=[{k: v.clone() for k, v in state.items()}, {k: v.clone() for k, v in state.items()}],
        final_state_dict={k: v.clone() for k, v in state.items()},
        epochs_trained=20,
    )
    return runfile.run_to_dict(run)


def valid_run_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save(grokviz_run_dict(), buffer)
    return buffer.getvalue()


def demo_plain(p: int = P) -> dict:
    """A Grokking-demo dict without its config (the writer subprocess adds the pickled object)."""
    models = [small_model(p, seed) for seed in (1, 2)]
    perm = torch.randperm(p * p, generator=torch.Generator().manual_seed(598))
    cut = int(p * p * 0.3)
    return demo_payload(state_of(models[1]), [state_of(models[0]), state_of(models[1])], [99, 199], 200, perm[:cut], perm[cut:])


def nanda_plain() -> dict:
    models = [nanda_model(NANDA_P, seed) for seed in range(10, 10 + len(NANDA_EPOCHS))]
    return nanda_dict(models, final=None)


# ---------------------------------------------------------------------------------------------
# The corpus: name → builder(directory, context) returning the file (or directory) path
# ---------------------------------------------------------------------------------------------

CASES: dict = {}
ABSURD = set()  # cases whose declared sizes are absurd: peak memory is checked


def case(name: str, absurd: bool = False):
    def register(builder):
        CASES[name] = builder
        if absurd:
            ABSURD.add(name)
        return builder

    return register


def save(directory: Path, name: str, obj, **kwargs) -> Path:
    path = directory / f"{name}.pt"
    torch.save(obj, path, **kwargs)
    return path


def write(directory: Path, name: str, content: bytes) -> Path:
    path = directory / name
    path.write_bytes(content)
    return path


def changed_case(directory: Path, name: str, change, fixture) -> Path:
    """Save a fresh valid ``fixture()`` dict as ``name`` after ``change(data)`` has broken it
    (a grokviz dict's checksum is recomputed, so the check under test is the one that fires)."""
    data = fixture()
    change(data)
    return save(directory, name, reseal(data))


def reseal(data):
    """``data`` with its grokviz checksum (if any) recomputed after a change."""
    if isinstance(data, dict) and checksum.KEY in data:
        data = {key: value for key, value in data.items() if key != checksum.KEY}
        data[checksum.KEY] = checksum.checksum_entry(data)
    return data


grokviz_case = functools.partial(changed_case, fixture=grokviz_run_dict)
nanda_case = functools.partial(changed_case, fixture=nanda_plain)


def changed_cases(fixture, cases: dict, absurd: set = frozenset()) -> None:
    """Register one case per ``case name: (file name, change)``: ``fixture()`` broken by ``change``."""
    for case_name, (name, change) in cases.items():

        def build(directory, context, name=name, change=change):
            return changed_case(directory, name, change, fixture)

        case(case_name, absurd=case_name in absurd)(build)


def demo_case(directory: Path, context: dict, name: str, plain: dict | None = None, config: dict | None = None, **job) -> Path:
    """Queue a Grokking-demo file for the writer subprocess (real pickled config)."""
    source = save(directory, f"{name}.plain", plain if plain is not None else demo_plain())
    output = directory / f"{name}.pt"
    context["demo_jobs"].append({"input": str(source), "output": str(output), "config": config or demo_config(P), **job})
    return output


# -- not a torch file at all ----------------------------------------------------------------


@case("empty_file")
def _(directory, context):
    return write(directory, "empty.pt", b"")


@case("random_bytes")
def _(directory, context):
    return write(directory, "random.pt", torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0)).to(torch.uint8).numpy().tobytes())


@case("plain_text")
def _(directory, context):
    return write(directory, "notes.pt", b"epoch,train_loss\n0,4.7\n100,0.01\n")


for fraction in (0.1, 0.5, 0.9, 0.999):

    @case(f"truncated_zip_{fraction}")
    def _(directory, context, fraction=fraction):
        data = context["valid_bytes"]
        return write(directory, f"truncated_{fraction}.pt", data[: int(len(data) * fraction)])


@case("zip_not_torch")
def _(directory, context):
    path = directory / "archive.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a model")
        archive.writestr("folder/data.txt", "1 2 3")
    return path


@case("directory")
def _(directory, context):
    path = directory / "a_directory.pt"
    path.mkdir()
    return path


@case("missing_file")
def _(directory, context):
    return directory / "does_not_exist.pt"


# -- code execution attempts ----------------------------------------------------------------


@case("pickle_reduce_open")
def _(directory, context):
    return write(directory, "open.pkl", pickle.dumps(OpenPayload(context["sentinels"] / "open"), protocol=2))


@case("pickle_reduce_os_system")
def _(directory, context):
    return write(directory, "system.pkl", pickle.dumps({"model": SystemPayload(context["sentinels"] / "system_pickle")}))


@case("torch_zip_reduce_os_system")
def _(directory, context):
    return save(directory, "zip_system", {"model": SystemPayload(context["sentinels"] / "system_zip")})


@case("torch_zip_reduce_exec")
def _(directory, context):
    data = grokviz_run_dict()
    data["notes"] = [ExecPayload(context["sentinels"] / "exec_zip")]
    return save(directory, "zip_exec", data)


@case("torch_legacy_reduce_os_system")
def _(directory, context):
    payload = {"model": SystemPayload(context["sentinels"] / "system_legacy")}
    return save(directory, "legacy_system", payload, _use_new_zipfile_serialization=False)


@case("demo_config_with_payload")
def _(directory, context):
    """The TL-config fallback must not open the door to anything else in the file."""
    return demo_case(directory, context, "demo_payload", extras=["payload"], sentinel=str(context["sentinels"] / "demo_system"))


@case("demo_other_transformer_lens_object")
def _(directory, context):
    return demo_case(directory, context, "demo_other_object", extras=["other_tl_object"])


@case("demo_config_state_not_a_dict")
def _(directory, context):
    return demo_case(directory, context, "demo_state_list", extras=["state_not_a_dict"])


# -- wrong top-level type, unknown dicts ----------------------------------------------------


@case("top_level_list")
def _(directory, context):
    return save(directory, "list", [1, 2, 3])


@case("top_level_tensor")
def _(directory, context):
    return save(directory, "tensor", torch.zeros(3, 3))


@case("top_level_int")
def _(directory, context):
    return save(directory, "int", 42)


@case("unknown_dict")
def _(directory, context):
    return save(directory, "unknown", {"weights": torch.zeros(3), "lr": 0.1})


# -- grokviz format -------------------------------------------------------------------------


changed_cases(
    grokviz_run_dict,
    {
        "grokviz_missing_task": ("g_missing_task", lambda d: d.pop("task")),
        "grokviz_missing_format": ("g_missing_format", lambda d: d.pop("format")),
        "grokviz_newer_format_version": ("g_newer", lambda d: d.update(format_version=runfile.FORMAT_VERSION + 1)),
        "grokviz_wrong_shape": ("g_shape", lambda d: d["final_state_dict"].update({"embed.W_E": torch.zeros(P + 1, 15)})),
        "grokviz_absurd_d_model": ("g_absurd_d_model", lambda d: d["model_config"].update(d_model=10**9)),
        "grokviz_checkpoint_epochs_2d": ("g_epochs_2d", lambda d: d.update(checkpoint_epochs=torch.tensor([[10], [20]]))),
        "grokviz_notes_not_a_list": ("g_notes", lambda d: d.update(notes=5)),
    },
    absurd={"grokviz_absurd_d_model"},
)


@case("grokviz_nan_weight")
def _(directory, context):
    def change(data):
        data["final_state_dict"]["blocks.0.mlp.W_in"][3, 4] = float("nan")

    return grokviz_case(directory, "g_nan", change)


@case("grokviz_inf_checkpoint")
def _(directory, context):
    def change(data):
        data["checkpoint_stack"]["unembed.W_U"][1, 0, 0] = float("inf")

    return grokviz_case(directory, "g_inf", change)


@case("grokviz_mixed_checkpoints")
def _(directory, context):
    other = GrokTransformer(small_config(11)).state_dict()["unembed.W_U"]

    def change(data):  # checkpoints of another p's shape
        data["checkpoint_stack"]["unembed.W_U"] = other.expand(len(data["checkpoint_epochs"]), *other.shape).clone()

    return grokviz_case(directory, "g_mixed", change)


@case("grokviz_stack_rows")
def _(directory, context):
    def change(data):  # one row fewer than there are checkpoint epochs
        data["checkpoint_stack"]["embed.W_E"] = data["checkpoint_stack"]["embed.W_E"][1:].clone()

    return grokviz_case(directory, "g_rows", change)


@case("grokviz_absurd_p", absurd=True)
def _(directory, context):
    def change(data):
        data["task"]["p"] = 10**9
        data["model_config"]["p"] = 10**9

    return grokviz_case(directory, "g_absurd_p", change)


# -- TransformerLens Grokking demo ----------------------------------------------------------


@case("demo_missing_train_indices")
def _(directory, context):
    return demo_case(directory, context, "d_missing", drop=["train_indices"])


@case("demo_wrong_shape")
def _(directory, context):
    plain = demo_plain()
    plain["model"]["blocks.0.attn.W_Q"] = torch.zeros(2, 16, 4)
    return demo_case(directory, context, "d_shape", plain)


@case("demo_nan_weight")
def _(directory, context):
    plain = demo_plain()
    plain["model"]["embed.W_E"][2, 3] = float("nan")
    return demo_case(directory, context, "d_nan", plain)


@case("demo_inf_checkpoint")
def _(directory, context):
    plain = demo_plain()
    plain["checkpoints"][0]["blocks.0.mlp.b_out"][1] = -float("inf")
    return demo_case(directory, context, "d_inf", plain)


@case("demo_p_disagrees")
def _(directory, context):
    return demo_case(directory, context, "d_p", config=demo_config(P, d_vocab=12, d_vocab_out=11))


@case("demo_absurd_p", absurd=True)
def _(directory, context):
    return demo_case(directory, context, "d_absurd", config=demo_config(P, d_vocab=10**9 + 1, d_vocab_out=10**9, d_mlp=10**9))


@case("demo_mixed_checkpoints")
def _(directory, context):
    plain = demo_plain()
    plain["checkpoints"][0] = state_of(small_model(11, 5))
    return demo_case(directory, context, "d_mixed", plain)


@case("demo_unsorted_epochs")
def _(directory, context):
    plain = demo_plain()
    plain["checkpoint_epochs"] = [199, 99]
    return demo_case(directory, context, "d_unsorted", plain)


@case("demo_negative_epoch")
def _(directory, context):
    plain = demo_plain()
    plain["checkpoint_epochs"] = [-1, 199]
    return demo_case(directory, context, "d_negative", plain)


@case("demo_overlapping_indices")
def _(directory, context):
    plain = demo_plain()
    plain["test_indices"] = torch.cat([plain["test_indices"], plain["train_indices"][:3]])
    return demo_case(directory, context, "d_overlap", plain)


@case("demo_indices_out_of_range")
def _(directory, context):
    plain = demo_plain()
    plain["train_indices"] = torch.cat([plain["train_indices"], torch.tensor([P * P + 5])])
    return demo_case(directory, context, "d_range", plain)


@case("demo_expanded_losses", absurd=True)
def _(directory, context):
    """A stride-0 view: 8 bytes stored, 10⁹ float64 losses declared."""
    plain = demo_plain()
    plain["train_losses"] = torch.zeros(1, dtype=torch.float64).expand(10**9)
    return demo_case(directory, context, "d_expanded", plain)


# -- Nanda ----------------------------------------------------------------------------------


changed_cases(
    nanda_plain,
    {
        "nanda_missing_train_losses": ("n_missing", lambda d: d.pop("train_losses")),
        "nanda_missing_weights": ("n_no_weights", lambda d: d.pop("state_dicts")),
        "nanda_missing_weight_key": ("n_missing_key", lambda d: d["state_dicts"][2].pop("blocks.0.mlp.b_in")),
        "nanda_wrong_shape": ("n_shape", lambda d: d["state_dicts"][1].update({"blocks.0.attn.W_O": torch.zeros(16, 12)})),
        "nanda_p_disagrees": ("n_p", lambda d: d["config"].update(p=11, d_vocab=12)),
        "nanda_absurd_p": ("n_absurd", lambda d: d["config"].update(p=10**9, d_vocab=10**9 + 1, d_mlp=10**9, num_epochs=10**12)),
        "nanda_negative_epochs": ("n_negative", lambda d: d.update(epochs=[-10, 10, 20, 30, 40])),
        "nanda_unsorted_epochs": ("n_unsorted", lambda d: d.update(epochs=[0, 20, 10, 30, 40])),
        "nanda_bad_test_loss_count": ("n_test_count", lambda d: d.update(test_losses=[1.0] * 7)),
        "nanda_layer_norm": ("n_ln", lambda d: d["config"].update(use_ln=True)),
    },
    absurd={"nanda_absurd_p"},
)


@case("nanda_nan_weight")
def _(directory, context):
    def change(data):
        data["state_dicts"][3]["blocks.0.attn.W_V"][0, 1, 2] = float("nan")

    return nanda_case(directory, "n_nan", change)


@case("nanda_expanded_weight", absurd=True)
def _(directory, context):
    """10¹² declared values stored in 4 bytes, where the config leaves d_mlp open."""

    def change(data):
        del data["config"]["d_mlp"]
        data["state_dicts"][-1]["blocks.0.mlp.W_in"] = torch.zeros(1).expand(10**6, 10**6)

    return nanda_case(directory, "n_expanded", change)


@case("nanda_mixed_state_dicts")
def _(directory, context):
    other = nanda_dict([nanda_model(11, 1)], final=None)["state_dicts"][0]
    return nanda_case(directory, "n_mixed", lambda d: d["state_dicts"].__setitem__(0, other))


@case("expanded_top_level_tensor", absurd=True)
def _(directory, context):
    return save(directory, "expanded", torch.zeros(1).expand(10**6, 10**6))


# ---------------------------------------------------------------------------------------------
# Building the corpus
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bad files")  # a space in the path, on purpose
    sentinels = tmp_path_factory.mktemp("sentinels")
    context = {"sentinels": sentinels, "valid_bytes": valid_run_bytes(), "demo_jobs": []}
    with one_thread():
        paths = {name: builder(directory, context) for name, builder in CASES.items()}
    write_demo_files(context["demo_jobs"], directory)
    for name, path in paths.items():
        assert name in ("missing_file",) or path.exists(), name
    return {"paths": paths, "sentinels": sentinels}


def assert_no_sentinel(corpus):
    created = sorted(p.name for p in corpus["sentinels"].iterdir())
    assert not created, f"a file ran code: {created}"


def _status(field: str) -> int:
    match = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1))


def peak_growth_mb(action) -> float:
    """Peak RSS growth while ``action`` runs (VmHWM reset via clear_refs; else ru_maxrss)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _status("VmRSS")
        action()
        return (_status("VmHWM") - before) / 1024
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        action()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_corpus_is_large():
    assert len(CASES) >= 25
    assert len(ABSURD) >= 3


def test_valid_fixtures_load(tmp_path):
    """The corpus breaks valid files: the unbroken ones load."""
    path = save(tmp_path, "valid", grokviz_run_dict())
    assert grokviz.load_run(path).p == P
    nanda = save(tmp_path, "nanda", nanda_plain())
    assert grokviz.load_run(nanda).source_format == "nanda"
    demo = save(tmp_path, "demo_plain_config", {**demo_plain(), "config": demo_config(P)})
    assert grokviz.load_run(demo, task="add").checkpoint_epochs == [100, 200]


@pytest.mark.parametrize("name", sorted(CASES))
def test_load_run_refuses(name, corpus):
    path = corpus["paths"][name]

    def load():
        with pytest.raises(RunFileError) as info:
            grokviz.load_run(path)
        return info

    outcome = {}
    growth = peak_growth_mb(lambda: outcome.setdefault("info", load()))
    message = str(outcome["info"].value)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"{path}: ")
    assert len(message) < len(str(path)) + 300, message
    assert "Traceback" not in message
    assert_no_sentinel(corpus)
    if name in ABSURD:
        assert growth < MEMORY_LIMIT_MB, f"{name}: peak RSS grew by {growth:.0f} MB"


# Runs ``python -m grokviz info FILE`` for every file inside one interpreter (one torch import),
# with fd 1/2 redirected per file; an exception escaping the CLI is printed as a traceback.
CLI_DRIVER = r"""
import json, os, runpy, sys, tempfile, traceback

files_json, results_json = sys.argv[1], sys.argv[2]
results = {}
for name, path in json.load(open(files_json)).items():
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as err, open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            sys.argv = ["grokviz", "info", path]
            runpy.run_module("grokviz", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit:
            code = exit.code
            if code is None:
                code = 0
            elif not isinstance(code, int):
                print(code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
        err.seek(0)
        results[name] = {"code": code, "stderr": err.read().decode("utf-8", "replace")}
with open(results_json, "w") as stream:
    json.dump(results, stream)
"""


def cli_env() -> dict:
    env = dict(os.environ)
    root = str(Path(grokviz.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_cli_info_refuses_every_file(corpus, tmp_path):
    files = tmp_path / "files.json"
    files.write_text(json.dumps({name: str(path) for name, path in corpus["paths"].items()}))
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "-c", CLI_DRIVER, str(files), str(out)], capture_output=True, text=True, env=cli_env(), timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads(out.read_text())
    problems = []
    for name in sorted(CASES):
        code, stderr = results[name]["code"], results[name]["stderr"]
        if code == 0:
            problems.append(f"{name}: exit code 0")
        if "Traceback" in stderr:
            problems.append(f"{name}: traceback: {stderr.strip().splitlines()[-1]}")
    assert not problems, "\n".join(problems)
    assert_no_sentinel(corpus)


@pytest.mark.parametrize("name", ["torch_zip_reduce_os_system", "truncated_zip_0.5", "demo_absurd_p"])
def test_cli_info_real_process(name, corpus):
    """The same, end to end: a real ``python -m grokviz info FILE`` process."""
    path = corpus["paths"][name]
    result = subprocess.run(
        [sys.executable, "-m", "grokviz", "info", str(path)], capture_output=True, text=True, env=cli_env(), timeout=120
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert_no_sentinel(corpus)
