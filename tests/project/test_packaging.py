"""Fast checks of packaging/ (no bundle build, no model): the SIMD and version lines, ggml symbol
lookup, CPU-variant discovery, library dedupe, icons, what parley.spec collects and leaves out,
the Linux desktop entry, the release workflow's shape, and install.sh into a temporary root.

The slow end-to-end check (bundle, installers, their self-tests) is `make package-check`.
"""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))


def test_cpu_features_lists_enabled_simd_only():
    from inference.llama.version import cpu_features

    line = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | AVX512 = 0 | OPENMP = 1 |"
    assert cpu_features(line) == "AVX2, AVX, FMA, F16C …"
    assert cpu_features("CPU : NEON = 1 | ARM_FMA = 1 | DOTPROD = 1 |") == "NEON, ARM_FMA, DOTPROD"


def test_version_line_names_the_build():
    from inference.llama.version import version_info

    info = version_info()
    assert info.line().startswith(f"Parley {info.parley} · llama-cpp-python ")
    assert info.cpu_backend                      # "built-in" or a variant name


def test_backends_are_a_no_op_without_variants(tmp_path, monkeypatch):
    from inference.llama import backends

    monkeypatch.setenv(backends.ENV_DIR, str(tmp_path))
    assert backends.cpu_variant_files(tmp_path) == []
    (tmp_path / f"{backends._PREFIX}ggml-cpu-haswell{backends._SUFFIX}").write_bytes(b"")
    (tmp_path / f"{backends._PREFIX}ggml-cpu{backends._SUFFIX}").write_bytes(b"")
    assert [p.name for p in backends.cpu_variant_files(tmp_path)] == [
        f"{backends._PREFIX}ggml-cpu-haswell{backends._SUFFIX}"]


def test_ggml_symbol_reaches_llama_cpps_libggml():
    import ctypes

    from inference.llama.backends import ggml_symbol

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


# --- parley.spec: what the bundle collects and leaves out --------------------------------------


def test_every_qt_module_app_imports_is_kept_and_none_it_imports_is_excluded():
    from bundle_plan import EXCLUDES, QT_UNUSED, QT_USED

    from tests.support.source_imports import qt_modules, third_party_uses

    imported = qt_modules(third_party_uses())
    assert {"QtCore", "QtGui", "QtWidgets"} <= imported
    assert imported <= set(QT_USED), f"app/ imports {imported - set(QT_USED)}: keep them"
    assert not imported & set(QT_UNUSED)
    assert not {f"PySide6.{m}" for m in imported} & set(EXCLUDES)
    assert {f"PySide6.{m}" for m in QT_UNUSED} <= set(EXCLUDES)
    assert not inference_imports_qt()


def inference_imports_qt() -> list[str]:
    from tests.support.source_imports import third_party_uses

    return [u.where for u in third_party_uses(packages=("inference",))
            if u.top in ("PySide6", "shiboken6")]


def test_every_installed_pyside6_module_is_used_or_excluded():
    """A PySide6 module new to the installed wheel must be sorted into one list or the other."""
    import PySide6
    from bundle_plan import QT_FOR_PLUGINS, QT_UNUSED, QT_USED

    folder = Path(PySide6.__file__).parent
    installed = {p.name.split(".")[0] for p in folder.iterdir()
                 if p.name.startswith("Qt") and p.suffix in (".so", ".pyd")}
    assert {"QtCore", "QtGui", "QtWidgets"} <= installed
    unsorted = installed - set(QT_USED) - set(QT_FOR_PLUGINS) - set(QT_UNUSED)
    assert not unsorted, f"add {sorted(unsorted)} to bundle_plan.QT_UNUSED (or QT_USED)"


def test_llama_cpps_lib_folder_is_collected_where_llama_cpp_looks():
    import llama_cpp
    from bundle_plan import LLAMA_DEST, llama_lib_entries

    llama_dir = Path(llama_cpp.__file__).parent
    binaries, datas, variants = llama_lib_entries(llama_dir)
    names = {Path(src).name for src, _ in binaries}
    assert {dest for _, dest in binaries + datas} == {LLAMA_DEST} == {"llama_cpp/lib"}
    assert any(n.startswith(("libllama", "llama.")) for n in names)
    assert any(n.startswith(("libggml", "ggml")) for n in names)
    on_disk = {p.name for p in (llama_dir / "lib").iterdir() if p.is_file()}
    assert names | {Path(src).name for src, _ in datas} == on_disk        # nothing left behind
    assert variants == sorted(n for n in on_disk if "ggml-cpu-" in n)


def test_llama_lib_entries_sorts_libraries_variants_and_data(tmp_path):
    from bundle_plan import llama_lib_entries

    lib = tmp_path / "llama_cpp" / "lib"
    lib.mkdir(parents=True)
    for name in ("libllama.so", "libggml.so.0", "libggml-cpu-haswell.so", "libggml-cpu-x64.so",
                 "ggml.dll", "libmtmd.dylib", "ggml-metal.metal", "default.metallib"):
        (lib / name).write_bytes(b"x")
    (lib / "cmake").mkdir()
    binaries, datas, variants = llama_lib_entries(tmp_path / "llama_cpp")
    assert sorted(Path(s).name for s, _ in binaries) == sorted(
        ["libllama.so", "libggml.so.0", "libggml-cpu-haswell.so", "libggml-cpu-x64.so",
         "ggml.dll", "libmtmd.dylib"])
    assert sorted(Path(s).name for s, _ in datas) == ["default.metallib", "ggml-metal.metal"]
    assert variants == ["libggml-cpu-haswell.so", "libggml-cpu-x64.so"]


@pytest.mark.parametrize(("dest", "platform", "kept"), [
    ("PySide6/Qt/plugins/platforms/libqxcb.so", "linux", True),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", "linux", True),
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", "linux", False),
    ("PySide6/Qt/plugins/platforms/libqvnc.so", "linux", False),
    ("PySide6/plugins/platforms/qwindows.dll", "win32", True),
    ("PySide6/plugins/platforms/qoffscreen.dll", "win32", True),
    ("PySide6/plugins/platforms/qdirect2d.dll", "win32", False),
    ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", "darwin", True),
    ("PySide6/Qt/plugins/imageformats/libqsvg.so", "linux", True),
    ("PySide6/Qt/plugins/imageformats/libqtiff.so", "linux", False),
    ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", "linux", False),
    ("PySide6/Qt/plugins/tls/libqopensslbackend.so", "linux", False),
    ("PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so", "linux", True),
    ("PySide6/Qt/translations/qtbase_de.qm", "linux", False),
    ("PySide6\\Qt6\\translations\\qtbase_de.qm", "win32", False),
    ("PySide6/Qt/lib/libQt6Widgets.so.6", "linux", True),
    ("llama_cpp/lib/libllama.so", "linux", True),
])
def test_keep_drops_unused_qt_plugins_and_translations(dest, platform, kept):
    from bundle_plan import keep

    assert keep((dest, "/src/" + dest, "BINARY"), platform) is kept


class _Recorded:
    """Stands in for one of PyInstaller's build steps: records what the spec passes it."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class _Analysis(_Recorded):
    """Analysis, with the TOC PyInstaller would produce: the spec's own binaries and datas, plus
    some of the Qt files PySide6's hooks collect (for the spec's filter to sort)."""

    QT_FILES = ("PySide6/Qt/plugins/platforms/libqxcb.so",
                "PySide6/Qt/plugins/platforms/libqeglfs.so",
                "PySide6/Qt/translations/qtbase_de.qm",
                "PySide6/Qt/plugins/imageformats/libqsvg.so")

    def __init__(self, scripts, **kwargs) -> None:
        super().__init__(scripts, **kwargs)
        self.binaries = [(f"{dest}/{Path(src).name}", src, "BINARY")
                         for src, dest in kwargs["binaries"]]
        self.binaries += [(d, "/qt/" + d, "BINARY") for d in self.QT_FILES]
        self.datas = [(f"{dest}/{Path(src).name}", src, "DATA") for src, dest in kwargs["datas"]]
        self.scripts, self.pure = [], []


def test_the_spec_runs_and_hands_pyinstaller_the_plan(tmp_path, monkeypatch, capsys):
    """Execute parley.spec with PyInstaller's build steps recorded instead of run."""
    import llama_cpp
    from bundle_plan import EXCLUDES

    monkeypatch.setenv("PARLEY_LLAMA_SITE", "")          # this environment's llama_cpp
    monkeypatch.delenv("MACOS_CODESIGN_IDENTITY", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = ROOT / "packaging" / "parley.spec"
    names = {"SPECPATH": str(spec.parent), "DISTPATH": str(tmp_path / "dist"),
             "workpath": str(tmp_path / "work"), "__file__": str(spec),
             "Analysis": _Analysis, "PYZ": _Recorded, "EXE": _Recorded, "COLLECT": _Recorded,
             "BUNDLE": _Recorded}
    exec(compile(spec.read_text(encoding="utf-8"), str(spec), "exec"), names)   # noqa: S102
    a = names["a"]
    assert a.kwargs["excludes"] == EXCLUDES
    lib = Path(llama_cpp.__file__).parent / "lib"
    wanted = {f"llama_cpp/lib/{p.name}" for p in lib.iterdir()
              if p.is_file() and (".so" in p.name or p.suffix in (".dll", ".dylib"))}
    kept = {dest for dest, _, _ in a.binaries}
    assert wanted and wanted <= kept
    if sys.platform.startswith("linux"):
        assert "PySide6/Qt/plugins/platforms/libqxcb.so" in kept
        assert "PySide6/Qt/plugins/platforms/libqeglfs.so" not in kept      # filtered by keep()
    assert "PySide6/Qt/translations/qtbase_de.qm" not in kept
    datas = {dest for dest, _, _ in a.datas}
    assert any(d.startswith("resources/") for d in datas)
    # Parley's metadata (`parley --version` reads it): a dist-info, or an editable egg-info
    assert any(d.startswith("parley") and d.endswith((".dist-info", ".egg-info")) for d in datas)
    assert {"app.shell.launcher", "app.shell.selftest", "inference.host.child"} <= set(
        a.kwargs["hiddenimports"])
    exe = names["exes"][0]
    assert exe.kwargs["name"] in ("parley", "Parley") and exe.kwargs["exclude_binaries"]
    assert names["coll"].kwargs["name"] == "Parley"
    assert "llama.cpp libraries" in capsys.readouterr().out


# --- Linux desktop entry -----------------------------------------------------------------------


def read_desktop(path: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str                                        # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def test_the_desktop_entry_is_valid():
    path = ROOT / "resources" / "parley.desktop"
    entry = read_desktop(path)
    assert entry["Type"] == "Application" and entry["Name"] == "Parley"
    assert entry["Exec"].split()[0] == "parley" and entry["TryExec"] == "parley"
    assert entry["Icon"] == "parley" and (ROOT / "resources" / "icons" / "parley.svg").is_file()
    categories = entry["Categories"].split(";")
    assert categories[-1] == "" and categories[0] in {
        "AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics",
        "Network", "Office", "Science", "Settings", "System", "Utility"}     # a main category
    assert entry["Terminal"] == "false"


@pytest.fixture
def desktop_validator() -> str:
    """freedesktop's desktop-file-validate, or a skip that says it is not installed."""
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate not found: install desktop-file-utils to run "
                    "freedesktop's own check of the entry (its keys are checked without it)")
    return validator


def assert_valid_desktop(validator: str, path: Path) -> None:
    result = subprocess.run([validator, str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def test_desktop_file_validate_accepts_the_entry(desktop_validator: str):
    assert_valid_desktop(desktop_validator, ROOT / "resources" / "parley.desktop")


# --- the release workflow ----------------------------------------------------------------------


def load_workflow() -> dict:
    return yaml.safe_load((ROOT / "packaging" / "workflows" / "release.yml").read_text())


def _first(steps: list[dict], match) -> int:
    return next((i for i, s in enumerate(steps) if match(s)), -1)


def test_the_release_workflow_builds_self_tests_then_uploads_on_each_platform():
    flow = load_workflow()
    on = flow.get("on", flow.get(True))                 # YAML 1.1 reads a bare `on` as True
    assert on["push"]["tags"] == ["v*"] and "workflow_dispatch" in on
    build = flow["jobs"]["build"]
    runners = {m["os"].split("-")[0] for m in build["strategy"]["matrix"]["include"]}
    assert runners == {"ubuntu", "windows", "macos"}
    steps = build["steps"]
    bundle = _first(steps, lambda s: "PyInstaller" in s.get("run", ""))
    self_test = _first(steps, lambda s: "--self-test" in s.get("run", ""))
    upload = _first(steps, lambda s: s.get("uses", "").startswith("actions/upload-artifact"))
    assert 0 <= bundle < self_test < upload, (bundle, self_test, upload)
    installers = {s["if"]: s for s in steps if s.get("if", "").startswith("runner.os ==")
                  and ("installer" in s["name"].lower() or "disk image" in s["name"].lower())}
    assert set(installers) == {"runner.os == 'Linux'", "runner.os == 'Windows'",
                               "runner.os == 'macOS'"}
    for step in installers.values():                   # each installed app is self-tested too
        run = step["run"]
        assert "--self-test" in run or "package_check.sh" in run, step["name"]
        assert bundle < steps.index(step) < upload
    release = flow["jobs"]["release"]
    assert release["needs"] == "build" and release["permissions"] == {"contents": "write"}
    assert any("gh release upload" in s.get("run", "") for s in release["steps"])


def test_the_release_workflow_passes_secrets_through_env_only():
    flow = load_workflow()
    for job in flow["jobs"].values():
        for step in job["steps"]:
            assert "secrets." not in step.get("run", ""), step.get("name")
            for key, value in step.get("env", {}).items():
                if "secrets." in str(value):
                    assert str(value).strip() == f"${{{{ secrets.{key} }}}}", key


# --- install.sh --------------------------------------------------------------------------------


def fake_bundle(folder: Path) -> Path:
    """What `make bundle` leaves in dist/Parley, minus Python and Qt."""
    (folder / "_internal" / "llama_cpp" / "lib").mkdir(parents=True)
    exe = folder / "parley"
    exe.write_text("#!/bin/sh\necho fake parley \"$@\"\n")
    exe.chmod(0o755)
    lib = folder / "_internal" / "llama_cpp" / "lib"
    (lib / "libggml.so.0.25.3").write_bytes(b"ggml")
    (lib / "libggml.so.0").symlink_to("libggml.so.0.25.3")
    shutil.copytree(ROOT / "resources", folder / "_internal" / "resources")
    return folder


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux installer script")
def test_install_sh_installs_and_uninstalls_into_a_destdir(tmp_path):
    bundle = fake_bundle(tmp_path / "Parley")
    root = tmp_path / "root"
    script = ROOT / "packaging" / "linux" / "install.sh"
    run = [str(script), "--bundle", str(bundle), "--destdir", str(root)]
    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    prefix = root / "opt" / "parley"
    assert (prefix / "parley").read_bytes() == (bundle / "parley").read_bytes()
    assert os.access(prefix / "parley", os.X_OK)
    assert (prefix / "_internal/llama_cpp/lib/libggml.so.0").is_symlink()   # cp -a kept it
    link = root / "usr" / "bin" / "parley"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert link.resolve() == (prefix / "parley").resolve()
    assert subprocess.run([str(link), "--version"], capture_output=True,
                          text=True).stdout == "fake parley --version\n"
    desktop = root / "usr/share/applications/parley.desktop"
    assert read_desktop(desktop)["Exec"] == "parley"            # /opt/parley: on PATH via bin
    for size in (16, 48, 256, 512):
        assert (root / f"usr/share/icons/hicolor/{size}x{size}/apps/parley.png").is_file()
    assert (root / "usr/share/icons/hicolor/scalable/apps/parley.svg").is_file()

    result = subprocess.run([*run, "--uninstall"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "conversations and models are kept" in result.stdout
    leftover = [p for p in root.rglob("*") if p.is_file() or p.is_symlink()]
    assert leftover == []
    assert bundle.joinpath("parley").is_file()                   # the source is untouched


def user_install(tmp_path: Path) -> tuple[list[str], dict[str, str], Path]:
    """install.sh --user of a fake bundle into a temporary HOME: (its command, env, HOME)."""
    bundle = fake_bundle(tmp_path / "Parley")
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    command = [str(ROOT / "packaging" / "linux" / "install.sh"), "--user"]
    result = subprocess.run([*command, "--bundle", str(bundle)], capture_output=True,
                            text=True, env=env)
    assert result.returncode == 0, result.stderr
    return command, env, home


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux installer script")
def test_install_sh_user_install_points_the_menu_at_the_binary(tmp_path):
    command, env, home = user_install(tmp_path)
    binary = home / ".local/opt/parley/parley"
    desktop = home / ".local/share/applications/parley.desktop"
    entry = read_desktop(desktop)
    assert entry["Exec"] == str(binary) and entry["TryExec"] == str(binary)
    assert (home / ".local/bin/parley").resolve() == binary.resolve()
    result = subprocess.run([*command, "--uninstall"], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and not binary.exists() and not desktop.exists()


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux installer script")
def test_install_sh_user_install_writes_a_valid_desktop_entry(tmp_path,
                                                              desktop_validator: str):
    _, _, home = user_install(tmp_path)
    assert_valid_desktop(desktop_validator, home / ".local/share/applications/parley.desktop")


def test_install_sh_refuses_a_prefix_that_is_not_parleys(tmp_path):
    script = ROOT / "packaging" / "linux" / "install.sh"
    result = subprocess.run([str(script), "--prefix", str(tmp_path), "--destdir",
                             str(tmp_path / "root")], capture_output=True, text=True)
    assert result.returncode == 2 and "must be an absolute folder named parley" in result.stderr
    assert tmp_path.exists()
