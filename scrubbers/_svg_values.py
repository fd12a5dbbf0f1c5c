"""What the value of a kept SVG attribute (or CSS property) may be: its grammar, as data.

A viewer ignores a value it cannot parse (``x="CANARY"``, ``fill="Jane"``), so such a value
draws nothing and is pure room for free text: a per-recipient watermark that would survive a
clean which only checked attribute *names*. Each kept attribute therefore also has a value
grammar from its specification (SVG 2 and SVG 1.1 attribute tables, Filter Effects 1, CSS
Color 4 for colours), and a value outside it is removed like an unknown attribute. Names the
file chooses itself (ids, classes, filter results) are not checked here but renamed
(`scrubbers._svg_names`). ``font-family`` and ``font`` stay free: a family name is what the
text is drawn with (content).
"""

from __future__ import annotations

import re
from typing import Final

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
# Length, percentage, angle and time units (SVG 2 §4.3, CSS Values 3).
_UNIT = r"(?:px|pt|pc|mm|cm|in|em|ex|ch|rem|vw|vh|vmin|vmax|q|%|deg|rad|grad|turn|s|ms)?"
_QUANTITY = _NUMBER + _UNIT
#: Lists of numbers/lengths, comma or space separated: coordinates, viewBox, points,
#: values, kernelMatrix, stdDeviation "2 3", stroke-dasharray...
_QUANTITIES = rf"\s*(?:{_QUANTITY}(?:\s*,\s*|\s+)?)*\s*"
_TRANSFORM = (
    rf"\s*(?:(?:matrix|translate|translatex|translatey|scale|scalex|scaley|rotate|skewx|"
    rf"skewy)\s*\({_QUANTITIES}\)\s*,?\s*)*"
)
_PATH_DATA = r"[MmZzLlHhVvCcSsQqTtAa0-9eE+\-.,\s]*"
_ASPECT = r"\s*(?:defer\s+)?(?:none|x(?:Min|Mid|Max)Y(?:Min|Mid|Max))(?:\s+(?:meet|slice))?\s*"
# A language tag as editors write it: language, optional script and region (BCP 47 §2.1),
# no free variant subtags.
_LANGUAGE = r"[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|\d{3}))?"

_UNITS_KEYWORDS = frozenset({"userSpaceOnUse", "objectBoundingBox", "strokeWidth"})

#: attribute -> regular expression its whole value must match.
_GRAMMARS: Final[dict[str, re.Pattern[str]]] = {
    # Case-insensitive: SVG spells some functions in camel case (skewX), CSS in any case.
    name: re.compile(pattern + r"\Z", re.I)
    for names, pattern in (
        (
            """x y width height r rx ry cx cy fx fy fr x1 y1 x2 y2 dx dy rotate textLength
            pathLength points viewBox offset refX refY markerWidth markerHeight k1 k2 k3 k4
            values kernelMatrix divisor bias targetX targetY order surfaceScale
            diffuseConstant kernelUnitLength scale stdDeviation radius baseFrequency
            numOctaves seed azimuth elevation z pointsAtX pointsAtY pointsAtZ
            specularConstant specularExponent limitingConeAngle tableValues slope intercept
            amplitude exponent startOffset tabindex""",
            _QUANTITIES,
        ),
        ("d path", _PATH_DATA),
        ("gradientTransform patternTransform", _TRANSFORM),
        ("preserveAspectRatio", _ASPECT),
        ("lang", rf"\s*{_LANGUAGE}\s*"),
        ("systemLanguage", rf"\s*{_LANGUAGE}(?:\s*,\s*{_LANGUAGE})*\s*"),
        ("version", r"\d(?:\.\d)?"),
        ("orient", rf"auto|auto-start-reverse|{_QUANTITY}"),
    )
    for name in names.split()
}

#: attribute -> its keywords (an enumerated value, matched exactly).
_ENUMS: Final[dict[str, frozenset[str]]] = {
    **{
        name: _UNITS_KEYWORDS
        for name in (
            "gradientUnits patternUnits patternContentUnits clipPathUnits maskUnits "
            "maskContentUnits filterUnits primitiveUnits markerUnits"
        ).split()
    },
    "spreadMethod": frozenset({"pad", "reflect", "repeat"}),
    "mode": frozenset(
        """normal multiply screen overlay darken lighten color-dodge color-burn hard-light
        soft-light difference exclusion hue saturation color luminosity""".split()
    ),
    "operator": frozenset("over in out atop xor lighter arithmetic erode dilate".split()),
    # feColorMatrix, feTurbulence and feFunc* types, and <style type> (checked as text/css).
    "type": frozenset(
        """matrix saturate hueRotate luminanceToAlpha fractalNoise turbulence identity table
        discrete linear gamma text/css""".split()
    ),
    "edgeMode": frozenset({"duplicate", "wrap", "none"}),
    "xChannelSelector": frozenset("RGBA"),
    "yChannelSelector": frozenset("RGBA"),
    "stitchTiles": frozenset({"stitch", "noStitch"}),
    "method": frozenset({"align", "stretch"}),
    "spacing": frozenset({"auto", "exact"}),
    "side": frozenset({"left", "right"}),
    "lengthAdjust": frozenset({"spacing", "spacingAndGlyphs"}),
    "crossorigin": frozenset({"", "anonymous", "use-credentials"}),
    "preserveAlpha": frozenset({"true", "false"}),
    "baseProfile": frozenset({"none", "full", "basic", "tiny"}),
    "zoomAndPan": frozenset({"disable", "magnify"}),
    "media": frozenset({"all", "screen", "print"}),
    "space": frozenset({"default", "preserve"}),  # xml:space
}

#: Filter inputs that are keywords (Filter Effects 1 §9.3); any other `in` names a result.
FILTER_INPUTS: Final = frozenset(
    """SourceGraphic SourceAlpha BackgroundImage BackgroundAlpha FillPaint
    StrokePaint""".split()
)

# --- CSS values (presentation attributes, style attributes, <style> rules) ----------------

#: CSS Color 4 §6.1 named colours, and the other colour keywords.
_COLOURS = frozenset(
    """aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue
    blueviolet brown burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk
    crimson cyan darkblue darkcyan darkgoldenrod darkgray darkgreen darkgrey darkkhaki
    darkmagenta darkolivegreen darkorange darkorchid darkred darksalmon darkseagreen
    darkslateblue darkslategray darkslategrey darkturquoise darkviolet deeppink deepskyblue
    dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia gainsboro ghostwhite
    gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo ivory khaki
    lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan
    lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen
    lightskyblue lightslategray lightslategrey lightsteelblue lightyellow lime limegreen linen
    magenta maroon mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen
    mediumslateblue mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream
    mistyrose moccasin navajowhite navy oldlace olive olivedrab orange orangered orchid
    palegoldenrod palegreen paleturquoise palevioletred papayawhip peachpuff peru pink plum
    powderblue purple rebeccapurple red rosybrown royalblue saddlebrown salmon sandybrown
    seagreen seashell sienna silver skyblue slateblue slategray slategrey snow springgreen
    steelblue tan teal thistle tomato turquoise violet wheat white whitesmoke yellow
    yellowgreen transparent currentcolor""".split()
)
#: The keywords of the SVG presentation properties (SVG 2 §6.6 property tables, CSS
#: Fonts/Text/Masking/Compositing for the properties SVG shares with CSS).
_KEYWORDS = _COLOURS | frozenset(
    """none inherit initial unset revert auto normal nonzero evenodd butt round square miter
    miter-clip arcs bevel start middle end left right center justify bold bolder lighter
    italic oblique small-caps ultra-condensed extra-condensed condensed semi-condensed
    semi-expanded expanded extra-expanded ultra-expanded larger smaller xx-small x-small small
    medium large x-large xx-large xxx-large visible hidden collapse scroll clip inline block
    inline-block list-item run-in compact table inline-table table-row-group
    table-header-group table-footer-group table-row table-column-group table-column
    table-cell table-caption flex inline-flex grid inline-grid contents sRGB linearRGB
    optimizeSpeed optimizeQuality geometricPrecision crispEdges optimizeLegibility pixelated
    crisp-edges smooth high-quality visiblePainted visibleFill visibleStroke painted fill
    stroke all ltr rtl embed bidi-override isolate isolate-override plaintext lr-tb rl-tb
    tb-rl lr rl tb horizontal-tb vertical-rl vertical-lr mixed upright sideways
    sideways-right use-glyph-orientation baseline before-edge text-before-edge after-edge
    text-after-edge central mathematical ideographic alphabetic hanging text-top
    text-bottom sub super underline overline line-through blink non-scaling-stroke
    non-scaling-size non-rotation fixed-position luminance alpha markers pre nowrap pre-wrap
    pre-line break-spaces capitalize uppercase lowercase full-width full-size-kana
    view-box fill-box stroke-box content-box border-box padding-box accumulate new
    multiply screen overlay darken lighten color-dodge color-burn hard-light soft-light
    difference exclusion hue saturation color luminosity common-ligatures
    no-common-ligatures discretionary-ligatures no-discretionary-ligatures
    historical-ligatures no-historical-ligatures contextual no-contextual all-small-caps
    petite-caps all-petite-caps unicase titling-caps lining-nums oldstyle-nums
    proportional-nums tabular-nums diagonal-fractions stacked-fractions ordinal slashed-zero
    jis78 jis83 jis90 jis04 simplified traditional proportional-width ruby top bottom
    serif sans-serif monospace cursive fantasy system-ui default pointer crosshair move text
    wait help progress not-allowed grab grabbing e-resize n-resize ne-resize nw-resize
    s-resize se-resize sw-resize w-resize""".lower().split()
)
_COLOUR_HEX = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})\Z")
_QUANTITY_RE = re.compile(_QUANTITY + r"\Z", re.I)
_CSS_TOKEN = re.compile(r"\s*(?:([A-Za-z-]+)\s*\(([^()]*)\)|([^\s,/()]+)|([,/]))")
_CSS_FUNCTION_ARGS = re.compile(r"[0-9eE+\-.,%/\sA-Za-z]*\Z")
_INTERNAL_URL = re.compile(r"\s*(?:\"#[\w.:-]+\"|'#[\w.:-]+'|#[\w.:-]+)\s*\Z")
_FREE_TEXT_PROPERTIES = frozenset({"font-family", "font"})
_FUNCTIONS = frozenset(
    {"rgb", "rgba", "hsl", "hsla", "calc", "min", "max", "matrix", "translate", "translatex",
     "translatey", "scale", "scalex", "scaley", "rotate", "skewx", "skewy"}
)  # fmt: skip


def attribute_is_valid(name: str, value: str) -> bool:
    """Is ``value`` a value of ``name`` by its specification (True for names without a
    grammar here: those are checked by their own rule in the SVG scrubber)?"""
    grammar = _GRAMMARS.get(name)
    if grammar is not None:
        return grammar.match(value) is not None
    keywords = _ENUMS.get(name)
    if keywords is not None:
        return value.strip() in keywords
    return True


def css_value_is_valid(prop: str, value: str) -> bool:
    """Is ``value`` made only of what the property's values are made of: numbers and
    lengths, colours, the properties' keywords, the listed functions of numbers, and
    ``url(#id)`` (free text only for the font family, which is content)."""
    if prop in _FREE_TEXT_PROPERTIES:
        return True
    if prop == "transform":
        return re.fullmatch(_TRANSFORM, value, re.I) is not None
    position, end = 0, len(value.rstrip())
    if end == 0:
        return False
    while position < end:
        token = _CSS_TOKEN.match(value, position)
        if token is None or token.end() == position:
            return False
        position = token.end()
        function, arguments, word, _separator = token.groups()
        if function is not None:
            if function.lower() == "url":
                if _INTERNAL_URL.match(arguments) is None:
                    return False
            elif function.lower() not in _FUNCTIONS or not _css_arguments_valid(arguments):
                return False
        elif word is not None and not _css_word_valid(word):
            return False
    return True


def _css_arguments_valid(arguments: str) -> bool:
    return _CSS_FUNCTION_ARGS.match(arguments) is not None and all(
        word in ("+", "-", "*") or _css_word_valid(word)  # calc() operators
        for word in re.split(r"[\s,/]+", arguments.strip())
        if word
    )


def _css_word_valid(word: str) -> bool:
    return (
        word.lower() in _KEYWORDS
        or _QUANTITY_RE.match(word) is not None
        or _COLOUR_HEX.match(word) is not None
        or word.lower() == "!important"
    )
