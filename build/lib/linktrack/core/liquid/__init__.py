"""Liquid for messages: python-liquid with the Customer.io `cio_link` tag and the pipeline's tags.

`environment` holds the Environment and the compile/render entry points,
`cio_link` the `{% cio_link %}` tag, `href` the internal `linktrack_href` /
`linktrack_pixel` tags the compose pipeline wraps href values and the pixel in.
"""

from __future__ import annotations

from linktrack.core.liquid.cio_link import LinkHook, current_link_hook
from linktrack.core.liquid.environment import (
    OutputWatch,
    TemplateError,
    compile_liquid,
    compiled_value,
    current_watch,
    render_liquid,
)
from linktrack.core.liquid.href import HrefHooks, current_href_hooks

__all__ = [
    "HrefHooks",
    "LinkHook",
    "OutputWatch",
    "TemplateError",
    "compile_liquid",
    "compiled_value",
    "current_href_hooks",
    "current_link_hook",
    "current_watch",
    "render_liquid",
]
