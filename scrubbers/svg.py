"""SVG: rebuilt from an allowlist of SVG elements and attributes; everything else removed.

What an editor leaves in a drawing: Inkscape's ``inkscape:export-filename`` (the author's
home folder), ``sodipodi:docname``, window geometry and version; Illustrator's, Sketch's and
other tools' private namespaces; ``<metadata>`` with RDF/Dublin Core (``dc:creator``, C2PA
manifests); comments; and things a viewer runs or loads by itself (``<script>``, ``on*``
attributes, ``<foreignObject>``, external ``href`` and CSS ``url(...)``, ``@import``).

Kept: the elements of the table below with their geometry and presentation attributes,
``href`` only when it points inside the file (``#id``), text inside text elements (it is
drawn), and ``<style>`` when its CSS passes a conservative check. An ``<a>`` link to
``http(s):``/``mailto:`` stays (it is content) and is listed for the editors
("hyperlinks"). A ``data:`` image is decoded, cleaned by its own scrubber and re-encoded;
one that cannot be cleaned makes the drawing "not cleaned".

``<title>`` and ``<desc>`` are removed: they are not drawn (a tooltip at most), and editors
fill them from the document properties (Inkscape's document title, the author's
description); ExifTool reads the root's title as the file's ``Title``.

Removed things are reported by name only, from a closed vocabulary (``svg:metadata``,
``svg:inkscape:export-filename``, ``svg:unknown-namespace``): a name found in the file is
reported only when it is one we know, so no free text of the file reaches the report.

A doctype naming an external DTD only (``<!DOCTYPE svg PUBLIC ...>``, written by many tools)
is dropped before parsing; one with an internal subset (entities) is refused by
`scrubbers._xml.parse`. Gzip-compressed ``.svgz`` is not sniffed as SVG: unsupported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scrubbers import _data_uri, _svg_names, _xml
from scrubbers._core import scrub_embedded
from scrubbers._sniff_text import SVG_NS
from scrubbers._svg_values import attribute_is_valid, css_value_is_valid
from scrubbers._types import Cleaned, Limits, PassRecord
from scrubbers._xml import Element
from scrubbers.errors import UnsupportedTypeError

XLINK = "http://www.w3.org/1999/xlink"
XML_NS = _xml.XML_NS

# --- the allowlist ---------------------------------------------------------------------------

# Attributes every kept element may carry: core (SVG 2 §1.7 / SVG 1.1 §5.3), styling
# (SVG 2 §6.4), conditional processing (SVG 2 §5.8), presentation attributes (SVG 2 §6.6 /
# SVG 1.1 Appendix M.2 "Presentation attributes"). The same names are the CSS properties
# kept in ``style`` attributes and ``<style>`` elements.
PRESENTATION = frozenset(
    """alignment-baseline baseline-shift clip clip-path clip-rule color color-interpolation
    color-interpolation-filters color-rendering cursor direction display dominant-baseline
    enable-background fill fill-opacity fill-rule filter flood-color flood-opacity font
    font-family font-size font-size-adjust font-stretch font-style font-variant font-weight
    font-variant-ligatures font-variant-caps font-variant-numeric font-variant-east-asian
    font-feature-settings glyph-orientation-horizontal glyph-orientation-vertical
    image-rendering isolation kerning letter-spacing lighting-color line-height marker
    marker-end marker-mid marker-start mask mask-type mix-blend-mode opacity overflow
    paint-order pointer-events shape-rendering solid-color solid-opacity stop-color
    stop-opacity stroke stroke-dasharray stroke-dashoffset stroke-linecap stroke-linejoin
    stroke-miterlimit stroke-opacity stroke-width text-align text-anchor text-decoration
    text-indent text-orientation text-rendering text-transform transform transform-box
    transform-origin unicode-bidi vector-effect visibility white-space word-spacing
    writing-mode""".split()
)
COMMON = PRESENTATION | {"id", "class", "style", "tabindex", "lang", "systemLanguage"}
# Attributes whose value is a name the file chose: renamed (`scrubbers._svg_names`).
_NAMES = frozenset({"id", "class", "result", "in", "in2"})
_GEOMETRY = {"x", "y", "width", "height"}
# Element -> (spec section, its own attributes). Everything not here is removed.
ELEMENTS: dict[str, tuple[str, frozenset[str]]] = {
    name: (section, frozenset(attributes))
    for name, section, attributes in (
        # Document structure (SVG 2 ch. 5 / SVG 1.1 ch. 5)
        ("svg", "SVG 2 §5.1.2", _GEOMETRY | {"viewBox", "preserveAspectRatio", "version",
                                            "baseProfile", "zoomAndPan"}),
        ("g", "SVG 2 §5.2.1", set()),
        ("defs", "SVG 2 §5.3.1", set()),
        ("symbol", "SVG 2 §5.5.1", _GEOMETRY | {"viewBox", "preserveAspectRatio", "refX",
                                               "refY"}),
        ("use", "SVG 2 §5.6.1", _GEOMETRY | {"href"}),
        ("switch", "SVG 2 §5.9.1", set()),
        # Shapes and paths (SVG 2 ch. 9-10)
        ("path", "SVG 2 §9.2", {"d", "pathLength"}),
        ("rect", "SVG 2 §10.2", _GEOMETRY | {"rx", "ry", "pathLength"}),
        ("circle", "SVG 2 §10.3", {"cx", "cy", "r", "pathLength"}),
        ("ellipse", "SVG 2 §10.4", {"cx", "cy", "rx", "ry", "pathLength"}),
        ("line", "SVG 2 §10.5", {"x1", "y1", "x2", "y2", "pathLength"}),
        ("polyline", "SVG 2 §10.6", {"points", "pathLength"}),
        ("polygon", "SVG 2 §10.7", {"points", "pathLength"}),
        # Text (SVG 2 ch. 11)
        ("text", "SVG 2 §11.2", {"x", "y", "dx", "dy", "rotate", "textLength",
                                 "lengthAdjust"}),
        ("tspan", "SVG 2 §11.2", {"x", "y", "dx", "dy", "rotate", "textLength",
                                  "lengthAdjust"}),
        ("textPath", "SVG 2 §11.8", {"href", "startOffset", "method", "spacing", "side",
                                     "path", "textLength", "lengthAdjust"}),
        # Embedded content (SVG 2 ch. 12): data: pictures only, cleaned
        ("image", "SVG 2 §12.2", _GEOMETRY | {"href", "preserveAspectRatio"}),
        # Painting (SVG 2 ch. 13-14)
        ("marker", "SVG 2 §13.8", {"viewBox", "preserveAspectRatio", "refX", "refY",
                                   "markerUnits", "markerWidth", "markerHeight", "orient"}),
        ("linearGradient", "SVG 2 §14.2", {"x1", "y1", "x2", "y2", "gradientUnits",
                                           "gradientTransform", "spreadMethod", "href"}),
        ("radialGradient", "SVG 2 §14.3", {"cx", "cy", "r", "fx", "fy", "fr",
                                           "gradientUnits", "gradientTransform",
                                           "spreadMethod", "href"}),
        ("stop", "SVG 2 §14.4", {"offset"}),
        ("pattern", "SVG 2 §14.5", _GEOMETRY | {"viewBox", "preserveAspectRatio",
                                               "patternUnits", "patternContentUnits",
                                               "patternTransform", "href"}),
        # Styling (SVG 2 §6.3): the CSS is checked, see _clean_css
        ("style", "SVG 2 §6.3", {"type", "media"}),
        # Linking (SVG 2 §16.2)
        ("a", "SVG 2 §16.2", {"href", "target"}),
        # Clipping and masking (CSS Masking 1 §14-15, SVG 1.1 ch. 14)
        ("clipPath", "CSS Masking §14.2", {"clipPathUnits"}),
        ("mask", "CSS Masking §15.2", _GEOMETRY | {"maskUnits", "maskContentUnits"}),
        # Filter effects (Filter Effects 1 / SVG 1.1 ch. 15)
        ("filter", "Filter Effects §8", _GEOMETRY | {"filterUnits", "primitiveUnits", "href"}),
        *(
            (name, "Filter Effects §9", _GEOMETRY | {"in", "in2", "result"} | set(extra))
            for name, extra in (
                ("feBlend", ("mode",)),
                ("feColorMatrix", ("type", "values")),
                ("feComponentTransfer", ()),
                ("feComposite", ("operator", "k1", "k2", "k3", "k4")),
                ("feConvolveMatrix", ("order", "kernelMatrix", "divisor", "bias", "targetX",
                                      "targetY", "edgeMode", "kernelUnitLength",
                                      "preserveAlpha")),
                ("feDiffuseLighting", ("surfaceScale", "diffuseConstant",
                                       "kernelUnitLength")),
                ("feDisplacementMap", ("scale", "xChannelSelector", "yChannelSelector")),
                ("feDropShadow", ("dx", "dy", "stdDeviation")),
                ("feFlood", ()),
                ("feGaussianBlur", ("stdDeviation", "edgeMode")),
                ("feImage", ("href", "preserveAspectRatio", "crossorigin")),
                ("feMerge", ()),
                ("feMergeNode", ()),
                ("feMorphology", ("operator", "radius")),
                ("feOffset", ("dx", "dy")),
                ("feSpecularLighting", ("surfaceScale", "specularConstant",
                                        "specularExponent", "kernelUnitLength")),
                ("feTile", ()),
                ("feTurbulence", ("baseFrequency", "numOctaves", "seed", "stitchTiles",
                                  "type")),
            )
        ),
        *(
            (name, "Filter Effects §9.6", {"type", "tableValues", "slope", "intercept",
                                           "amplitude", "exponent", "offset"})
            for name in ("feFuncR", "feFuncG", "feFuncB", "feFuncA")
        ),
        ("feDistantLight", "Filter Effects §9.15", {"azimuth", "elevation"}),
        ("fePointLight", "Filter Effects §9.16", {"x", "y", "z"}),
        ("feSpotLight", "Filter Effects §9.17", {"x", "y", "z", "pointsAtX", "pointsAtY",
                                                 "pointsAtZ", "specularExponent",
                                                 "limitingConeAngle"}),
    )
}  # fmt: skip
# Elements whose character data is drawn (or, for <style>, checked CSS).
_TEXT_ELEMENTS = frozenset({"text", "tspan", "textPath", "a", "style"})
# SVG elements known and removed, reported by their name (others: svg:unknown-element).
_KNOWN_REMOVED = frozenset(
    """metadata title desc script foreignObject animate animateMotion animateTransform
    animateColor set mpath discard cursor font font-face font-face-src font-face-uri
    font-face-format font-face-name glyph missing-glyph hkern vkern glyphRef altGlyph
    altGlyphDef altGlyphItem tref color-profile view iframe video audio canvas
    unknown handler listener prefetch solidcolor meshgradient hatch""".split()
)
# Namespaces of editors and metadata vocabularies, with the prefix used in reports; their
# well-known names are reported in full, any other as "<prefix>:other".
_KNOWN_NAMESPACES: dict[str, str] = {
    "http://www.inkscape.org/namespaces/inkscape": "inkscape",
    "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd": "sodipodi",
    "http://ns.adobe.com/AdobeIllustrator/10.0/": "illustrator",
    "http://ns.adobe.com/AdobeSVGViewerExtensions/3.0/": "adobe-svg-viewer",
    "http://ns.adobe.com/Extensibility/1.0/": "adobe-extensibility",
    "http://ns.adobe.com/Graphs/1.0/": "adobe-graphs",
    "http://ns.adobe.com/Variables/1.0/": "adobe-variables",
    "http://ns.adobe.com/SaveForWeb/1.0/": "adobe-sfw",
    "http://www.bohemiancoding.com/sketch/ns": "sketch",
    "http://www.serif.com/": "serif",
    "http://vectornator.io": "vectornator",
    "http://krita.org/namespaces/svg/krita": "krita",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://creativecommons.org/ns#": "cc",
    "http://web.resource.org/cc/": "cc",
    "http://ns.adobe.com/xap/1.0/": "xmp",
    XLINK: "xlink",
}
_KNOWN_FOREIGN_NAMES = frozenset(
    """export-filename export-xdpi export-ydpi version docname docbase output_extension
    label groupmode namedview grid guide pageopacity pageshadow zoom cx cy current-layer
    window-width window-height window-x window-y window-maximized document-units
    connector-curvature collect transform-center-x transform-center-y path-effect
    original-d insensitive role nodetypes type title show actuate arcrole RDF Description
    creator publisher date rights contributor Work Agent License""".split()
)
_NAME = re.compile(r"[A-Za-z_][\w.-]{0,63}\Z")
_INTERNAL = re.compile(r"#[A-Za-z_][\w.:-]*\Z")
_TARGETS = frozenset({"_blank", "_self", "_parent", "_top"})
_LINK_SCHEMES = re.compile(r"(?:https?:|mailto:)", re.I)
_DOCTYPE = re.compile(
    rb"\A((?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>)?\s*)"
    rb"<!DOCTYPE\s+svg\s+PUBLIC\s+(?:\"[^\"<>\[]*\"|'[^'<>\[]*')\s+"
    rb"(?:\"[^\"<>\[]*\"|'[^'<>\[]*')\s*>",
    re.S,
)

# --- CSS --------------------------------------------------------------------------------------

_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_FUNCTION = re.compile(r"([A-Za-z-]+)\s*\(")
_SAFE_FUNCTIONS = frozenset(
    {"url", "rgb", "rgba", "hsl", "hsla", "calc", "var", "matrix", "translate", "translatex",
     "translatey", "scale", "scalex", "scaley", "rotate", "skewx", "skewy", "min", "max"}
)  # fmt: skip
_CSS_URL = re.compile(r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\s]*))\s*\)", re.I)
_CSS_RULE = re.compile(r"\s*([^{}@\\<]+?)\s*\{([^{}]*)\}", re.S)
_SELECTOR = re.compile(r"[\w\s.#,>*:+~()\[\]=\"'|^$-]+\Z")


def _foreign_name(uri: str, local: str) -> str:
    prefix = _KNOWN_NAMESPACES.get(uri)
    if prefix is None:
        return "svg:unknown-namespace"
    return f"svg:{prefix}:{local if local in _KNOWN_FOREIGN_NAMES else 'other'}"


@dataclass
class _Pass(PassRecord):
    limits: Limits
    check_only: bool

    def run(self, untrusted_data: bytes) -> _xml.XmlDoc:
        doctype = _DOCTYPE.match(untrusted_data)
        if doctype is not None:
            # An external DTD only: no reader of ours loads it; SVG needs none.
            untrusted_data = doctype.group(1) + untrusted_data[doctype.end() :]
            self.removed.add("svg:doctype")
        doc = _xml.parse(untrusted_data, self.limits)
        if doc.root.tag != f"{{{SVG_NS}}}svg":
            raise UnsupportedTypeError("not an SVG document")
        if doc.comments:
            self.removed.add("svg:comment")
        if doc.instructions:
            self.removed.add("svg:processing-instruction")
        self._clean_attributes(doc.root, "svg")
        self._clean_children(doc.root, "svg")
        styles = [e for e in doc.root.iter(f"{{{SVG_NS}}}style")]
        self.removed.update(_svg_names.rename(doc.root, styles, frozenset(ELEMENTS)))
        uses_xlink = any(
            _xml.namespace(name) == XLINK for element in doc.root.iter() for name in element.attrib
        )
        kept = [("", SVG_NS)] + ([("xlink", XLINK)] if uses_xlink else [])
        if any(uri not in (SVG_NS, XLINK) for _, uri in doc.namespaces):
            self.removed.add("svg:namespace-declaration")
        doc.namespaces = kept
        return doc

    def _clean_children(self, parent: Element, parent_name: str) -> None:
        drawn_text = parent_name in _TEXT_ELEMENTS
        pieces: list[Element | str | None] = [self._text(parent.text, drawn_text)]
        for child in list(parent):
            tail = self._text(child.tail, drawn_text)
            uri, local = _xml.namespace(child.tag), _xml.local_name(child.tag)
            if uri != SVG_NS or local not in ELEMENTS:
                if uri == SVG_NS:
                    self.removed.add(f"svg:{local}" if local in _KNOWN_REMOVED else
                                     "svg:unknown-element")  # fmt: skip
                else:
                    self.removed.add(_foreign_name(uri, local))
                pieces.append(tail)
                continue
            self._clean_attributes(child, local)
            if local == "style":
                if not self._clean_style_element(child):
                    pieces.append(tail)
                    continue
            else:
                self._clean_children(child, local)
            pieces.extend((child, tail))
        _xml.splice(parent, pieces)
        if not drawn_text:
            # One line break between elements, whatever was there (and was removed).
            parent.text = "\n" if len(parent) else None
            for child in parent:
                child.tail = "\n"

    def _text(self, text: str | None, drawn: bool) -> str | None:
        if not text or drawn:
            return text
        if text.strip():
            # Character data outside text elements is never drawn: nobody would see it.
            self.removed.add("svg:hidden-text")
        return "\n"

    def _clean_attributes(self, element: Element, local: str) -> None:
        allowed = ELEMENTS[local][1] | COMMON
        for name in list(element.attrib):
            value = element.attrib[name]
            uri, attr = _xml.namespace(name), _xml.local_name(name)
            if attr == "href" and uri in (XLINK, ""):
                if "href" in allowed:
                    self._clean_href(element, name, local, value)
                else:
                    del element.attrib[name]
                    self.removed.add("svg:external-reference")
                continue
            if uri == XML_NS and attr in ("space", "lang"):
                if not attribute_is_valid(attr, value):
                    del element.attrib[name]
                    self.removed.add("svg:invalid-value")
                continue
            if uri == "" and attr in allowed:
                if attr == "target" and value not in _TARGETS:
                    # A window name is free text nobody sees.
                    del element.attrib[name]
                    self.removed.add("svg:unknown-attribute")
                elif attr == "style":
                    cleaned = self._clean_declarations(value)
                    if cleaned != value:
                        element.attrib[name] = cleaned
                    if not cleaned:
                        del element.attrib[name]
                elif attr in PRESENTATION and "(" in value and not self._css_safe(value):
                    del element.attrib[name]
                    self.removed.add("svg:external-reference")
                elif not self._value_valid(attr, value):
                    # Not a value of this attribute: draws nothing, so only room for text.
                    del element.attrib[name]
                    self.removed.add("svg:invalid-value")
                continue
            del element.attrib[name]
            if uri == "":
                if attr.lower().startswith("on"):
                    self.removed.add("svg:event-attribute")
                else:
                    self.removed.add("svg:unknown-attribute")
            else:
                self.removed.add(_foreign_name(uri, attr))

    @staticmethod
    def _value_valid(attr: str, value: str) -> bool:
        if attr in _NAMES:
            return all(_NAME.match(token) for token in value.split()) if value.strip() else False
        if attr in PRESENTATION:
            return css_value_is_valid(attr, value.strip())
        return attribute_is_valid(attr, value)

    def _clean_href(self, element: Element, name: str, local: str, value: str) -> None:
        target = value.strip()
        if _INTERNAL.match(target):
            return
        if local == "a" and _LINK_SCHEMES.match(target):
            # A link the reader clicks is content: kept, and named to the editors.
            self._add_link(target)
            return
        if local in ("image", "feImage") and _data_uri.is_data_uri(target):
            element.attrib[name] = self._clean_data_uri(target)
            return
        del element.attrib[name]
        self.removed.add("svg:external-reference")

    def _clean_data_uri(self, target: str) -> str:
        # Cleaned by the scrubber of its real type (a JPEG's EXIF and GPS go); one that
        # cannot be cleaned makes the drawing not cleaned (the error propagates).
        result = scrub_embedded(_data_uri.decode(target), self.limits, check_only=self.check_only)
        return _data_uri.encode(self.absorb(result))

    def _css_safe(self, css: str) -> bool:
        """No at-rule, escape, markup, or function outside the list; url() to #id only."""
        if any(c in css for c in "@\\<>"):
            return False
        if any(f.lower() not in _SAFE_FUNCTIONS for f in _CSS_FUNCTION.findall(css)):
            return False
        for url in _CSS_URL.finditer(css):
            target = next(g for g in url.groups() if g is not None)
            if not _INTERNAL.match(target.strip()):
                return False
        # Every "url(" must have been one of those matches (no broken ones).
        return css.lower().count("url(") == len(_CSS_URL.findall(css))

    def _clean_declarations(self, css: str) -> str:
        if "/*" in css:
            self.removed.add("svg:css-comment")
            css = _CSS_COMMENT.sub(" ", css)
        kept: list[str] = []
        for declaration in css.split(";"):
            if not declaration.strip():
                continue
            prop, colon, value = declaration.partition(":")
            prop = prop.strip().lower()
            if not colon or prop not in PRESENTATION:
                self.removed.add("svg:css-property")
                continue
            if not self._css_safe(value):
                self.removed.add("svg:external-reference")
                continue
            if not css_value_is_valid(prop, value.strip()):
                self.removed.add("svg:invalid-value")
                continue
            kept.append(f"{prop}:{value.strip()}")
        return ";".join(kept)

    def _clean_style_element(self, element: Element) -> bool:
        """Keep a <style> element rebuilt from checked rules; False when it must go."""
        css = "".join(element.itertext())
        if element.get("type", "text/css").strip().lower() != "text/css" or len(element):
            self.removed.add("svg:style")
            return False
        if "/*" in css:
            self.removed.add("svg:css-comment")
            css = _CSS_COMMENT.sub(" ", css)
        rules: list[str] = []
        position = 0
        while position < len(css):
            rule = _CSS_RULE.match(css, position)
            if rule is None:
                if css[position:].strip():
                    # @import, @font-face, escapes, nesting: not understood, so not kept.
                    self.removed.add("svg:style")
                    return False
                break
            position = rule.end()
            selector = rule.group(1)
            if not _SELECTOR.match(selector) or "url" in selector.lower():
                self.removed.add("svg:style")
                return False
            declarations = self._clean_declarations(rule.group(2))
            rules.append(f"{' '.join(selector.split())}{{{declarations}}}")
        element.text = "\n".join(rules) + "\n" if rules else None
        return True


class SvgScrubber:
    file_types = ("svg",)

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        state = _Pass(limits, check_only=True)
        state.run(untrusted_data)
        return sorted(state.removed)

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        state = _Pass(limits, check_only=False)
        doc = state.run(untrusted_data)
        return state.cleaned(_xml.serialize(doc))
