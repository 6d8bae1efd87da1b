"""Fast checks of the packaging helpers (no bundle build). Run: pytest packaging/tests -q

Not under tests/ (the lead decides whether to move it there); none of these load a model.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))


def test_cpu_features_lists_enabled_simd_only():
    from inference.version import cpu_features

    line = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | AVX512 = 0 | OPENMP = 1 |"
    assert cpu_features(line) == "AVX2, AVX, FMA, F16C …"
    assert cpu_features("CPU : NEON = 1 | ARM_FMA = 1 | DOTPROD = 1 |") == "NEON, ARM_FMA, DOTPROD"


def test_version_line_names_the_build():
    from inference.version import version_info

    info = version_info()
    assert info.line().startswith(f"Parley {info.parley} · llama-cpp-python ")
    assert info.cpu_backend                      # "built-in" or a variant name


def test_backends_are_a_no_op_without_variants(tmp_path, monkeypatch):
    from inference import backends

    monkeypatch.setenv(backends.ENV_DIR, str(tmp_path))
    assert backends.cpu_variant_files(tmp_path) == []
    (tmp_path / f"{backends._PREFIX}ggml-cpu-haswell{backends._SUFFIX}").write_bytes(b"")
    (tmp_path / f"{backends._PREFIX}ggml-cpu{backends._SUFFIX}").write_bytes(b"")
    assert [p.name for p in backends.cpu_variant_files(tmp_path)] == [
        f"{backends._PREFIX}ggml-cpu-haswell{backends._SUFFIX}"]


def test_ggml_symbol_reaches_llama_cpps_libggml():
    import ctypes

    from inference.backends import ggml_symbol

    count = ggml_symbol("ggml_backend_reg_count", ctypes.c_size_t, [])
    assert count is not None and count() >= 1


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_dedupe_turns_copies_into_symlinks(tmp_path):
    from dedupe_libs import dedupe

    for name in ("libx.so", "libx.so.0", "libx.so.0.1.2"):
        (tmp_path / name).write_bytes(b"same")
    (tmp_path / "liby.so").write_bytes(b"other")
    assert dedupe(tmp_path) == 8
    assert (tmp_path / "libx.so").readlink() == Path("libx.so.0.1.2")
    assert (tmp_path / "libx.so.0").readlink() == Path("libx.so.0.1.2")
    assert not (tmp_path / "liby.so").is_symlink()


def test_icon_containers_are_well_formed():
    from make_icons import icns, ico

    pngs = {16: b"\x89PNG16", 256: b"\x89PNG256", 1024: b"\x89PNG1024"}
    data = ico(pngs)
    assert struct.unpack("<HHH", data[:6]) == (0, 1, 2)         # 1024 is not an ICO size
    width, _, _, _, _, _, size, offset = struct.unpack("<BBBBHHII", data[22:38])
    assert width == 0 and data[offset:offset + size] == b"\x89PNG256"   # 0 means 256
    mac = icns(pngs)
    assert mac[:4] == b"icns" and struct.unpack(">I", mac[4:8])[0] == len(mac)
    assert b"ic10" in mac and b"icp4" in mac


def test_committed_icons_exist():
    icons = ROOT / "resources" / "icons"
    for name in ("parley.svg", "parley.ico", "parley.icns", "parley-256.png"):
        assert (icons / name).is_file(), name
