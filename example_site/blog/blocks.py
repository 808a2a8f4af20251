"""StreamField blocks of the demo's pages, in one place so new blocks are added once.

Editors can place the plugin's list blocks anywhere in an article or on the
home page, next to the lists the templates render.
"""

from wagtail import blocks

from wagtail_neural_feed.blocks import RecommendedPagesBlock, SimilarPagesBlock

TEXT_BLOCKS = [
    ("heading", blocks.CharBlock(form_classname="title")),
    ("paragraph", blocks.RichTextBlock(features=["bold", "italic", "link"])),
]

#: Blocks of an article's body.
ARTICLE_BLOCKS = [
    *TEXT_BLOCKS,
    ("recommended_pages", RecommendedPagesBlock()),
    ("similar_pages", SimilarPagesBlock()),
]

#: Blocks editors can place on the home page below the built-in lists.
HOME_BLOCKS = [*TEXT_BLOCKS, ("recommended_pages", RecommendedPagesBlock())]
