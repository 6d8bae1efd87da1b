"""Quantizing through llama.cpp's own quantizer: ladder, labels, refusals, progress, cancel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference.cli import main
from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, InvalidSettingError
from inference.gguf.file import read_gguf
from inference.quantize.child import REQUANTIZED_KEY
from inference.quantize.quant_types import IMATRIX_TYPES, base_name, parse_types, quant_type
from inference.quantize.quantize import (
    ImatrixRequiredError,
    QuantizeError,
    QuantizePlan,
    QuantizeProgress,
    RequantizeRefusedError,
    plan_quantize,
    quantize,
    quantize_ladder,
)
from tests.support.gguf_factory import write_tiny_model
from tests.support.quant_ladder import LADDER, session_ladder


@pytest.fixture(scope="module")
def ladder(tmp_path_factory: pytest.TempPathFactory, starter_model_path: Path):
    return session_ladder(tmp_path_factory, starter_model_path)


@pytest.fixture()
def tiny_f16(tmp_path: Path) -> Path:
    return write_tiny_model(tmp_path / "tiny-f16.gguf", f16=True)


# -- names and types (no model) -----------------------------------------------------------------
def test_type_names_and_output_names() -> None:
    assert [q.name for q in parse_types("q8_0, Q4_K,Q4_K_M,Q2_K")] == ["Q8_0", "Q4_K_M", "Q2_K"]
    assert base_name("gemma-3-270m-q4_k_m") == "gemma-3-270m"
    assert base_name("Llama-3-8B.F16") == "Llama-3-8B"
    with pytest.raises(InvalidSettingError, match="unknown quantization type 'Q9_9'"):
        quant_type("Q9_9")
    assert {"IQ2_XXS", "IQ1_S", "IQ3_XXS", "Q2_K_S"} <= set(IMATRIX_TYPES)
    assert "IQ4_XS" not in IMATRIX_TYPES and "Q2_K" not in IMATRIX_TYPES


# -- a float source: progress, names, precision refusals --------------------------------------
def test_float_source_quantizes_with_progress(tiny_f16: Path, tmp_path: Path) -> None:
    seen: list[QuantizeProgress] = []
    (result,) = quantize_ladder(tiny_f16, ["Q8_0"], out_dir=tmp_path / "out", n_threads=1,
                                progress=seen.append)
    assert result.output.name == "tiny-Q8_0.gguf"
    assert not result.requantized and not result.upcast and result.notes == ()
    info = read_gguf(result.output)
    assert info.quant == "Q8_0" and REQUANTIZED_KEY not in info.metadata
    assert result.bits_per_weight < read_gguf(tiny_f16).bits_per_weight
    done = [p for p in seen if p.tensors_total]
    assert done and done[-1].fraction == 1.0 and done[-1].tensors_done == len(info.tensors)
    assert [p.tensors_done for p in done] == sorted(p.tensors_done for p in done)


def test_float_source_refuses_same_or_higher_precision(tiny_f16: Path, tmp_path: Path) -> None:
    with pytest.raises(RequantizeRefusedError, match="already F16"):
        plan_quantize(tiny_f16, "F16", out_dir=tmp_path)
    with pytest.raises(RequantizeRefusedError, match="not lower precision"):
        plan_quantize(tiny_f16, "F32", out_dir=tmp_path)


def test_existing_output_needs_overwrite(tiny_f16: Path, tmp_path: Path) -> None:
    (tmp_path / "tiny-Q4_0.gguf").write_bytes(b"x")
    with pytest.raises(Exception, match="already exists"):
        plan_quantize(tiny_f16, "Q4_0", out_dir=tmp_path)
    assert plan_quantize(tiny_f16, "Q4_0", out_dir=tmp_path, overwrite=True).target.name == "Q4_0"


# -- the starter model (already Q4_K_M) ---------------------------------------------------------
def test_ladder_is_requantized_and_labelled(ladder, starter_model_path: Path) -> None:
    paths, results = ladder
    assert [r["quant"] for r in results] == list(LADDER)
    assert [Path(r["output"]).name for r in results] == [
        f"gemma-3-270m-{t}.gguf" for t in LADDER]
    assert all(r["requantized"] and r["source_quant"] == "Q4_K_M" for r in results)
    assert [r["upcast"] for r in results] == [True, False, False]     # Q8_0 > Q4_K_M
    assert any("requantized from Q4_K_M" in n for n in results[1]["notes"])
    infos = [read_gguf(paths[t]) for t in LADDER]
    assert [i.quant for i in infos] == list(LADDER)
    assert all(i.metadata[REQUANTIZED_KEY] == "Q4_K_M" for i in infos)
    bits = [i.bits_per_weight for i in infos]
    assert bits == sorted(bits, reverse=True)


def test_requantize_refused_without_the_flag(starter_model_path: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RequantizeRefusedError, match=r"already quantized \(Q4_K_M\)"):
        plan_quantize(starter_model_path, "Q4_0", out_dir=tmp_path)
    code = main(["quantize", str(starter_model_path), "--to", "Q4_0", "--out", str(tmp_path)])
    assert code == 1
    assert "--allow-requantize" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_imatrix_types_refused(starter_model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ImatrixRequiredError, match="importance matrix"):
        plan_quantize(starter_model_path, "IQ2_XXS", out_dir=tmp_path, allow_requantize=True)
    # and llama.cpp itself agrees: bypass the check and let the quantizer refuse
    plan = QuantizePlan(starter_model_path, tmp_path / "x-IQ2_XXS.gguf", quant_type("IQ2_XXS"),
                        "Q4_K_M", True, False, ())
    with pytest.raises(ImatrixRequiredError, match="requires an imatrix"):
        quantize(plan, n_threads=2)
    assert list(tmp_path.iterdir()) == []


def test_cancel_stops_and_cleans_up(starter_model_path: Path, tmp_path: Path) -> None:
    cancel = CancelToken()

    def on_progress(p: QuantizeProgress) -> None:
        if p.tensors_done >= 3:
            cancel.cancel()

    plan = plan_quantize(starter_model_path, "Q5_K_M", out_dir=tmp_path, allow_requantize=True)
    with pytest.raises(Cancelled):
        quantize(plan, n_threads=1, progress=on_progress, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_cli_quantize_json(tiny_f16: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["quantize", str(tiny_f16), "--to", "Q8_0,Q4_0", "--out", str(out),
                 "--threads", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["quant"] for f in data["files"]] == ["Q8_0", "Q4_0"]
    assert all(Path(f["output"]).exists() and not f["requantized"] for f in data["files"])
    assert main(["quantize", str(tiny_f16), "--to", "IQ1_S", "--out", str(out)]) == 1
    assert "importance matrix" in capsys.readouterr().err


# -- existing outputs: kept when they are the very variant, refused otherwise ------------------
def test_ladder_reuses_an_existing_file_of_the_same_variant(tiny_f16: Path, tmp_path: Path
                                                            ) -> None:
    out = tmp_path / "out"
    (made,) = quantize_ladder(tiny_f16, ["Q8_0"], out_dir=out, n_threads=1)
    stamp = made.output.stat().st_mtime_ns
    seen: list[QuantizeProgress] = []
    kept, new = quantize_ladder(tiny_f16, ["Q8_0", "Q4_0"], out_dir=out, n_threads=1,
                                reuse_existing=True, progress=seen.append)
    assert kept.reused and not new.reused and kept.output == made.output
    assert made.output.stat().st_mtime_ns == stamp                 # not rewritten
    assert kept.quant == "Q8_0" and kept.bits_per_weight == made.bits_per_weight
    assert any("kept the existing tiny-Q8_0.gguf" in n for n in kept.notes)
    assert {p.target for p in seen} == {"Q4_0"}                    # only Q4_0 was made
    assert kept.to_dict()["reused"] is True and new.to_dict()["reused"] is False


def test_ladder_refuses_an_existing_file_of_another_variant(tiny_f16: Path, tmp_path: Path
                                                            ) -> None:
    out = tmp_path / "out"
    (q4,) = quantize_ladder(tiny_f16, ["Q4_0"], out_dir=out, n_threads=1)
    wrong = out / "tiny-Q8_0.gguf"
    q4.output.rename(wrong)                                        # a Q4_0 under a Q8_0 name
    before = wrong.read_bytes()
    with pytest.raises(QuantizeError, match=r"tiny-Q8_0.gguf already exists but it is Q4_0, "
                                            r"not Q8_0; remove it"):
        quantize_ladder(tiny_f16, ["Q4_0", "Q8_0"], out_dir=out, n_threads=1,
                        reuse_existing=True)
    assert wrong.read_bytes() == before and not (out / "tiny-Q4_0.gguf").exists()
    wrong.write_bytes(b"not a gguf")
    with pytest.raises(QuantizeError, match="already exists but cannot be read"):
        quantize_ladder(tiny_f16, ["Q8_0"], out_dir=out, n_threads=1, reuse_existing=True)
    (redone,) = quantize_ladder(tiny_f16, ["Q8_0"], out_dir=out, n_threads=1, overwrite=True,
                                reuse_existing=True)
    assert not redone.reused and read_gguf(redone.output).quant == "Q8_0"


def test_ladder_refuses_a_file_made_from_another_source_type(tiny_f16: Path, tmp_path: Path
                                                             ) -> None:
    out = tmp_path / "out"
    (q8,) = quantize_ladder(tiny_f16, ["Q8_0"], out_dir=out, n_threads=1)
    (q4,) = quantize_ladder(q8.output, ["Q4_0"], out_dir=out, n_threads=1,
                            allow_requantize=True)                 # tiny-Q4_0 from Q8_0
    assert read_gguf(q4.output).metadata[REQUANTIZED_KEY] == "Q8_0"
    with pytest.raises(QuantizeError, match="it was made from a Q8_0 file, not from F16"):
        quantize_ladder(tiny_f16, ["Q4_0"], out_dir=out, n_threads=1, reuse_existing=True)


def test_cli_quantize_keeps_llama_log_off_stderr(tiny_f16: Path, tmp_path: Path) -> None:
    """The quantizer's child process logs to Parley's log file; stderr only with -v."""
    root = Path(__file__).resolve().parents[2]
    home = tmp_path / "home"
    env = os.environ | {"PARLEY_HOME": str(home)}
    for n, verbose in enumerate(([], ["-v"])):
        proc = subprocess.run(
            [sys.executable, "-m", "inference.cli", *verbose, "quantize", str(tiny_f16),
             "--to", "Q8_0", "--out", str(tmp_path / f"out{n}"), "--threads", "1"],
            cwd=root, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert ("llama_model_quantize_impl: quant size" in proc.stderr) == bool(verbose)
    log = (home / "logs" / "parley.log").read_text(encoding="utf-8")
    assert log.count("llama_model_quantize_impl: quant size") == 2
