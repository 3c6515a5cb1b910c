"""``grokviz export RUN --animate circles --animate-format mp4``: a real H.264 MP4, read back."""

import pytest

from grokviz.cli import main


def test_export_animate_circles_writes_an_mp4(small_run_file, small_run, tmp_path, capsys):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")  # a dependency: present wherever grokviz is installed

    out = tmp_path / "anim"
    assert main(["export", str(small_run_file), "--out", str(out), "--animate", "circles", "--animate-format", "mp4",
                 "--fps", "5", "--quiet"]) == 0
    mp4 = out / "embedding_circles.mp4"
    assert mp4.read_bytes()[4:8] == b"ftyp"  # an ISO media file
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(mp4))
    assert frames == len(small_run.epochs)
    assert seconds == pytest.approx(len(small_run.epochs) / 5, abs=0.25)
    reader = imageio_ffmpeg.read_frames(str(mp4))
    meta = next(reader)
    assert tuple(meta["size"]) == (1200, 800) and meta["codec"] == "h264"
    first = next(reader)
    assert len(first) == 1200 * 800 * 3 and len(set(first[::997])) > 3  # a drawn picture, not a blank frame
    reader.close()
    assert "embedding_circles.mp4" in capsys.readouterr().err


def test_mp4_without_an_encoder_is_one_line(small_run_file, tmp_path, capsys, monkeypatch):
    import imageio_ffmpeg

    def missing():
        raise RuntimeError("No ffmpeg exe could be found")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", missing)
    out = tmp_path / "anim"
    assert main(["export", str(small_run_file), "--out", str(out), "--animate", "circles", "--animate-format", "mp4",
                 "--quiet"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install imageio-ffmpeg" in lines[0] and "--animate-format gif" in lines[0]
    assert not (out / "embedding_circles.mp4").exists()


def test_unknown_animation_format_is_refused(small_run_file, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(small_run_file), "--out", str(tmp_path), "--animate", "circles", "--animate-format", "avi"])
    assert exit_info.value.code == 2 and "--animate-format" in capsys.readouterr().err
