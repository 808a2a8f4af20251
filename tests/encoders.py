"""Encoders for tests: real behaviour (hashing) plus a counter, a failure or a delay."""

import threading
import time

from wagtail_neural_feed.encoders import HashingEncoder
from wagtail_neural_feed.exceptions import EncoderError


class CountingEncoder(HashingEncoder):
    """Counts the texts it encodes, across instances."""

    model_name = "counting-hashing"
    encoded: list[str] = []
    lock = threading.Lock()

    def encode(self, texts):
        with self.lock:
            CountingEncoder.encoded.extend(texts)
        return super().encode(texts)


class FailingEncoder(HashingEncoder):
    model_name = "failing"

    def encode(self, texts):
        raise EncoderError("model exploded")


class SlowEncoder(HashingEncoder):
    """Takes its time, so a process can exit before it finishes."""

    def encode(self, texts):
        time.sleep(5)
        return super().encode(texts)
