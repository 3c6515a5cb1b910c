"""Issue 18's battery: files built to exhaust memory or time, or to confuse the messages.

Every case is opened with ``python -m grokviz info FILE`` inside a process limited by
``RLIMIT_AS`` (:data:`MEMORY_LIMIT`), and must end within :data:`TIME_LIMIT` seconds with exit
code 2 and one line on stderr that names the actual problem (:data:`EXPECT`). The cases run in
one driver process (one torch import), each with its peak RSS (``VmHWM``) and time recorded; the
most dangerous ones also run as real CLI processes of their own. The legitimate large-p Nanda
file must load, within the same limits.
"""

from __future__ import annotations

import io
import json
import pickle
import resource
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

import grokviz
from grokviz.core.config import ModelConfig
from grokviz.core.importers import checksum
from grokviz.core.model import GrokTransformer
from tests.core.test_bad_files import cli_env, demo_plain, grokviz_run_dict, nanda_plain, reseal
from tests.core.test_importers import demo_config, one_thread, state_of, to_nanda, write_demo_files

MEMORY_LIMIT = 3 * 1024**3
TIME_LIMIT = 20.0
P = 7

# ---------------------------------------------------------------------------------------------
# Raw pickles and torch-like zip archives
# ---------------------------------------------------------------------------------------------

PROTO2 = b"\x80\x02"
STOP = b"."


def binput(index: int) -> bytes:
    return b"q" + bytes([index])


def binget(index: int) -> bytes:
    return b"h" + bytes([index])


def shared_tuple_key(depth: int) -> bytes:
    """``{t: 1}`` where ``t = (t', t')`` nested ``depth`` times: hashing ``t`` takes 2^depth steps."""
    body = b"}" + binput(0) + b")"
    for _ in range(depth):
        body += binput(1) + binget(1) + b"\x86"  # TUPLE2 of the same tuple twice
    return PROTO2 + body + b"K\x01s" + STOP  # BININT1 1, SETITEM


def cycle_pickle() -> bytes:
    """A list that contains itself."""
    return PROTO2 + b"]" + binput(0) + binget(0) + b"a" + STOP


def nested_lists(depth: int) -> bytes:
    return PROTO2 + b"]" * depth + b"a" * (depth - 1) + STOP


def torch_zip(path: Path, pickle_bytes: bytes, storages: dict | None = None, compress=zipfile.ZIP_STORED) -> Path:
    """A zip laid out as torch writes it (``archive/data.pkl``, ``archive/data/KEY``, …)."""
    with zipfile.ZipFile(path, "w", compression=compress) as archive:
        archive.writestr("archive/data.pkl", pickle_bytes)
        archive.writestr("archive/byteorder", "little")
        for key, content in (storages or {}).items():
            if isinstance(content, int):  # that many zero bytes, streamed (for deflated bombs)
                with archive.open(f"archive/data/{key}", "w", force_zip64=True) as record:
                    chunk = bytes(1 << 20)
                    for _ in range(content >> 20):
                        record.write(chunk)
            else:
                archive.writestr(f"archive/data/{key}", content)
        archive.writestr("archive/version", "3\n")
    return path


def float_storage_pickle(numel: int) -> bytes:
    """``{"t": tensor}`` whose storage ``0`` declares ``numel`` float32 values."""
    buffer = io.BytesIO()
    torch.save({"t": torch.zeros(3)}, buffer)
    with zipfile.ZipFile(buffer) as archive:
        name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        data = archive.read(name)
    marker = b"K\x03"  # BININT1 3: the storage's numel (and the size (3,))
    position = data.index(b"cpu") + data[data.index(b"cpu") :].index(marker)
    return data[:position] + b"J" + struct.pack("<i", numel) + data[position + len(marker) :]


class Call:
    """Pickles as ``func(*args)``: how a hostile file asks an allowed global to allocate."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def save(directory: Path, name: str, obj, **kwargs) -> Path:
    path = directory / f"{name}.pt"
    torch.save(obj, path, **kwargs)
    return path


def grokviz_changed(directory: Path, name: str, change) -> Path:
    data = grokviz_run_dict(P)
    change(data)
    return save(directory, name, reseal(data))


def flip_byte_in_record(path: Path, part: str, out: Path) -> Path:
    """A copy of ``path`` with one byte flipped in the middle of its largest record named ``…part…``."""
    content = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if part in i.filename), key=lambda i: i.file_size)
    header = info.header_offset
    name_length, extra_length = struct.unpack_from("<HH", content, header + 26)
    content[header + 30 + name_length + extra_length + info.file_size // 2] ^= 0x10
    out.write_bytes(bytes(content))
    return out


def tiny_nanda(p: int) -> dict:
    """A valid Nanda file of a tiny model at a large p (its logits over p² inputs are p³ values)."""
    cfg = ModelConfig(p=p, d_model=8, n_heads=1, d_head=8, d_mlp=8)
    state = to_nanda(state_of(GrokTransformer(cfg)), cfg, torch.randn(8, generator=torch.Generator().manual_seed(0)))
    config = {"p": p, "d_model": 8, "num_heads": 1, "d_head": 8, "d_mlp": 8, "fn_name": "add", "frac_train": 0.3, "seed": 0,
              "num_epochs": 10, "save_every": 10, "lr": 1e-3, "weight_decay": 1.0, "n_ctx": 3, "d_vocab": p + 1}
    return {"config": config, "train_losses": [1.0] * 10, "test_losses": [1.0], "epochs": [10], "state_dicts": [state]}


# ---------------------------------------------------------------------------------------------
# The corpus: case → (builder(directory, context) → path, expected words in the message)
# ---------------------------------------------------------------------------------------------

CASES: dict = {}
EXPECT: dict = {}
LOADS = {"nanda_tiny_model_p1021", "grokviz_without_checksum_loads", "legacy_format_loads"}  # legitimate: must open (exit 0)
OWN_PROCESS = ["bytearray_4e9", "demo_nodes_40_beside_data"]


def case(name: str, expect: str | None):
    def register(builder):
        CASES[name] = builder
        EXPECT[name] = expect
        return builder

    return register


def demo_job(directory, context, name, extras, depth=40):
    plain = directory / f"{name}.plain.pt"
    torch.save(context["demo_plain"], plain)
    output = directory / f"{name}.pt"
    context["demo_jobs"].append({"input": str(plain), "output": str(output), "config": demo_config(P), "extras": extras, "depth": depth})
    return output


# -- 1. shared references and other unbounded walks ------------------------------------------

for where, extras in (("beside_data", ["nodes_beside"]), ("in_config", ["nodes_in_config"]), ("bare_config", ["bare_config"])):
    for depth in (40, 28):
        expect = "nested more than" if depth == 40 else "billion laughs"

        @case(f"demo_nodes_{depth}_{where}", expect)
        def _(directory, context, name=f"demo_nodes_{depth}_{where}", extras=extras, depth=depth):
            return demo_job(directory, context, name, extras, depth)


@case("grokviz_nodes_in_notes", "billion laughs")
def _(directory, context):
    node = []
    for _ in range(28):
        node = [node, node]
    return grokviz_changed(directory, "g_nodes", lambda data: data.update(notes=node))


@case("legacy_hash_bomb_key", "MAX_KEY_NODES")
def _(directory, context):
    path = directory / "hash_bomb.pkl"
    path.write_bytes(shared_tuple_key(64))
    return path


@case("zip_hash_bomb_key", "MAX_KEY_NODES")
def _(directory, context):
    return torch_zip(directory / "hash_bomb_zip.pt", shared_tuple_key(64))


@case("reference_cycle", "reference cycle")
def _(directory, context):
    return torch_zip(directory / "cycle.pt", cycle_pickle())


@case("nested_100000_deep", "nested more than")
def _(directory, context):
    return torch_zip(directory / "deep.pt", nested_lists(100_000))


# -- 2. allocations a file can size -----------------------------------------------------------


@case("bytearray_4e9", "bytearray")
def _(directory, context):
    return save(directory, "bytearray", {"model": Call(bytearray, (4 * 10**9,))})


@case("float_tensor_class_1e9", "torch.FloatTensor")
def _(directory, context):
    return save(directory, "float_tensor", {"model": Call(torch.FloatTensor, (10**9,))})


@case("untyped_storage_4e9", "UntypedStorage")
def _(directory, context):
    return save(directory, "untyped", {"model": Call(torch.UntypedStorage, (4 * 10**9,))})


@case("set_copies_quadratic", "MAX_PICKLE_OBJECTS")
def _(directory, context):
    """One list of 10⁶ entries copied into a set 10³ times: 10⁹ objects from a 2 MB file."""
    items = b"]" + binput(0) + b"(" + b"N" * 1_000_000 + b"e"  # EMPTY_LIST, MARK, 10⁶ × None, APPENDS
    copies = b"](" + (b"c__builtin__\nset\n" + binget(0) + b"\x85R") * 1000 + b"e"  # [set(list)] × 1000
    return torch_zip(directory / "set_copies.pt", PROTO2 + items + copies + b"\x86" + STOP)


@case("zip_bomb_data_pkl", "zip bomb")
def _(directory, context):
    """data.pkl deflated: a 64 MB string in a ~64 KB file."""
    path = directory / "bomb_pkl.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("archive/data.pkl", "w", force_zip64=True) as record:
            record.write(PROTO2 + b"X" + struct.pack("<I", 64 << 20))
            chunk = b"a" * (1 << 20)
            for _ in range(64):
                record.write(chunk)
            record.write(STOP)
        archive.writestr("archive/version", "3\n")
    return path


@case("zip_bomb_storage", "zip bomb")
def _(directory, context):
    """A storage record of 64 MB of zeros, deflated to ~64 KB."""
    return torch_zip(directory / "bomb_storage.pt", float_storage_pickle(16 << 20), {"0": 64 << 20}, zipfile.ZIP_DEFLATED)


@case("storage_larger_than_record", "declares 40,000,000 bytes but the archive holds 12")
def _(directory, context):
    return torch_zip(directory / "storage_mismatch.pt", float_storage_pickle(10**7), {"0": bytes(12)})


@case("storage_record_missing", "is missing")
def _(directory, context):
    return torch_zip(directory / "storage_missing.pt", float_storage_pickle(3))


@case("nanda_tiny_model_p1021", None)
def _(directory, context):
    return save(directory, "nanda_p1021", tiny_nanda(1021))


# -- 3. grokviz files with tensors that are not plain real arrays, and odd scalar fields -------


def _replace_weight(make):
    def change(data):
        data["final_state_dict"]["embed.W_E"] = make(data["final_state_dict"]["embed.W_E"])

    return change


@case("grokviz_sparse_weight", "sparse tensor")
def _(directory, context):
    return grokviz_changed(directory, "g_sparse", _replace_weight(lambda w: w.to_sparse()))


@case("grokviz_meta_weight", "meta tensor")
def _(directory, context):
    return grokviz_changed(directory, "g_meta", _replace_weight(lambda w: torch.empty(w.shape, device="meta")))


@case("grokviz_quantized_weight", "quantized tensor")
def _(directory, context):
    with warnings.catch_warnings():  # "quantized tensor creation functions are deprecated"
        warnings.simplefilter("ignore")
        return grokviz_changed(directory, "g_quantized", _replace_weight(lambda w: torch.quantize_per_tensor(w, 0.1, 0, torch.qint8)))


@case("grokviz_complex_weight", "complex tensor")
def _(directory, context):
    return grokviz_changed(directory, "g_complex", _replace_weight(lambda w: w.to(torch.complex64)))


@case("grokviz_complex_checkpoint", "complex tensor")
def _(directory, context):
    def change(data):
        data["checkpoint_stack"]["unembed.W_U"] = data["checkpoint_stack"]["unembed.W_U"].to(torch.complex64)

    return grokviz_changed(directory, "g_complex_checkpoint", change)


@case("grokviz_wall_time_string", "'wall_time' is 'ten minutes'")
def _(directory, context):
    return grokviz_changed(directory, "g_wall_str", lambda data: data.update(wall_time="ten minutes"))


@case("grokviz_wall_time_list", "'wall_time' is a list")
def _(directory, context):
    return grokviz_changed(directory, "g_wall_list", lambda data: data.update(wall_time=[1.0, 2.0]))


@case("grokviz_status_nodes", "'status' is a list")
def _(directory, context):
    return grokviz_changed(directory, "g_status", lambda data: data.update(status=[[1], [2]]))


@case("grokviz_p_is_a_list", "task.p holds a list")
def _(directory, context):
    return grokviz_changed(directory, "g_p_list", lambda data: data["task"].update(p=[[7]]))


@case("grokviz_p_is_inf", "invalid configuration")
def _(directory, context):
    return grokviz_changed(directory, "g_p_inf", lambda data: data["task"].update(p=float("inf")))


# -- 4. messages that name the problem ----------------------------------------------------------


@case("pickle_protocol_4", "pickle protocol 4")
def _(directory, context):
    return save(directory, "proto4", grokviz_run_dict(P), pickle_protocol=4)


@case("pickle_protocol_5_raw", "pickle protocol 5")
def _(directory, context):
    path = directory / "proto5.pkl"
    path.write_bytes(pickle.dumps({"format": "grokviz-run"}, protocol=5))
    return path


@case("huge_integer_long4", "wider than 2040 bits")
def _(directory, context):
    return grokviz_changed(directory, "g_long4", lambda data: data.update(epochs_trained=10**1000))


@case("huge_integer_long1", "333-bit integer")
def _(directory, context):
    return grokviz_changed(directory, "g_long1", lambda data: data["task"].update(p=10**100))


@case("newline_and_ansi_in_name", "\\n")
def _(directory, context):
    path = directory / "evil\nname\x1b[31m.pt"
    path.write_bytes(b"not a torch file at all")
    return path


@case("tar_archive", "tar archive")
def _(directory, context):
    import tarfile

    path = directory / "old.tar"
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("storages")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"\x00" * 4))
    return path


@case("legacy_format_loads", None)
def _(directory, context):
    return save(directory, "legacy_ok", grokviz_run_dict(P), _use_new_zipfile_serialization=False)


@case("legacy_storage_bomb", "of tensor data in a")
def _(directory, context):
    """The pre-1.6 format: a storage declaring 4 GB, which torch would allocate before reading."""
    buffer = io.BytesIO()
    torch.save({"t": torch.zeros(3)}, buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    at = data.index(b"cpu") + data[data.index(b"cpu") :].index(b"K\x03")
    path = directory / "legacy_bomb.pt"
    path.write_bytes(data[:at] + b"J" + struct.pack("<i", 10**9) + data[at + 2 :])
    return path


# -- 5. checksums and CRCs -----------------------------------------------------------------------


@case("grokviz_flipped_tensor_byte", "does not match its checksum")
def _(directory, context):
    clean = save(directory, "g_clean", grokviz_run_dict(P))
    return flip_byte_in_record(clean, "/data/", directory / "g_flipped.pt")


@case("grokviz_without_checksum_loads", None)
def _(directory, context):
    data = grokviz_run_dict(P)
    del data[checksum.KEY]
    return save(directory, "g_old", data)


@case("grokviz_old_flipped_tensor_byte", "fails its zip CRC check")
def _(directory, context):
    data = grokviz_run_dict(P)
    del data[checksum.KEY]
    return flip_byte_in_record(save(directory, "g_old_clean", data), "/data/", directory / "g_old_flipped.pt")


@case("nanda_flipped_tensor_byte", "fails its zip CRC check")
def _(directory, context):
    return flip_byte_in_record(save(directory, "n_clean", nanda_plain()), "/data/", directory / "n_flipped.pt")


@case("flipped_byte_in_data_pkl", "fails its zip CRC check")
def _(directory, context):
    return flip_byte_in_record(save(directory, "g_clean2", grokviz_run_dict(P)), "/data.pkl", directory / "g_pkl_flipped.pt")


@case("checksum_malformed", "checksum")
def _(directory, context):
    data = grokviz_run_dict(P)
    data[checksum.KEY] = {"algorithm": checksum.ALGORITHM, "keys": "all", "crc32": 1}
    return save(directory, "g_bad_checksum", data)


# ---------------------------------------------------------------------------------------------
# Building and running
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile files")
    with one_thread():
        context = {"demo_jobs": [], "demo_plain": demo_plain(P)}
        paths = {name: builder(directory, context) for name, builder in CASES.items()}
    write_demo_files(context["demo_jobs"], directory)
    return paths


@pytest.fixture(scope="module")
def results(corpus, tmp_path_factory):
    """Every file opened in one process under RLIMIT_AS: the refused ones with ``grokviz info``,
    the legitimate ones with ``grokviz.load_run``; per file its exit code, stderr, seconds and
    peak RSS."""
    directory = tmp_path_factory.mktemp("driver")
    files = directory / "files.json"
    files.write_text(json.dumps({name: [str(path), "load" if name in LOADS else "info"] for name, path in corpus.items()}))
    out = directory / "results.json"
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(files), str(out), str(MEMORY_LIMIT)],
        capture_output=True, text=True, env=cli_env(), timeout=TIME_LIMIT * len(corpus),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


# Like test_bad_files.CLI_DRIVER, under RLIMIT_AS, recording each file's time and peak RSS
# (VmHWM, reset before each file through /proc/self/clear_refs).
DRIVER = r"""
import json, os, resource, sys, tempfile, time, traceback

files_json, results_json, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import grokviz, grokviz.cli, grokviz.core.runfile  # imported once, before the measured cases


def status_mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024


results = {}
for name, (path, mode) in json.load(open(files_json)).items():
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as err, open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(err.fileno(), 2)
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        before = status_mb("VmRSS")
        start = time.perf_counter()
        try:
            if mode == "info":
                code = grokviz.cli.main(["info", path])
            else:
                grokviz.load_run(path)
                code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            seconds = time.perf_counter() - start
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
        err.seek(0)
        results[name] = {"code": code, "stderr": err.read().decode("utf-8", "replace"), "seconds": seconds,
                         "rss_mb": status_mb("VmHWM"), "growth_mb": status_mb("VmHWM") - before}
with open(results_json, "w") as stream:
    json.dump(results, stream)
"""


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def test_corpus_covers_every_class():
    assert len(CASES) >= 40
    assert set(LOADS) <= set(CASES) and set(OWN_PROCESS) <= set(CASES)


def test_every_hostile_file_is_one_line_and_exit_2(results):
    """Every case, under RLIMIT_AS and a time limit: exit 2 and one line naming the problem."""
    refused = [name for name in CASES if name not in LOADS]
    problems = []
    for name in sorted(refused):
        result = results[name]
        lines = [line for line in result["stderr"].splitlines() if line.strip()]
        if result["code"] != 2:
            problems.append(f"{name}: exit code {result['code']}: {result['stderr'][-300:]}")
        elif len(lines) != 1:
            problems.append(f"{name}: {len(lines)} lines: {result['stderr'][-300:]}")
        elif EXPECT[name] not in lines[0]:
            problems.append(f"{name}: {EXPECT[name]!r} not in {lines[0]!r}")
        if "\x1b" in result["stderr"]:
            problems.append(f"{name}: a raw escape reached the terminal")
        if result["seconds"] > TIME_LIMIT:
            problems.append(f"{name}: took {result['seconds']:.1f} s")
    worst_time = max(refused, key=lambda name: results[name]["seconds"])
    worst_rss = max(refused, key=lambda name: results[name]["growth_mb"])
    print(f"\nhostile corpus: {len(refused)} files; longest {results[worst_time]['seconds']:.2f} s ({worst_time}); "
          f"largest peak-RSS growth +{results[worst_rss]['growth_mb']:.0f} MB over the process before it "
          f"(to {results[worst_rss]['rss_mb']:.0f} MB; {worst_rss}); largest peak RSS "
          f"{max(results[name]['rss_mb'] for name in refused):.0f} MB")
    assert not problems, "\n".join(problems)


def test_legitimate_files_load_within_the_limits(results):
    """A tiny model at p = 1021 (all [p², p] logits would be 4 GB) and an older file without a
    checksum both open, under the same memory limit."""
    for name in LOADS:
        assert results[name]["code"] == 0, results[name]["stderr"][-2000:]
        assert results[name]["seconds"] < 3 * TIME_LIMIT
    big = results["nanda_tiny_model_p1021"]
    print(f"\np = 1021 Nanda: {big['seconds']:.1f} s, peak RSS {big['rss_mb']:.0f} MB (+{big['growth_mb']:.0f} MB)")


def test_dangerous_files_in_their_own_processes(corpus):
    """The worst cases as real ``python -m grokviz info FILE`` processes, run side by side."""
    processes = {
        name: subprocess.Popen([sys.executable, "-m", "grokviz", "info", str(corpus[name])], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env=cli_env(), preexec_fn=limit_memory)
        for name in OWN_PROCESS
    }
    for name, process in processes.items():
        try:
            _, stderr = process.communicate(timeout=3 * TIME_LIMIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            pytest.fail(f"{name}: still running after {3 * TIME_LIMIT} s")
        assert process.returncode == 2, f"{name}: {stderr[-1000:]}"
        assert len(stderr.strip().splitlines()) == 1 and EXPECT[name] in stderr, f"{name}: {stderr}"


def test_display_path_escapes_control_characters(corpus):
    from grokviz.core.errors import RunFileError, display_path

    path = corpus["newline_and_ansi_in_name"]
    with pytest.raises(RunFileError) as info:
        grokviz.load_run(path)
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)
    assert display_path(path).endswith("evil\\nname\\x1b[31m.pt")
    assert display_path("plain name é.pt") == "plain name é.pt"


def test_checksum_round_trip_and_tolerance(tmp_path):
    """A saved run carries a checksum that verifies; extra optional keys are tolerated."""
    data = grokviz_run_dict(P)
    assert data[checksum.KEY]["algorithm"] == checksum.ALGORITHM
    data["progress"] = {"added": "by a newer grokviz"}  # not covered, tolerated
    path = save(tmp_path, "extra", data)
    assert grokviz.load_run(path).p == P


def test_budgets_are_named_and_raisable(tmp_path, monkeypatch):
    """A refusal names its limit; raising the limit (a legitimately larger run) lets the file in."""
    from grokviz.core.errors import RunFileError
    from grokviz.core.importers import budgets

    path = save(tmp_path, "normal", grokviz_run_dict(P))
    monkeypatch.setattr(budgets, "MAX_WALK_NODES", 50)
    with pytest.raises(RunFileError, match="MAX_WALK_NODES"):
        grokviz.load_run(path)
    monkeypatch.setattr(budgets, "MAX_PICKLE_OBJECTS", 100)
    with pytest.raises(RunFileError, match="MAX_PICKLE_OBJECTS"):
        grokviz.load_run(path)
    monkeypatch.setattr(budgets, "MAX_WALK_NODES", 10**9)
    monkeypatch.setattr(budgets, "MAX_PICKLE_OBJECTS", 10**9)
    assert grokviz.load_run(path).p == P


def test_evaluation_is_chunked_and_matches_the_full_logits(monkeypatch):
    """Tiny chunks and a small row sample give the same per-row results as all logits at once."""
    from grokviz.core.importers import budgets
    from grokviz.core.importers.evaluate import _Evaluator, sample_rows
    from grokviz.core.lastpos import InputLayout, last_position_logits
    from grokviz.core.tasks import Task

    cfg = ModelConfig(p=P, d_model=16, n_heads=2, d_head=8, d_mlp=32)
    state = state_of(GrokTransformer(cfg))
    rows = torch.arange(P * P)
    labels = Task("add", P).labels()
    full = last_position_logits(state, InputLayout.from_rows(rows, P))
    monkeypatch.setattr(budgets, "LOGIT_CHUNK_ELEMENTS", 3 * P)  # 3 rows a chunk
    predictions, losses = _Evaluator(cfg).scores(state, rows, labels)
    assert torch.equal(predictions, full.argmax(-1))
    expected = -full.double().log_softmax(-1).gather(-1, labels[:, None])[:, 0]
    torch.testing.assert_close(losses, expected, rtol=1e-6, atol=1e-9)
    sample = sample_rows(rows, 10)
    assert len(sample) == 10 and torch.equal(sample, sample.sort().values) and torch.equal(sample, sample_rows(rows, 10))
