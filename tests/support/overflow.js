// The elements of a page whose text does not fit, for tests/support/web_browser.py's
// overflowing(page), which evaluates this function in the page (evaluate is not subject
// to the page's Content-Security-Policy, a <script> tag would be).
//
// An element is reported when it holds text of its own and
//   - its content is wider than its box (scrollWidth > clientWidth + 1) while its
//     overflow-x is neither auto nor scroll (the text is cut off or spills out), or
//   - its box reaches past the window's left or right edge, unless an ancestor scrolls
//     sideways (overflow-x: auto or scroll: a wide table in its scroller is fine);
// and the page itself is reported when it is wider than the window.
() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const inScroller = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (scrolls(a)) return true;
    }
    return false;
  };
  const ownText = (el) => {
    if (["INPUT", "BUTTON", "SELECT", "TEXTAREA"].includes(el.tagName)) {
      return (el.value || el.textContent || el.placeholder || "").trim();
    }
    let text = "";
    for (const node of el.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) text += node.textContent;
    }
    return text.trim();
  };
  const describe = (el, why) => ({
    tag: el.tagName.toLowerCase(), cls: String(el.className || ""),
    text: (el.textContent || el.value || "").trim().slice(0, 80), why,
  });
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    const text = ownText(el);
    if (!text) continue;
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    if (el.closest("[hidden]")) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;
    if (style.display !== "inline" && el.clientWidth > 0
        && el.scrollWidth > el.clientWidth + 1 && !scrolls(el)) {
      found.push(describe(el, `content ${el.scrollWidth}px wide in a ${el.clientWidth}px box`));
      continue;
    }
    if ((rect.right > width + 1 || rect.left < -1) && !inScroller(el)) {
      found.push(describe(el, `box from ${Math.round(rect.left)} to ${Math.round(rect.right)}px in a ${width}px window`));
    }
  }
  const page = document.documentElement.scrollWidth;
  if (page > window.innerWidth) {
    found.push({ tag: "html", cls: "", text: "", why: `page ${page}px wide in a ${window.innerWidth}px window` });
  }
  return found;
}
