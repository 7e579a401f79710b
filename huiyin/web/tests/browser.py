"""Browser helpers of the staff pages' tests at the two sizes people use: a laptop (1366×768) and
a phone (390×844). The one Chromium of the session (`browser` in conftest.py) gets one context
per persona and size; a persona is signed in by its session cookie (the sign-in page itself is
tested once, in test_browser.py), so a test pays for no login round trips.

Import the fixture in a test module with `from .browser import screens_fixture  # noqa: F401`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from huiyin.conftest import SCREENSHOTS, full_page_shot

SIZES = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


class Screens:
    """Pages signed in as personas, per size: `screens.as_("leader", "phone")`."""

    def __init__(self, browser: Any, base_url: str, org: Any):
        self.browser = browser
        self.base_url = base_url
        self.org = org
        self.contexts: dict[tuple[str, str, str], Any] = {}
        self.pages: dict[tuple[str, str, str], Any] = {}

    def as_(self, username: str, size: str = "laptop", *, lang: str = "zh-hans") -> Any:
        key = (username, size, lang)
        if key not in self.pages:
            client = Client()
            client.force_login(getattr(self.org, username))
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            ctx = self.browser.new_context(
                base_url=self.base_url, locale="zh-CN" if lang != "en" else "en-US", timezone_id="Asia/Shanghai",
                viewport=SIZES[size], accept_downloads=True, has_touch=size == "phone",
                is_mobile=size == "phone", device_scale_factor=1,
            )
            ctx.set_default_timeout(10_000)
            ctx.add_cookies([
                {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": self.base_url},
                {"name": settings.LANGUAGE_COOKIE_NAME, "value": lang, "url": self.base_url},
            ])
            self.contexts[key], self.pages[key] = ctx, ctx.new_page()
        return self.pages[key]

    def close(self) -> None:
        for ctx in self.contexts.values():
            ctx.close()


@pytest.fixture(name="screens")
def screens_fixture(browser: Any, live_server: Any, org: Any) -> Iterator[Screens]:
    s = Screens(browser, live_server.url, org)
    yield s
    s.close()


def shot(page: Any, name: str, size: str) -> Path:
    """A full-page screenshot var/screenshots/<name>-<size>.png (huiyin.conftest.full_page_shot:
    taken once per `make test`)."""
    return full_page_shot(page, SCREENSHOTS / f"{name}-{size}.png")


def in_first_screen(page: Any, selector: str) -> bool:
    """Whether the element is wholly visible without scrolling (top of the page, this viewport)."""
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"]
    return bool(box and box["y"] >= 0 and box["y"] + box["height"] <= height)


def page_fits(page: Any) -> bool:
    """No sideways scrolling of the page itself (tables scroll inside their own box)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def rgb(page: Any, selector: str, prop: str = "background-color") -> tuple[int, ...]:
    value = page.locator(selector).first.evaluate(f"e => getComputedStyle(e).getPropertyValue('{prop}')")
    return tuple(int(x) for x in re.findall(r"\d+", value)[:3])


def reddish(colour: tuple[int, ...]) -> bool:
    r, g, b = colour
    return r > 150 and g < 90 and b < 90


def yellowish(colour: tuple[int, ...]) -> bool:
    r, g, b = colour
    return r > 200 and 120 < g < 220 and b < 80


# WCAG 2.1 contrast of every visible text node, from the computed colours (the background is the
# first opaque one among the element and its ancestors; semi-transparent layers are blended).
CONTRAST_JS = r"""
() => {
  // Computed colours may be rgb(), oklab(), oklch(), color-mix() …: a canvas turns any into sRGB.
  const canvas = document.createElement("canvas"); canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  const cache = new Map();
  function parse(c) {
    if (cache.has(c)) return cache.get(c);
    ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = "rgba(0,0,0,0)"; ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    const out = [d[0], d[1], d[2], d[3] / 255];
    cache.set(c, out);
    return out;
  }
  function lum(c) {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  }
  function blend(top, bottom) {
    const a = top[3];
    return [top[0] * a + bottom[0] * (1 - a), top[1] * a + bottom[1] * (1 - a), top[2] * a + bottom[2] * (1 - a), 1];
  }
  function background(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.backgroundImage && s.backgroundImage !== "none" && !s.backgroundImage.startsWith("url")) {
        return null;  // a gradient: not measured
      }
      const c = parse(s.backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) out = blend(layers[i], out);
    return out;
  }
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    if (!el || seen.has(el)) continue;
    seen.add(el);
    const s = getComputedStyle(el);
    if (s.visibility === "hidden" || s.display === "none" || el.closest("[hidden], .d-none, script, style, option, .visually-hidden")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (el.closest("input, textarea, select") || (el.closest(".disabled, :disabled"))) continue;
    const bg = background(el);
    if (!bg) continue;
    let fg = parse(s.color);
    let opacity = 1;
    for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
    fg = blend([fg[0], fg[1], fg[2], fg[3] * opacity], bg);
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(s.fontSize), weight = Number(s.fontWeight) || 400;
    const large = size >= 24 || (size >= 18.66 && weight >= 700);
    const need = large ? 3 : 4.5;
    if (ratio < need) {
      bad.push({text: node.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100, need,
                color: s.color, background: `rgb(${bg.slice(0, 3).map(Math.round).join(",")})`,
                cls: el.className && el.className.baseVal === undefined ? el.className : el.tagName});
    }
  }
  return bad;
}
"""


def contrast_failures(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate(CONTRAST_JS))
