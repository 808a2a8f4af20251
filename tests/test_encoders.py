"""Encoders: the real packaged model offline, one instance per process, determinism."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from django.test import override_settings

from wagtail_neural_feed.encoders import (
    HashingEncoder,
    SentenceTransformerEncoder,
    get_encoder,
)
from wagtail_neural_feed.exceptions import NeuralFeedConfigurationError


def test_hashing_encoder_is_deterministic_and_normalised():
    encoder = HashingEncoder(dimensions=32)
    a = encoder.encode(["the quick brown fox", "the quick brown fox", "lorem ipsum"])
    assert a.shape == (3, 32)
    assert np.allclose(a[0], a[1])
    assert not np.allclose(a[0], a[2])
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)


def test_get_encoder_is_one_instance_and_follows_settings():
    first = get_encoder()
    assert first is get_encoder()
    with override_settings(
        WAGTAIL_NEURAL_FEED={
            "ENCODER": "wagtail_neural_feed.encoders.HashingEncoder",
            "ENCODER_OPTIONS": {"dimensions": 16},
        }
    ):
        assert get_encoder().dimension == 16
    # the override's encoder is dropped with it
    assert get_encoder().dimension == 384


def test_bad_encoder_path_raises_a_clear_error():
    from wagtail_neural_feed.encoders import build_encoder

    with (
        override_settings(WAGTAIL_NEURAL_FEED={"ENCODER": "nope.Missing"}),
        pytest.raises(NeuralFeedConfigurationError, match=r"\['ENCODER'\]"),
    ):
        build_encoder()


@pytest.mark.real_model
def test_packaged_model_loads_offline_and_means_something():
    code = (
        "from wagtail_neural_feed.encoders import SentenceTransformerEncoder\n"
        "e = SentenceTransformerEncoder()\n"
        "v = e.embed_documents(['The cat sat on the mat', 'A kitten rested on a rug',"
        " 'Quarterly tax filing deadlines'])\n"
        "print(e.dimension, round(float(v[0] @ v[1]), 3), round(float(v[0] @ v[2]), 3))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": "/nonexistent-hf-home",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    dimension, similar, unrelated = int(out[0]), float(out[1]), float(out[2])
    assert dimension == 384
    assert similar > 0.5 > unrelated


@pytest.mark.real_model
def test_twenty_concurrent_callers_load_one_model(monkeypatch):
    import sentence_transformers

    loads = []
    real_class = sentence_transformers.SentenceTransformer

    class CountingSentenceTransformer(real_class):
        def __init__(self, *args, **kwargs):
            loads.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", CountingSentenceTransformer)
    encoder = SentenceTransformerEncoder()
    results = []
    barrier = threading.Barrier(20)

    def publish_like():
        barrier.wait()
        results.append(encoder.embed_documents(["a page about rivers"])[0])

    threads = [threading.Thread(target=publish_like) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1
    assert len(results) == 20 and all(np.allclose(r, results[0], atol=1e-5) for r in results)


@pytest.mark.real_model
def test_real_model_chunks_text_past_its_window():
    encoder = SentenceTransformerEncoder()
    head = "The football match ended in a draw after extra time. " * 40  # > 256 tokens
    tail = "Volcanic eruptions release lava, ash and sulphur dioxide. " * 40
    assert len(encoder.chunk(head + tail)) >= 3
    whole, only_head, about_volcanoes = encoder.embed_documents(
        [head + tail, head, "volcano eruption lava"]
    )
    # the part past the window changes the vector towards its topic
    assert whole @ about_volcanoes > only_head @ about_volcanoes + 0.1
