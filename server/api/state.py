"""What the app holds between requests: settings, metrics, and the engine once it has loaded."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from server.auth import KeyRing
from server.metrics import ServerMetrics
from server.settings import Settings

log = logging.getLogger("sketchserve.server")


@dataclass
class ServerState:
    settings: Settings
    metrics: ServerMetrics
    keyring: KeyRing
    engine: object | None = None  # server.engine.Engine once loaded
    load_error: str | None = None
    started: float = field(default_factory=time.time)
    loaded: threading.Event = field(default_factory=threading.Event)

    @property
    def ready(self) -> bool:
        return self.loaded.is_set() and self.engine is not None

    def load_engine(self) -> None:
        """Build the engine from settings (sketching an unsketched model on its first use), then start it."""
        from server.config import EngineConfig
        from server.engine import Engine

        try:
            model_dir = resolve_model_dir(self.settings.model, self.settings.sketch_bits, self.settings.sketch_gpr)
            log.info("loading sketched base %s", model_dir)
            engine = Engine.from_dir(model_dir, EngineConfig.from_settings(self.settings), self.settings.lut_store,
                                     self.settings.lut_keep_versions)
            self.attach(engine)
            log.info("model loaded in %.1f s; serving", time.time() - self.started)
        except Exception as e:  # noqa: BLE001 - reported by /ready and the log, the process stays up
            log.exception("model load failed")
            self.load_error = f"{type(e).__name__}: {e}"

    def attach(self, engine) -> None:
        if engine.store is not None:  # partial uploads of a previous process that died mid-request
            for stale in (Path(engine.store.root) / "incoming").glob("*.upload"):
                stale.unlink(missing_ok=True)
        engine.start()
        self.engine = engine
        self.metrics.attach_engine(lambda: self.engine.stats() if self.engine is not None else None)
        self.loaded.set()


def resolve_model_dir(model: str, bits: int = 4, gpr: int = 4) -> Path:
    """The sketched base directory to serve for `model` (sketch.pipeline.sketched_base_dir)."""
    from sketch.pipeline import sketched_base_dir

    return sketched_base_dir(model, bits, gpr)
