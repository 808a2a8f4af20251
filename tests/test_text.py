"""Page text extraction: what Wagtail indexes for search, never rendered templates."""

import numpy as np
import pytest

from tests.factories import CustomTextPageFactory
from tests.testapp.models import ArticlePage
from wagtail_neural_feed.encoders import BaseEncoder, HashingEncoder
from wagtail_neural_feed.text import content_field_names, page_text, text_hash


def test_content_fields_follow_search_fields_then_rich_fields():
    assert content_field_names(ArticlePage) == ["intro", "body", "related"]


def test_page_text_includes_title_description_richtext_and_stream(home):
    page = ArticlePage(
        title="Comets",
        search_description="Icy travellers",
        intro="<p>Tails point <b>away</b></p><p>from the Sun</p>",
        body=[
            ("heading", "Orbits"),
            ("paragraph", "<p>Long <i>elliptical</i> paths</p>"),
            ("quote", {"text": "A comet is a snowball", "by": "Whipple"}),
        ],
        secret_note="internal only",
    )
    home.add_child(instance=page)
    text = page_text(page)
    for expected in [
        "Comets",
        "Icy travellers",
        "Tails point away",
        "from the Sun",
        "Orbits",
        "Long elliptical paths",
        "A comet is a snowball",
        "Whipple",
    ]:
        assert expected in text
    assert "<" not in text  # HTML is stripped
    assert "internal only" not in text  # not a search field, not rich content


def test_get_embedding_text_override(home):
    page = CustomTextPageFactory(parent=home, title="Ignored title", topic="volcanoes")
    assert page.get_embedding_text() == "Topic: volcanoes"


def test_text_hash_depends_on_model_and_text():
    assert text_hash("a", "m1") == text_hash("a", "m1")
    assert text_hash("a", "m1") != text_hash("a", "m2")
    assert text_hash("a", "m1") != text_hash("b", "m1")


class WindowedEncoder(HashingEncoder):
    max_tokens = 15  # ten words a chunk


def test_long_documents_are_chunked_and_pooled_not_truncated():
    encoder = WindowedEncoder(dimensions=64)
    head = " ".join(["alpha"] * 10)
    tail = " ".join(["omega"] * 10)
    assert encoder.chunk(f"{head} {tail}") == [head, tail]
    pooled = encoder.embed_documents([f"{head} {tail}"])[0]
    only_head = encoder.embed_documents([head])[0]
    only_tail = encoder.embed_documents([tail])[0]
    # the tail beyond the window contributes as much as the head
    assert pooled @ only_tail == pytest.approx(pooled @ only_head, abs=1e-5)
    assert pooled @ only_tail > 0.5
    assert np.linalg.norm(pooled) == pytest.approx(1.0, abs=1e-5)


def test_embed_documents_checks_the_encoder_shape():
    class Broken(BaseEncoder):
        dimension = 4

        def encode(self, texts):
            return np.zeros((len(texts), 3))

    from wagtail_neural_feed.exceptions import EncoderError

    with pytest.raises(EncoderError, match="expected"):
        Broken().embed_documents(["x"])
