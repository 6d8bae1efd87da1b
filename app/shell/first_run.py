"""FirstRun: what the welcome view's ways to a first model do.

* Other apps' models are found once, on a background job (a folder walk; no network).
* "Show recommended models" checks the curated list against the hub's file listings on a
  background job (`first_run_check.check_recommended`); offline, the view says so. Fit is
  judged on the GUI thread, by the window's own fit settings, as the Hub page does.
* Download goes through the Hub page's queue (`HubPage.download`, the one way a download
  starts: it shows in the Hub's download list too, with pause, resume and cancel, and resumes
  its .part after a restart); this view follows that item's snapshots and, once it is done,
  loads the file the way the window loads any file (`load`). Pick → download → chat.

All of it runs on the GUI thread except the jobs, which go through `app.engine.jobs.JobPool`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, cast

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

from app.engine.jobs import JobPool, failure_message
from app.shell.first_run_check import (
    AppFolder,
    Offer,
    RecommendedCheck,
    check_recommended,
    other_app_folders,
)
from app.shell.welcome import WelcomePage
from inference.hub.queue import DownloadQueue, DownloadState
from inference.hub.search import OFFLINE_MESSAGE, HubFile, hub_offline, size_fit
from inference.library.library import FitSettings
from inference.library.recommended import RecommendedListError, RecommendedModel, load_recommended
from inference.library.sources import ModelSource

if TYPE_CHECKING:
    from app.shell.pages import PageSwitcher

POLL_MS = 200                     # how often the download's snapshot is read while it runs


class DownloadsPage(Protocol):
    """What FirstRun needs of the Hub page: its queue and the way it starts a download."""

    queue: DownloadQueue

    def download(self, file: HubFile) -> int: ...


class FirstRun(QObject):
    def __init__(self, welcome: WelcomePage, downloads: Callable[[], DownloadsPage],
                 load: Callable[[str], None], fit_settings: Callable[[], FitSettings], *,
                 models: Sequence[RecommendedModel] | None = None,
                 sources: Callable[[], Sequence[ModelSource]] | None = None,
                 parent: QObject | None = None) -> None:
        """`downloads` gives the Hub page (built on first use), `load` loads a path as the
        window does, `models` replaces the shipped list and `sources` the discovered stores
        (tests)."""
        super().__init__(parent)
        self.welcome = welcome
        self._downloads = downloads
        self._load = load
        self._fit_settings = fit_settings
        self.models = tuple(models) if models is not None else None
        self._sources = sources
        self.tasks = JobPool(parent=self)
        self.checking = False                     # the hub is being asked
        self.last_check: RecommendedCheck | None = None
        self.offer: Offer | None = None           # the download started here
        self.item_id: int | None = None
        self._loaded_item: int | None = None
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._poll)
        welcome.recommendedRequested.connect(self.check)
        welcome.downloadRequested.connect(self.download)
        welcome.resumeRequested.connect(self.resume)
        welcome.fileChosen.connect(load)
        if hub_offline():
            welcome.show_offline(OFFLINE_MESSAGE)
        self.find_app_folders()

    @classmethod
    def attach(cls, welcome: WelcomePage, switcher: PageSwitcher, load: Callable[[str], None],
               window: QWidget) -> FirstRun:
        """The window's FirstRun: the Hub page's downloads, the window's fit settings and
        load; its jobs stop when the window closes."""
        first_run = cls(welcome, lambda: cast(DownloadsPage, switcher.page("hub")), load,
                        switcher.fit_settings, parent=window)
        window.installEventFilter(first_run)
        return first_run

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Close and watched is self.parent():
            self.shutdown()
        return False

    # -- other apps --------------------------------------------------------------------------
    def find_app_folders(self) -> None:
        sources = self._sources() if self._sources is not None else None
        self.tasks.start(lambda job: other_app_folders(sources, job.token),
                         returned=self._show_folders)

    def _show_folders(self, folders: tuple[AppFolder, ...]) -> None:
        self.welcome.set_app_folders(folders)

    # -- the recommended list ------------------------------------------------------------------
    def check(self) -> None:
        if hub_offline():
            self.welcome.show_offline(OFFLINE_MESSAGE)
            return
        try:
            models = self.models if self.models is not None else load_recommended()
        except RecommendedListError as exc:
            self.welcome.show_check_failed(str(exc))
            return
        self.welcome.show_checking()
        self.checking = True
        self.tasks.start(lambda job: check_recommended(models, cancel=job.token),
                         returned=self._checked, errored=self._check_failed)

    def _checked(self, result: RecommendedCheck) -> None:
        self.checking = False
        self.last_check = result
        if result.offline is not None:
            self.welcome.show_offline(result.offline)
            return
        settings = self._fit_settings()              # GUI thread: it may read widgets
        fits = [size_fit(o.size, settings) for o in result.offers]
        self.welcome.show_offers(result.offers, fits,
                                 [f"{w.model.name}: {w.reason}" for w in result.withdrawn])

    def _check_failed(self, exc: BaseException) -> None:
        self.checking = False
        self.welcome.show_check_failed(failure_message(exc, "checking the list failed"))

    # -- downloading, then loading ---------------------------------------------------------------
    def download(self, offer: Offer) -> None:
        """Start `offer`'s download on the Hub page's queue and follow it here."""
        page = self._downloads()
        self.offer = offer
        self.item_id = page.download(offer.file)
        self._poll()
        self._timer.start()

    def resume(self) -> None:
        if self.item_id is None:
            return
        self._downloads().queue.resume(self.item_id)     # paused, failed or cancelled
        self._poll()
        self._timer.start()

    def _poll(self) -> None:
        if self.item_id is None or self.offer is None:
            self._timer.stop()
            return
        item = self._downloads().queue.get(self.item_id)
        self.welcome.show_download(self.offer.model.name, item)
        if item.state.active:
            return
        self._timer.stop()
        if item.state == DownloadState.DONE and item.path is not None \
                and self._loaded_item != item.id:
            self._loaded_item = item.id              # load once, however often it is polled
            self._load(str(item.path))

    def shutdown(self) -> None:
        self._timer.stop()
        self.tasks.shutdown()
