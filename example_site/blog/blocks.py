"""StreamField blocks of the demo's pages, in one place so new blocks are added once."""

from wagtail import blocks

#: Blocks of an article's body.
ARTICLE_BLOCKS = [
    ("heading", blocks.CharBlock(form_classname="title")),
    ("paragraph", blocks.RichTextBlock(features=["bold", "italic", "link"])),
]

#: Blocks editors can place on the home page below the built-in lists.
HOME_BLOCKS = [
    ("heading", blocks.CharBlock(form_classname="title")),
    ("paragraph", blocks.RichTextBlock(features=["bold", "italic", "link"])),
]
